"""The `truncation` input of the generate signatures and the compact outputs (uint8, PNG), over REST too."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kgan import sampling
from kgan.errors import ConfigError
from kgan.serving import rest
from kgan.export import saved_model as sm

from .fake_serving import FakeTFServing


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported.saved_model)


def _call(loaded, name, n, seed, psi=1.0):
    return loaded.signatures[name](num_images=tf.constant(n), seed=tf.constant(seed, tf.int64),
                                   truncation=tf.constant(psi, tf.float32))


def _session_run(path, name, feeds):
    """Runs a signature as TF Serving does: a session fed with only the inputs the request names."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = meta.signature_def[name]
        out = sig.outputs[sm.PNG_OUTPUT if name == sm.GENERATE_PNG else sm.OUTPUT].name
        return sess.run(out, {sig.inputs[k].name: v for k, v in feeds.items()})


def test_truncation_is_optional_with_default_1(exported):
    from tensorflow.python.tools import saved_model_utils

    meta = saved_model_utils.get_meta_graph_def(exported.saved_model, "serve")
    for name in (sm.GENERATE, sm.GENERATE_UINT8, sm.GENERATE_PNG):
        sig = meta.signature_def[name]
        assert set(sig.inputs) == {"num_images", "seed", "truncation"}
        assert set(sig.defaults) == {"truncation"} and tf.make_ndarray(sig.defaults["truncation"]) == 1.0
    assert not meta.signature_def[sm.SERVING_DEFAULT].defaults


def test_truncation_matches_gan_generate(exported, loaded, gan):
    plain = _session_run(exported.saved_model, sm.GENERATE, {"num_images": 6, "seed": 4})  # default applied
    assert np.abs(plain - gan.generate(6, seed=4)).max() <= 1e-5
    for psi in (0.0, 0.5, 0.7):
        got = _call(loaded, sm.GENERATE, 6, 4, psi)["images"].numpy()
        assert np.abs(got - gan.generate(6, seed=4, truncation=psi)).max() <= 1e-5
    fed = _session_run(exported.saved_model, sm.GENERATE, {"num_images": 6, "seed": 4, "truncation": 0.5})
    assert np.abs(fed - gan.generate(6, seed=4, truncation=0.5)).max() <= 1e-5
    # the restored function (tf.saved_model.load(...).generate) applies the default too
    assert np.abs(loaded.generate(num_images=tf.constant(6), seed=tf.constant(4, tf.int64))["images"].numpy()
                  - plain).max() == 0


@pytest.mark.parametrize("psi", [-0.1, 1.5, float("nan")])
def test_truncation_outside_0_1_is_invalid_argument(loaded, psi):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"truncation must be in \[0, 1\]"):
        _call(loaded, sm.GENERATE_UINT8, 2, 0, psi)


def test_uint8_and_png_are_the_float_images_rounded(loaded, gan):
    floats = _call(loaded, sm.GENERATE, 16, 9, 0.8)["images"].numpy()
    u8 = _call(loaded, sm.GENERATE_UINT8, 16, 9, 0.8)["images"].numpy()
    assert u8.dtype == np.uint8 and u8.shape == (16, 28, 28, 1)
    np.testing.assert_array_equal(u8, sampling.to_uint8(floats))  # same graph values, same rounding
    want = sampling.to_uint8(gan.generate(16, seed=9, truncation=0.8))
    assert np.abs(u8.astype(int) - want).max() <= 1  # float parity is 1e-5: at most one rounding step
    assert (u8 == want).mean() > 0.999
    pngs = _call(loaded, sm.GENERATE_PNG, 16, 9, 0.8)[sm.PNG_OUTPUT].numpy()
    assert pngs.shape == (16,) and all(p.startswith(b"\x89PNG") for p in pngs)
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(p)))[..., None] for p in pngs])
    np.testing.assert_array_equal(decoded, u8)


def test_rest_client_decodes_uint8_and_b64_png(exported, gan):
    with FakeTFServing("kgan", exported.saved_model) as server:
        client = rest.RestClient(server.url, "kgan")
        floats = client.generate(8, seed=3, truncation=0.6)
        u8 = client.generate(8, seed=3, truncation=0.6, output="uint8")
        png = client.generate(8, seed=3, truncation=0.6, output="png")
        plain = client.generate(8, seed=3)  # no truncation sent: the signature default applies
        body = server.requests[-1][2]
        assert "truncation" not in body["inputs"]
        png_body = server.handle("POST", "/v1/models/kgan:predict",
                                 rest.generate_request(2, 3, output="png"))[1]
    assert np.abs(floats - gan.generate(8, seed=3, truncation=0.6)).max() <= 1e-5
    assert np.abs(plain - gan.generate(8, seed=3)).max() <= 1e-5
    assert u8.dtype == np.uint8 and u8.shape == (8, 28, 28, 1)
    np.testing.assert_array_equal(u8, sampling.to_uint8(floats))
    np.testing.assert_array_equal(png, u8)
    assert set(png_body["outputs"][0]) == {"b64"}  # TF Serving's encoding of a *_bytes string output


def test_bad_compact_responses_are_serving_errors():
    with pytest.raises(rest.ServingError, match="b64"):
        rest.parse_images({"outputs": ["not an object"]}, "png")
    with pytest.raises(rest.ServingError, match="not a PNG"):
        rest.parse_images({"outputs": [{"b64": "aGVsbG8="}]}, "png")
    with pytest.raises(rest.ServingError, match=r"integers in \[0, 255\]"):
        rest.parse_images({"outputs": [[[[256]]]]}, "uint8")
    with pytest.raises(ConfigError, match="output format"):
        rest.generate_request(1, output="jpeg")


def test_wire_bytes_per_image(exported):
    """Bytes per 28x28x1 image on the wire, per format (the table in docs/serving.md comes from bench/serving_sizes.py)."""
    from bench import serving_sizes

    sizes = serving_sizes.measure(exported.saved_model, num_images=64)
    assert sizes["rest_png_b64"] < sizes["rest_uint8_json"] < sizes["rest_float_json"]
    # tensor_content: the pixels' bytes plus a few bytes of message per answer
    assert 28 * 28 <= sizes["grpc_uint8"] < 28 * 28 + 2 and 4 * 28 * 28 <= sizes["grpc_float32"] < 4 * 28 * 28 + 2
    assert sizes["grpc_uint8"] < sizes["grpc_uint8_fields"]  # varints: 2 bytes for pixels >= 128
    assert sizes["grpc_png"] < sizes["rest_png_b64"]
