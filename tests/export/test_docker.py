"""docker/: the files agree with what export.py writes and what the client asks for.

Docker cannot run on the test machine, so most checks read the files: the serving compose file
mounts the export base where models.config's base_path expects the model directory, with the
model name, ports and paths the exporter and the client use. The test that runs TF Serving for
real skips, saying why, when there is no Docker engine.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from .helpers import REPO

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read docker-compose.yml (pip install pyyaml)")

SERVING = REPO / "docker" / "serving"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((SERVING / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def model_config():
    """(name, base_path, platform) of each model in models.config (text protobuf)."""
    text = re.sub(r"#.*", "", (SERVING / "models.config").read_text())
    configs = re.findall(r"config\s*\{(.*?)\n  \}", text, flags=re.S)
    out = []
    for c in configs:
        fields = dict(re.findall(r'(\w+)\s*:\s*"([^"]*)"', c))
        out.append((fields["name"], fields["base_path"], fields["model_platform"]))
    return out


def _expand(value):
    """${VAR:-default} -> default (what compose uses when VAR is unset)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _mounts(service):
    out = {}
    for v in service["volumes"]:
        host, target, *_ = _expand(v).split(":")
        out[target] = host
    return out


def test_models_config_names_the_exported_model(model_config):
    import inspect

    from kgan import export

    assert model_config == [("kgan", "/models/kgan", "tensorflow")]
    assert inspect.signature(export.export_generator).parameters["model_name"].default == "kgan"


def test_compose_serves_the_export_base_on_8500_and_8501(compose, model_config):
    service = compose["services"]["serving"]
    assert _expand(service["image"]).startswith("tensorflow/serving:")
    assert {"8500:8500", "8501:8501"} <= {p.split("#")[0].strip() for p in service["ports"]}
    mounts = _mounts(service)
    # The export base is mounted at /models, so /models/<model_name>/<N>/ are export.py's versions.
    name, base_path, _ = model_config[0]
    assert base_path == f"/models/{name}" and mounts["/models"]
    default_base = os.path.normpath(SERVING / mounts["/models"])
    # = export.py's default export base for `--run_dir=runs/dcgan` (what flags/dcgan.cfg trains into)
    assert default_base == str(REPO / "runs" / "dcgan" / "export")
    config_target = next(t for t, h in mounts.items() if h.endswith("models.config"))
    assert (SERVING / mounts[config_target]).is_file()
    assert f"--model_config_file={config_target}" in service["command"]


def test_export_layout_maps_onto_the_container_paths(exported, model_config):
    name, base_path, _ = model_config[0]
    export_base = os.path.dirname(os.path.dirname(exported.version_dir))
    # What the container sees at base_path when export_base is mounted at /models:
    host_model_dir = os.path.join(export_base, os.path.relpath(base_path, "/models"))
    versions = [d for d in os.listdir(host_model_dir) if d.isdigit()]
    assert versions and all(os.path.isfile(os.path.join(host_model_dir, v, "saved_model.pb")) for v in versions)


def test_client_defaults_match_the_compose_file():
    text = (REPO / "kgan_cli" / "client.py").read_text()
    assert '"server", "http://localhost:8501"' in text and '"model", "kgan"' in text


def test_train_dockerfile_is_consistent():
    text = (REPO / "docker" / "train.Dockerfile").read_text()
    setup = (REPO / "setup.py").read_text()
    assert re.search(r"^ARG VARIANT=cpu$", text, flags=re.M)
    # The TensorFlow pins are setup.py's cpu / gpu extras.
    for pin in re.findall(r'"(tensorflow(?:-cpu|\[and-cuda\])[^"]*)"', text):
        assert f'"{pin}"' in setup, pin
    assert 'ENTRYPOINT ["python", "train.py"]' in text and 'VOLUME ["/runs"]' in text
    assert "--output_dir=/runs/" in text
    ignore = (REPO / "docker" / "train.Dockerfile.dockerignore").read_text().split()
    for src in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for path in src.split():
            assert (REPO / path).exists(), path
            assert f"!{path}" in ignore, f"{path} is excluded from the build context"


def _docker_engine():
    if not shutil.which("docker"):
        return "the docker CLI is not installed"
    r = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
        return f"no Docker engine: `docker info` failed ({lines[-1] if lines else r.returncode})"
    return None


def test_tf_serving_container_answers_the_client(exported, gan, compose, tmp_path):
    """Needs a Docker engine (and the tensorflow/serving image or network to pull it)."""
    reason = _docker_engine()
    if reason:
        pytest.skip(reason)
    from kgan.serving import rest

    image = _expand(compose["services"]["serving"]["image"])
    export_base = os.path.dirname(os.path.dirname(exported.version_dir))
    cid = subprocess.run(
        ["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8501", "-v", f"{export_base}:/models:ro",
         "-v", f"{SERVING / 'models.config'}:/config/models.config:ro", image,
         "--model_config_file=/config/models.config"],
        capture_output=True, text=True, timeout=600, check=True).stdout.strip()
    try:
        port = subprocess.run(["docker", "port", cid, "8501"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        client = rest.RestClient(f"http://127.0.0.1:{port}", "kgan", timeout=10)
        deadline = time.time() + 120
        while True:
            try:
                images = client.generate(4, seed=0)
                break
            except rest.ServingError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        assert abs(images - gan.generate(4, seed=0)).max() <= 1e-5
        z = gan.latents(3, seed=1)
        for fmt in ("instances", "inputs"):
            assert abs(client.predict(z, fmt) - gan.generate(3, latents=z)).max() <= 1e-5
        with pytest.raises(rest.ServingError, match="num_images must be in") as e:
            client.generate(0)
        assert e.value.status == 400
    finally:
        subprocess.run(["docker", "stop", cid], capture_output=True, timeout=120)


# TF Serving 2.19's BatchingParameters (tensorflow_serving/servables/tensorflow/session_bundle_config.proto):
# wrapper-typed fields are written `name { value: N }`, plain ones `name: N`.
_BATCHING_WRAPPED = {"max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads",
                     "thread_pool_name", "enable_large_batch_splitting", "max_execution_batch_size"}
_BATCHING_PLAIN = {"allowed_batch_sizes", "pad_variable_length_inputs"}


def _batching_parameters(path):
    text = re.sub(r"#.*", "", path.read_text())
    wrapped = dict(re.findall(r"(\w+)\s*\{\s*value:\s*(\S+)\s*\}", text))
    rest = re.sub(r"(\w+)\s*\{\s*value:\s*(\S+)\s*\}", "", text)
    plain = re.findall(r"(\w+)\s*:\s*(\S+)", rest)
    assert not re.sub(r"(\w+)\s*:\s*(\S+)", "", rest).strip(), "unparsed text in the batching parameters"
    return wrapped, plain


def test_batching_is_enabled_on_its_own_server(compose):
    services = compose["services"]
    plain, batched = services["serving"], services["serving-batched"]
    assert not any("--enable_batching" in c for c in plain["command"])  # generate* must keep working there
    assert "--enable_batching" in batched["command"]
    flag = next(c for c in batched["command"] if c.startswith("--batching_parameters_file="))
    target = flag.split("=", 1)[1]
    host = _mounts(batched)[target]
    wrapped, plain_fields = _batching_parameters(SERVING / host)
    assert set(wrapped) <= _BATCHING_WRAPPED and {k for k, _ in plain_fields} <= _BATCHING_PLAIN
    allowed = [int(v) for k, v in plain_fields if k == "allowed_batch_sizes"]
    # TF Serving refuses to start unless the last allowed size equals max_batch_size (bundle_factory_util.cc)
    assert allowed == sorted(allowed) and allowed[-1] == int(wrapped["max_batch_size"])
    assert {p.split(":")[-1] for p in batched["ports"]} == {"8500", "8501"}
    assert not {p.split(":")[0] for p in batched["ports"]} & {p.split(":")[0] for p in plain["ports"]}


def test_the_docs_name_the_batchable_signatures(exported):
    import json

    from kgan import export

    manifest = json.loads(open(os.path.join(exported.version_dir, export.MANIFEST)).read())
    batchable = {k for k, v in manifest["signatures"].items() if v["batchable"]}
    assert batchable == {"serving_default"}
    docs = " ".join((REPO / "docs" / "serving.md").read_text().split())  # lines are wrapped
    assert "Batching Run() input tensors must have at least one dimension" in docs
    assert "--profile batching" in docs


def test_image_tag_is_pinned(compose):
    for name, service in compose["services"].items():
        tag = _expand(service["image"]).split(":", 1)[1]
        assert re.fullmatch(r"\d+\.\d+\.\d+(-gpu)?", tag), (name, tag)


def test_models_config_parses_as_tf_servings_model_server_config():
    pytest.importorskip("tensorflow_serving.config.model_server_config_pb2",
                        reason="tensorflow-serving-api not installed")
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse((SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("kgan", "/models/kgan", "tensorflow")
