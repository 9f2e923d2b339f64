"""The TF Serving SavedModel: layout, signatures, parity with the in-memory generator, `generate` checks."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from kgan import export

from .helpers import LATENT_DIM


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported.saved_model)


def test_tf_serving_layout_and_manifest(exported):
    base = os.path.dirname(os.path.dirname(exported.version_dir))
    assert exported.version == 1
    assert exported.version_dir == os.path.join(base, "kgan", "1")
    assert os.path.isfile(os.path.join(exported.version_dir, "saved_model.pb"))
    assert os.path.isfile(os.path.join(exported.version_dir, "variables", "variables.index"))
    assert sorted(os.listdir(base)) == ["kgan"]  # no temporary directory left behind
    manifest = json.load(open(os.path.join(exported.version_dir, export.MANIFEST)))
    assert manifest["version"] == 1 and manifest["model_name"] == "kgan"
    assert manifest["latent_dim"] == LATENT_DIM and manifest["image_shape"] == [28, 28, 1]
    assert set(manifest["signatures"]) == set(export.SIGNATURES)
    assert set(manifest["tflite"]) == set(export.TFLITE_VARIANTS) == set(exported.tflite)
    for variant, entry in manifest["tflite"].items():
        assert os.path.getsize(os.path.join(exported.version_dir, entry["file"])) == entry["bytes"]
    # readable by a server running as another user (mkdtemp alone would leave it 0700)
    assert os.stat(exported.version_dir).st_mode & 0o055 == 0o055 & ~_umask()


def test_weights_are_stored_once(exported, gan):
    data = [f for f in os.listdir(os.path.join(exported.version_dir, "variables")) if f.startswith("variables.data")]
    stored = sum(os.path.getsize(os.path.join(exported.version_dir, "variables", f)) for f in data)
    weights = 4 * gan.generator.count_params()  # float32, BatchNorm statistics included
    assert weights <= stored < 1.1 * weights + 4096


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_signatures_and_shapes(loaded):
    sd = loaded.signatures["serving_default"]
    assert set(loaded.signatures) == {"serving_default", "generate", "generate_uint8", "generate_png"}
    _, inputs = sd.structured_input_signature
    assert inputs["latent"].shape.as_list() == [None, LATENT_DIM] and inputs["latent"].dtype == tf.float32
    assert sd.structured_outputs["images"].shape.as_list() == [None, 28, 28, 1]
    _, gen_inputs = loaded.signatures["generate"].structured_input_signature
    assert gen_inputs["num_images"].shape.rank == 0 and gen_inputs["num_images"].dtype == tf.int32
    assert gen_inputs["seed"].shape.rank == 0 and gen_inputs["seed"].dtype == tf.int64


def test_parity_with_in_memory_generator(loaded, gan):
    z = gan.latents(32, seed=7)
    want = gan.generate(32, latents=z)
    got = loaded.signatures["serving_default"](latent=tf.constant(z))["images"].numpy()
    assert got.shape == (32, 28, 28, 1)
    assert np.abs(got - want).max() <= 1e-5
    assert got.min() >= 0.0 and got.max() <= 1.0
    assert want.std() > 0.1, "the trained generator should draw strokes, not flat grey"


def test_inference_mode_batchnorm(loaded):
    # With BatchNorm in training mode an image would depend on the rest of its batch.
    z = tf.constant(export.latents(8, LATENT_DIM, seed=3))
    sd = loaded.signatures["serving_default"]
    alone = sd(latent=z[:1])["images"].numpy()
    in_batch = sd(latent=z)["images"].numpy()[:1]
    assert np.abs(alone - in_batch).max() <= 1e-6


def test_generate_signature_matches_gan_generate(loaded, gan):
    gen = loaded.generate  # the restored function applies the default truncation=1.0
    a = gen(num_images=tf.constant(6), seed=tf.constant(11, tf.int64))["images"].numpy()
    b = gen(num_images=tf.constant(6), seed=tf.constant(11, tf.int64))["images"].numpy()
    c = gen(num_images=tf.constant(6), seed=tf.constant(12, tf.int64))["images"].numpy()
    assert a.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(a, b)  # same seed, same images
    assert np.abs(a - c).max() > 0.1  # another seed, other images
    assert np.abs(a - gan.generate(6, seed=11)).max() <= 1e-5  # the latents GAN.generate draws
    np.testing.assert_array_equal(export.latents(6, LATENT_DIM, 11), gan.latents(6, seed=11))


@pytest.mark.parametrize("num_images", [0, -3, 1025, 2**31 - 1])
def test_generate_rejects_num_images_outside_1_to_1024(loaded, num_images):
    gen = loaded.generate
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_images must be in \[1, 1024\]"):
        gen(num_images=tf.constant(num_images), seed=tf.constant(0, tf.int64))
    assert gen(num_images=tf.constant(1024), seed=tf.constant(0, tf.int64))["images"].shape[0] == 1024


def test_loads_and_runs_without_kgan(exported, gan, tmp_path):
    z = gan.latents(5, seed=2)
    np.save(tmp_path / "z.npy", z)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        m = tf.saved_model.load({exported.saved_model!r})
        z = np.load({str(tmp_path / "z.npy")!r})
        images = m.signatures["serving_default"](latent=tf.constant(z))["images"].numpy()
        gen = m.generate(num_images=tf.constant(5), seed=tf.constant(2, tf.int64))["images"].numpy()
        np.savez({str(tmp_path / "out.npz")!r}, images=images, gen=gen)
        assert "kgan" not in sys.modules, "kgan was imported"
        print("KGAN_IMPORTED", any(k == "kgan" or k.startswith("kgan.") for k in sys.modules))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"},
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "KGAN_IMPORTED False" in r.stdout
    out = np.load(tmp_path / "out.npz")
    want = gan.generate(5, latents=z)
    assert np.abs(out["images"] - want).max() <= 1e-5
    assert np.abs(out["gen"] - want).max() <= 1e-5


def test_saved_model_cli_lists_both_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    cmd = [cli] if os.path.exists(cli) else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    r = subprocess.run([*cmd, "show", "--all", "--dir", exported.saved_model], capture_output=True, text=True,
                       timeout=180, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "signature_def['serving_default']" in r.stdout
    assert "signature_def['generate']" in r.stdout
    assert "inputs['latent']" in r.stdout and f"shape: (-1, {LATENT_DIM})" in r.stdout
    assert "inputs['num_images']" in r.stdout and "inputs['seed']" in r.stdout
    assert "outputs['images']" in r.stdout and "shape: (-1, 28, 28, 1)" in r.stdout
