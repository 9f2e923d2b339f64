"""The REST client against a fake TF Serving (documented JSON formats), and kgan-client (kgan_cli/client.py)
end to end."""

import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kgan import export
from kgan.errors import ConfigError
from kgan.serving import rest
from tests import forkserver

from .fake_serving import FakeTFServing
from .helpers import LATENT_DIM, REPO, assert_one_line_error


@pytest.fixture(scope="module")
def server(exported):
    with FakeTFServing("kgan", exported.saved_model) as s:
        yield s


# ------------------------------------------------------------- request / response JSON
def test_request_bodies_follow_tf_serving_formats():
    z = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    assert rest.latents_request(z, "instances") == {
        "signature_name": "serving_default",
        "instances": [{"latent": [0.0, 0.25, 0.5]}, {"latent": [0.75, 1.0, 1.25]}],
    }
    assert rest.latents_request(z, "inputs") == {
        "signature_name": "serving_default",
        "inputs": {"latent": [[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]},
    }
    assert rest.generate_request(16, 3) == {"signature_name": "generate", "inputs": {"num_images": 16, "seed": 3}}
    with pytest.raises(ConfigError, match="unknown request format 'rows'"):
        rest.latents_request(z, "rows")
    assert rest.model_url("http://h:8501/", "kgan") == "http://h:8501/v1/models/kgan"
    assert rest.model_url("http://h:8501", "kgan", 2) == "http://h:8501/v1/models/kgan/versions/2"


def test_all_documented_response_shapes_parse():
    img = np.random.RandomState(0).rand(2, 3, 3, 1).astype(np.float32)
    rows = img.tolist()
    for body in ({"predictions": rows},                                  # row format, one output
                 {"predictions": [{"images": r} for r in rows]},          # row format, named outputs
                 {"outputs": rows},                                       # columnar, one output
                 {"outputs": {"images": rows}}):                          # columnar, named outputs
        np.testing.assert_array_equal(rest.parse_images(body), img)
    for body, message in [({"error": "boom"}, "server error: boom"),
                          ({"outputs": {"logits": rows}}, "no 'images' output"),
                          ({"predictions": [{"logits": r} for r in rows]}, "no 'images' output"),
                          ({"result": rows}, "no 'outputs' or 'predictions'"),
                          ({"outputs": [1.0, 2.0]}, r"must be \[batch, H, W, C\]"),
                          ([1, 2], "expected a JSON object")]:
        with pytest.raises(rest.ServingError, match=message):
            rest.parse_images(body)


# -------------------------------------------------------------- against the fake server
def test_generate_and_predict_round_trip(server, gan):
    client = rest.RestClient(server.url, "kgan")
    want = gan.generate(4, seed=9)
    assert np.abs(client.generate(4, seed=9) - want).max() <= 1e-5
    assert client.latent_dim() == LATENT_DIM
    z = export.latents(4, LATENT_DIM, seed=9)
    for fmt in ("instances", "inputs"):
        assert np.abs(client.predict(z, fmt) - want).max() <= 1e-5
    posts = [body for method, _, body in server.requests if method == "POST"]
    assert posts[-2]["instances"][0]["latent"] == z[0].tolist()
    assert posts[-1]["inputs"]["latent"] == z.tolist()
    assert ("GET", "/v1/models/kgan/metadata", None) in server.requests


def test_named_output_responses(exported, gan):
    with FakeTFServing("kgan", exported.saved_model, named_outputs=True) as s:
        client = rest.RestClient(s.url, "kgan", version=1)
        z = export.latents(3, LATENT_DIM, seed=1)
        for fmt in ("instances", "inputs"):
            assert np.abs(client.predict(z, fmt) - gan.generate(3, latents=z)).max() <= 1e-5


def test_server_errors_are_serving_errors(server):
    client = rest.RestClient(server.url, "kgan")
    with pytest.raises(rest.ServingError, match=r"HTTP 400: .*num_images must be in \[1, 1024\]") as e:
        client.generate(1025)
    assert e.value.status == 400
    with pytest.raises(rest.ServingError, match="HTTP 400") as e:  # wrong width, rejected by the signature
        client.predict(np.zeros((2, LATENT_DIM + 1), np.float32))
    with pytest.raises(rest.ServingError, match="HTTP 404: Servable not found") as e:
        rest.RestClient(server.url, "nope").generate(1)
    assert e.value.status == 404
    with pytest.raises(rest.ServingError, match="cannot reach") as e:
        rest.RestClient(f"http://127.0.0.1:{_free_port()}", "kgan", timeout=5).generate(1)
    assert e.value.status is None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------- kgan-client
def _client_cmd(*args):
    return [sys.executable, "-m", "kgan_cli.client", *args]


def _run_all(cmds, timeout=240):
    """Runs the commands one after another, each in a child forked with TensorFlow imported (tests/forkserver.py)."""
    return [forkserver.run_cmd(c, timeout=timeout) for c in cmds]


def _png(path):
    return np.asarray(Image.open(path), dtype=np.int16)


def test_client_cli_server_and_tflite_give_the_same_grid(server, exported, tmp_path):
    runs = _run_all([
        _client_cmd(f"--server={server.url}", "--model=kgan", "-n", "16", "--seed", "0", "--out",
                    str(tmp_path / "generate.png")),
        _client_cmd(f"--server={server.url}", "-n", "16", "--seed=0", "--signature=serving_default",
                    "--request_format=instances", f"--out={tmp_path / 'instances.png'}"),
        _client_cmd(f"--tflite={exported.tflite['float32']}", "-n", "16", "--seed", "0", "--out",
                    str(tmp_path / "tflite.png")),
    ])
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
        assert "wrote" in r.stdout and "16 images 28x28x1" in r.stdout
    a, b, c = (_png(tmp_path / n) for n in ("generate.png", "instances.png", "tflite.png"))
    assert a.shape == (122, 122)  # 4x4 grid of 28x28 with 2-pixel padding
    assert np.abs(a - b).max() <= 1 and np.abs(a - c).max() <= 1
    assert a.std() > 20  # digits, not a flat image


def test_client_cli_bad_input_is_one_line_exit_2(server, exported, tmp_path):
    np.save(tmp_path / "narrow.npy", np.zeros((4, 7), np.float32))
    cases = [
        (["--server", server.url, f"--latents={tmp_path / 'narrow.npy'}"],
         "latents have width 7, but model 'kgan' takes latent_dim=16"),
        ([f"--tflite={exported.tflite['int8_dynamic']}", f"--latents={tmp_path / 'narrow.npy'}"],
         "latents must have shape [batch >= 1, 16]"),
        (["--server", server.url, "-n", "0"], "num_images must be at least 1"),
        (["--server", server.url, "-n", "1025"], "num_images must be in [1, 1024]"),  # the signature says so
        ([f"--tflite={exported.tflite['float32']}", "-n", "1025"], "num_images must be an integer in [1, 1024]"),
        (["--server", server.url, "--request_format=instances"], "--request_format=instances needs"),
        ([f"--tflite={tmp_path / 'missing.tflite'}"], "does not exist"),
    ]
    runs = _run_all([_client_cmd(*args, f"--out={tmp_path / 'never.png'}") for args, _ in cases])
    for (args, message), r in zip(cases, runs):
        assert_one_line_error(r, message)
    assert not (tmp_path / "never.png").exists()


def test_client_cli_unreachable_server_is_one_line_exit_1(tmp_path):
    (r,) = _run_all([_client_cmd(f"--server=http://127.0.0.1:{_free_port()}", "--timeout=5",
                                 f"--out={tmp_path / 'g.png'}")])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1 and "cannot reach" in lines[0], r.stderr


def test_the_request_bodies_in_docs_serving_md_work(server):
    """Every `curl ... -d '<json>'` and `python3 -c '...' > file.json` request in docs/serving.md."""
    import json
    import re
    import urllib.request

    text = (REPO / "docs" / "serving.md").read_text()
    bodies = [json.loads(b) for b in re.findall(r":predict\s+(?:\\\n\s*)?-d '(\{.*?\})'", text)]
    for snippet in re.findall(r"python3 -c '(.*?)' > \w+\.json", text):
        out = subprocess.run([sys.executable, "-c", snippet.replace("range(100)", f"range({LATENT_DIM})")],
                             capture_output=True, text=True, check=True).stdout
        bodies.append(json.loads(out))
    assert len(bodies) == 5, bodies
    for body in bodies:
        req = urllib.request.Request(server.url + "/v1/models/kgan:predict", data=json.dumps(body).encode(),
                                     method="POST")
        output = {"generate_png": "png", "generate_uint8": "uint8"}.get(body.get("signature_name"), "float32")
        with urllib.request.urlopen(req, timeout=60) as resp:
            images = rest.parse_images(json.loads(resp.read()), output)
        assert images.shape[1:] == (28, 28, 1)


# ------------------------------------------- kgan-client: options, addresses and --out checked on every path
@pytest.fixture(scope="module")
def conditional_tflite(tmp_path_factory):
    """The float32 TFLite file of an untrained 3-class generator (random weights: only the label input matters)."""
    import keras

    import kgan

    keras.utils.set_random_seed(1)
    g = kgan.nets.cdcgan_generator(latent_dim=8, num_classes=3, filters=(16, 8, 4))
    d = kgan.nets.cdcgan_discriminator(num_classes=3, filters=(4, 8))
    gan = kgan.GAN(g, d, latent_dim=8, num_classes=3)
    return export.export_generator(gan, tmp_path_factory.mktemp("cexports"), tflite_variants=("float32",)).tflite[
        "float32"]


def test_client_cli_refuses_what_the_tflite_path_cannot_honour(server, exported, conditional_tflite, tmp_path):
    """--truncation (in range or not), --output and --label are checked on the TFLite path too, not dropped."""
    int8 = f"--tflite={exported.tflite['int8_dynamic']}"
    cases = [
        ([int8, "-n", "16", "--truncation=0.7"], ["--truncation=0.7 needs a server"]),
        ([int8, "-n", "16", "--truncation=2"], ["--truncation=2 is outside [0, 1]"]),
        ([f"--server={server.url}", "-n", "4", "--truncation=2"], ["--truncation=2 is outside [0, 1]"]),
        ([f"--server={server.url}", "-n", "4", "--truncation=-0.5"], ["--truncation=-0.5 is outside [0, 1]"]),
        ([int8, "-n", "4", "--output=png"], ["--output=png", "--tflite answers float32"]),
        ([int8, "-n", "4", "--label=3"], ["--label=3", "is not a conditional generator"]),
        ([int8, "--grpc=localhost:8500", "-n", "4"], ["--grpc and --tflite are different back ends"]),
        ([f"--tflite={conditional_tflite}", "-n", "4", "--label=3"], ["labels [3] are not classes", "[0, 2]"]),
        ([f"--tflite={conditional_tflite}", "-n", "4", "--label=-3"], ["--label=-3 is not a class", "-1 to cycle"]),
        ([f"--tflite={conditional_tflite}", "-n", "4", "--label=3", "--num_classes=3"],
         ["--label=3 is not a class", "at most 2"]),
    ]
    runs = _run_all([_client_cmd(*args, f"--out={tmp_path / 'never.png'}") for args, _ in cases])
    for (args, fragments), r in zip(cases, runs):
        assert_one_line_error(r, *fragments)
    assert not (tmp_path / "never.png").exists()
    # Without --label the classes cycle: their number comes from the export's manifest beside the file.
    oks = _run_all([_client_cmd(f"--tflite={conditional_tflite}", "-n", "4", *label, f"--out={tmp_path / name}")
                    for label, name in ((["--label=2"], "ok.png"), ([], "cycled.png"))])
    for ok, name in zip(oks, ("ok.png", "cycled.png")):
        assert ok.returncode == 0 and (tmp_path / name).exists(), ok.stderr[-2000:]
        assert "XNNPACK" not in ok.stderr  # the runtime's per-interpreter INFO line says nothing to a user


def test_rest_client_takes_only_http_urls():
    for bad in ("notaurl", "localhost:8501", "ftp://host", "http://", "http://localhost:abc"):
        with pytest.raises(ConfigError, match=f"server '{bad}' is not an http:// or https:// URL"):
            rest.RestClient(bad, "kgan")
    for good in ("http://localhost:8501", "https://example.com", "http://[::1]:8501/"):
        assert rest.RestClient(good, "kgan").url.endswith("/v1/models/kgan")


def test_client_cli_bad_server_address_is_one_line_exit_2(tmp_path):
    cases = [
        (["--server=notaurl"], ["server 'notaurl' is not an http:// or https:// URL", "http://localhost:8501"]),
        (["--server=localhost:8501", "--signature=serving_default"], ["server 'localhost:8501' is not an http"]),
        (["--grpc=http://localhost:8500"], ["gRPC target 'http://localhost:8500' is a URL", "host:port"]),
        (["--model=a b"], ["cannot ask", "a b"]),  # a URL urllib refuses, before any connection
    ]
    runs = _run_all([_client_cmd(*args, "-n", "4", "--timeout=5", f"--out={tmp_path / 'never.png'}")
                     for args, _ in cases])
    for (args, fragments), r in zip(cases, runs):
        assert_one_line_error(r, *fragments)
    assert not (tmp_path / "never.png").exists()


def test_client_cli_unwritable_out_is_one_line(exported, tmp_path):
    """--out under a file or on a directory: exit 2 before anything runs; a write the OS refuses: exit 1. Nothing
    that was there is changed."""
    (tmp_path / "s.npz").write_bytes(b"samples")
    (tmp_path / "d").mkdir()
    tfl = f"--tflite={exported.tflite['float32']}"
    long_name = tmp_path / ("a" * 300 + ".png")  # longer than NAME_MAX: only the write itself finds out
    under_file, on_dir, too_long = _run_all([
        _client_cmd(tfl, "-n", "4", f"--out={tmp_path / 's.npz' / 'g.png'}"),
        _client_cmd(tfl, "-n", "4", f"--out={tmp_path / 'd'}"),
        _client_cmd(tfl, "-n", "4", f"--out={long_name}"),
    ])
    assert_one_line_error(under_file, f"--out={tmp_path / 's.npz' / 'g.png'}", f"{tmp_path / 's.npz'} is a file")
    assert_one_line_error(on_dir, f"--out={tmp_path / 'd'} is a directory")
    lines = [ln for ln in too_long.stderr.splitlines() if ln.strip()]
    assert too_long.returncode == 1 and len(lines) == 1 and "Traceback" not in too_long.stderr, too_long.stderr
    assert f"cannot write {long_name}: File name too long" in lines[0]
    assert (tmp_path / "s.npz").read_bytes() == b"samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "s.npz"] and not any((tmp_path / "d").iterdir())


def test_client_docstring_names_the_real_module():
    """`python -m X` in kgan_cli/client.py's docstring runs: X is an importable module (read, not imported: the
    client's absl flags would clash with other kgan_cli modules' in this process)."""
    import ast
    import importlib.util
    import re

    doc = ast.get_docstring(ast.parse((REPO / "kgan_cli" / "client.py").read_text()))
    modules = re.findall(r"python -m ([\w.]+)", doc)
    assert modules == ["kgan_cli.client"], modules
    assert importlib.util.find_spec(modules[0]) is not None
