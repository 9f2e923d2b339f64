"""TFLite variants against the SavedModel on the same latents, fixed batch, and the runner's checks."""

import numpy as np
import pytest
import tensorflow as tf

from kgan import export, serving
from kgan.errors import ConfigError

from .helpers import LATENT_DIM

N = 64


@pytest.fixture(scope="module")
def reference(exported):
    """Latents and the SavedModel's images for them."""
    z = export.latents(N, LATENT_DIM, seed=5)
    sd = tf.saved_model.load(exported.saved_model).signatures["serving_default"]
    return z, sd(latent=tf.constant(z))["images"].numpy()


def _correlations(a, b):
    """Pearson correlation of every image in `a` with every image in `b`: [len(a), len(b)]."""
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    b = (b - b.mean(1, keepdims=True)) / b.std(1, keepdims=True)
    return a @ b.T / a.shape[1]


def _run(exported, variant, z):
    return serving.TFLiteGenerator(exported.tflite[variant])(z)


def test_float32_matches_saved_model(exported, reference):
    z, want = reference
    got = _run(exported, "float32", z)
    assert got.shape == want.shape == (N, 28, 28, 1)
    assert np.abs(got - want).max() <= 1e-4


def test_float16_matches_saved_model(exported, reference):
    z, want = reference
    assert np.abs(_run(exported, "float16", z) - want).mean() <= 1e-2


@pytest.mark.parametrize("variant", ["int8_dynamic", "int8_full"])
def test_int8_keeps_each_image(exported, reference, variant):
    z, want = reference
    got = _run(exported, variant, z)
    assert np.abs(got - want).mean() <= 0.05
    corr = _correlations(got, want)
    twin = np.diag(corr)
    assert twin.min() >= 0.95, f"an int8 image lost its structure: correlation {twin.min():.3f}"
    # Each int8 image is nearest to its own float twin, not to another sample...
    assert (corr.argmax(axis=1) == np.arange(N)).all()
    # ...and the check has teeth: different samples correlate far less than 0.95, so a broken
    # quantization (e.g. blobs all alike, or shuffled outputs) would fail it.
    others = corr[~np.eye(N, dtype=bool)]
    assert np.median(others) < 0.6, np.median(others)


def test_int8_files_are_smaller(exported):
    # Loose bounds: on this tiny net fixed overhead (graph, per-channel quantization scales) weighs
    # a lot; bench/inference.py measures the full DCGAN generator, where int8 is ~27% of float32.
    sizes = exported.sizes
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["int8_dynamic"] < 0.5 * sizes["float32"]
    assert sizes["int8_full"] < 0.6 * sizes["float32"]


def _op_names(path):
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()}


def test_fixed_batch_has_no_dynamic_shape_ops(gan, exported, reference, tmp_path):
    r = export.export_generator(gan, tmp_path, formats=("tflite",), fixed_batch=4, tflite_variants=("float32",))
    dynamic_ops = {"SHAPE", "PACK", "STRIDED_SLICE"}
    assert dynamic_ops <= _op_names(exported.tflite["float32"])  # what GPU delegates reject
    assert not dynamic_ops & _op_names(r.tflite["float32"])
    run = serving.TFLiteGenerator(r.tflite["float32"])
    assert run.fixed_batch == 4 and run.latent_dim == LATENT_DIM and run.image_shape == (28, 28, 1)
    z, want = reference
    got = run(z[:10])  # 10 = two full batches of 4 + one padded
    assert got.shape == (10, 28, 28, 1)
    assert np.abs(got - want[:10]).max() <= 1e-4
    assert r.to_dict()["sizes"]["float32"] > 0


def test_runner_generate_matches_gan_generate(exported, gan):
    run = serving.TFLiteGenerator(exported.tflite["float32"], num_threads=1)
    assert np.abs(run.generate(9, seed=4) - gan.generate(9, seed=4)).max() <= 1e-4
    run(np.zeros((3, LATENT_DIM)))  # batch size changes are fine
    assert run(np.zeros((1, LATENT_DIM))).shape == (1, 28, 28, 1)


@pytest.mark.parametrize("latents, message", [
    (np.zeros((4, LATENT_DIM + 1), np.float32), r"latents must have shape \[batch >= 1, 16\].*got \[4, 17\]"),
    (np.zeros((4, 3), np.float32), r"got \[4, 3\]"),
    (np.zeros((LATENT_DIM,), np.float32), r"got \[16\]"),
    (np.zeros((0, LATENT_DIM), np.float32), r"got \[0, 16\]"),
])
def test_runner_rejects_wrong_latents(exported, latents, message):
    with pytest.raises(ConfigError, match=message):
        serving.TFLiteGenerator(exported.tflite["float32"])(latents)


@pytest.mark.parametrize("n", [0, -1, 1025])
def test_runner_generate_rejects_num_images(exported, n):
    with pytest.raises(ConfigError, match=r"num_images must be an integer in \[1, 1024\]"):
        serving.TFLiteGenerator(exported.tflite["float32"]).generate(n)


def test_runner_generate_takes_the_exports_max_images(gan, tmp_path):
    """`generate`'s cap is the export's `max_images` (its manifest beside the file), not always 1024."""
    r = export.export_generator(gan, tmp_path, formats=("tflite",), tflite_variants=("float32",), max_images=1100)
    run = serving.TFLiteGenerator(r.tflite["float32"])
    assert run.max_images == 1100
    assert run.generate(1100, seed=2).shape == (1100, 28, 28, 1)
    with pytest.raises(ConfigError, match=r"num_images must be an integer in \[1, 1100\]"):
        run.generate(1101)


def test_runner_rejects_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        serving.TFLiteGenerator(tmp_path / "nope.tflite")
    (tmp_path / "bad.tflite").write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ConfigError, match="not a valid TFLite model"):
        serving.TFLiteGenerator(tmp_path / "bad.tflite")
