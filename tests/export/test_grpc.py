"""kgan.serving.grpc against an in-process PredictionService built from TF Serving's own protos.

`tensorflow-serving-api` is a test-only dependency (its wheel requires the `tensorflow` GPU wheel,
so .ci/run installs it with --no-deps); without it these tests skip and say so.
"""

import numpy as np
import pytest

from kgan import sampling
from kgan.errors import ConfigError
from kgan.serving import rest
from kgan.serving import grpc as grpc_lib

pytest.importorskip("tensorflow_serving.apis.predict_pb2",
                    reason="tensorflow-serving-api not installed: pip install --no-deps 'tensorflow-serving-api>=2.21'")
from tensorflow_serving.apis import model_pb2, predict_pb2  # noqa: E402

from .fake_grpc_serving import FakeGrpcServing  # noqa: E402


def _fields(message_cls):
    return {f.name: (f.number, f.type, f.label if hasattr(f, "label") else None,
                     f.message_type.full_name.split(".")[-1] if f.message_type else None)
            for f in message_cls.DESCRIPTOR.fields}


@pytest.mark.parametrize("ours, theirs", [(grpc_lib.ModelSpec, model_pb2.ModelSpec),
                                          (grpc_lib.PredictRequest, predict_pb2.PredictRequest),
                                          (grpc_lib.PredictResponse, predict_pb2.PredictResponse)])
def test_declared_messages_match_tf_servings(ours, theirs):
    mine, official = _fields(ours), _fields(theirs)
    assert mine.items() <= official.items(), (mine, official)  # same numbers, types and nested types
    if ours is grpc_lib.PredictResponse:
        assert mine == official


def test_request_bytes_decode_with_tf_servings_protos():
    import tensorflow as tf

    z = np.random.default_rng(0).standard_normal((3, 5)).astype("float32")
    request = grpc_lib.predict_request("kgan", "serving_default", {"latent": z, "label": np.arange(3, dtype="int32")},
                                       version=7)
    decoded = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert decoded.model_spec.name == "kgan" and decoded.model_spec.version.value == 7
    assert decoded.model_spec.signature_name == "serving_default"
    assert decoded.inputs["latent"].tensor_content == z.tobytes()  # raw bytes, no float_val
    assert not decoded.inputs["latent"].float_val
    np.testing.assert_array_equal(tf.make_ndarray(decoded.inputs["latent"]), z)
    np.testing.assert_array_equal(tf.make_ndarray(decoded.inputs["label"]), np.arange(3))


@pytest.fixture(scope="module")
def server(exported):
    with FakeGrpcServing("kgan", exported.saved_model) as s:
        yield s


def test_generate_and_predict_match_the_gan(server, gan):
    with grpc_lib.GrpcClient(server.target, "kgan") as client:
        images = client.generate(8, seed=5)
        assert "truncation" not in server.requests[-1].inputs  # the SignatureDef default applies
        truncated = client.generate(8, seed=5, truncation=0.6)
        u8 = client.generate(8, seed=5, truncation=0.6, output="uint8")
        png = client.generate(8, seed=5, truncation=0.6, output="png")
        z = gan.latents(4, seed=2)
        predicted = client.predict(z)
    assert server.requests[-1].inputs["latent"].tensor_content == z.tobytes()
    assert np.abs(images - gan.generate(8, seed=5)).max() <= 1e-5
    assert np.abs(truncated - gan.generate(8, seed=5, truncation=0.6)).max() <= 1e-5
    assert u8.dtype == np.uint8 and u8.shape == (8, 28, 28, 1)
    np.testing.assert_array_equal(u8, sampling.to_uint8(truncated))
    np.testing.assert_array_equal(png, u8)
    assert np.abs(predicted - gan.generate(4, latents=z)).max() <= 1e-5


def test_same_answers_as_rest(server, exported):
    from .fake_serving import FakeTFServing

    with FakeTFServing("kgan", exported.saved_model) as http, grpc_lib.GrpcClient(server.target) as client:
        np.testing.assert_array_equal(client.generate(4, seed=1, output="png"),
                                      rest.RestClient(http.url).generate(4, seed=1, output="png"))


def test_errors_are_serving_errors_with_a_status(server):
    with grpc_lib.GrpcClient(server.target, "kgan") as client:
        with pytest.raises(rest.ServingError, match=r"num_images must be in \[1, 1024\]") as e:
            client.generate(2000)
        assert e.value.status == 400
        with pytest.raises(rest.ServingError, match=r"truncation must be in \[0, 1\]"):
            client.generate(2, truncation=2.0)
        with pytest.raises(ConfigError, match="output format"):
            client.generate(2, output="jpeg")
    with grpc_lib.GrpcClient(server.target, "other") as client:
        with pytest.raises(rest.ServingError, match="NOT_FOUND") as e:
            client.generate(2)
        assert e.value.status == 404


def test_unreachable_server_is_a_serving_error_without_status():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with grpc_lib.GrpcClient(f"127.0.0.1:{port}", timeout=5) as client:
        with pytest.raises(rest.ServingError, match="cannot reach") as e:
            client.generate(1)
    assert e.value.status is None


def test_client_cli_over_grpc_gives_the_rest_grid(server, exported, tmp_path):
    from PIL import Image

    from .fake_serving import FakeTFServing
    from .test_client import _client_cmd, _run_all

    with FakeTFServing("kgan", exported.saved_model) as http:
        runs = _run_all([
            _client_cmd(f"--grpc={server.target}", "-n", "9", "--seed=2", "--output=png", "--truncation=0.8",
                        f"--out={tmp_path / 'grpc.png'}"),
            _client_cmd(f"--server={http.url}", "-n", "9", "--seed=2", "--truncation=0.8",
                        f"--out={tmp_path / 'rest.png'}"),
        ])
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
    a, b = (np.asarray(Image.open(tmp_path / n), dtype=np.int16) for n in ("grpc.png", "rest.png"))
    assert a.shape == b.shape and np.abs(a - b).max() <= 1
