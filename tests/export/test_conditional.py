"""Exporting a class-conditional generator: the `label` inputs, their checks, SavedModel and TFLite parity."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export, serving
from kgan.errors import ConfigError

LATENT_DIM = 8
NUM_CLASSES = 3


@pytest.fixture(scope="module")
def cgan():
    """An untrained conditional GAN: random weights are enough for parity (no learning is checked here)."""
    keras.utils.set_random_seed(1)
    g = kgan.nets.cdcgan_generator(latent_dim=LATENT_DIM, num_classes=NUM_CLASSES, filters=(16, 8, 4))
    d = kgan.nets.cdcgan_discriminator(num_classes=NUM_CLASSES, filters=(4, 8))
    return kgan.GAN(g, d, latent_dim=LATENT_DIM, num_classes=NUM_CLASSES)


@pytest.fixture(scope="module")
def cexported(cgan, tmp_path_factory):
    return export.export_generator(cgan, tmp_path_factory.mktemp("cexports"),
                                   tflite_variants=("float32", "int8_dynamic"))


@pytest.fixture(scope="module")
def cloaded(cexported):
    return tf.saved_model.load(cexported.saved_model)


def test_signatures_take_labels(cexported, cloaded):
    _, inputs = cloaded.signatures["serving_default"].structured_input_signature
    assert set(inputs) == {"latent", "label"} and inputs["label"].dtype == tf.int32
    assert inputs["label"].shape.as_list() == [None]
    _, gen_inputs = cloaded.signatures["generate"].structured_input_signature
    assert set(gen_inputs) == {"num_images", "seed", "label", "truncation"} and gen_inputs["label"].shape.rank == 0
    manifest = json.load(open(os.path.join(cexported.version_dir, export.MANIFEST)))
    assert manifest["num_classes"] == NUM_CLASSES == cexported.num_classes
    assert "label" in manifest["signatures"]["serving_default"]["inputs"]


def test_serving_default_matches_gan_generate(cgan, cloaded):
    z = cgan.latents(6, seed=3)
    labels = np.array([2, 0, 1, 1, 2, 0], np.int32)
    want = cgan.generate(6, latents=z, labels=labels)
    got = cloaded.signatures["serving_default"](latent=tf.constant(z), label=tf.constant(labels))["images"].numpy()
    assert np.abs(got - want).max() <= 1e-5
    # the label matters: another class gives another image for the same latent
    other = cgan.generate(6, latents=z, labels=(labels + 1) % NUM_CLASSES)
    assert np.abs(other - want).max() > 1e-3


def test_generate_cycles_or_fixes_the_class(cgan, cloaded):
    gen = cloaded.generate
    n, seed = tf.constant(5), tf.constant(9, tf.int64)
    cycled = gen(num_images=n, seed=seed, label=tf.constant(-1))["images"].numpy()
    assert np.abs(cycled - cgan.generate(5, seed=9)).max() <= 1e-5  # GAN.generate cycles 0, 1, 2, 0, 1
    fixed = gen(num_images=n, seed=seed, label=tf.constant(2))["images"].numpy()
    assert np.abs(fixed - cgan.generate(5, seed=9, labels=2)).max() <= 1e-5


@pytest.mark.parametrize("label", [NUM_CLASSES, -1, 100])
def test_serving_default_rejects_labels_outside_the_classes(cloaded, label):
    z = tf.zeros([2, LATENT_DIM])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must be in \[0, 2\]"):
        cloaded.signatures["serving_default"](latent=z, label=tf.constant([0, label]))


@pytest.mark.parametrize("label", [NUM_CLASSES, -2])
def test_generate_rejects_labels_outside_the_classes(cloaded, label):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must be in \[-1, 2\]"):
        cloaded.generate(num_images=tf.constant(2), seed=tf.constant(0, tf.int64),
                                       label=tf.constant(label))


def test_tflite_takes_labels(cgan, cexported):
    run = serving.TFLiteGenerator(cexported.tflite["float32"])
    assert run.conditional and run.latent_dim == LATENT_DIM
    z = cgan.latents(7, seed=4)
    labels = np.arange(7) % NUM_CLASSES
    want = cgan.generate(7, latents=z, labels=labels)
    assert np.abs(run(z, labels) - want).max() <= 1e-4
    assert np.abs(run.generate(7, seed=4, num_classes=NUM_CLASSES) - want).max() <= 1e-4
    q = serving.TFLiteGenerator(cexported.tflite["int8_dynamic"])(z, labels)
    assert np.abs(q - want).mean() <= 0.05
    with pytest.raises(ConfigError, match="conditional generator: pass labels"):
        run(z)
    with pytest.raises(ConfigError, match=r"labels must be 7 non-negative integers"):
        run(z, labels[:3])


def test_tflite_in_its_export_takes_the_classes_from_the_manifest(cgan, cexported, tmp_path):
    """The file does not record num_classes; the kgan_export.json beside it does: `generate` cycles the classes
    as GAN.generate does and a label outside them is refused by name. A copy elsewhere needs num_classes."""
    run = serving.TFLiteGenerator(cexported.tflite["float32"])
    assert run.num_classes == NUM_CLASSES and run.max_images == export.MAX_IMAGES
    want = cgan.generate(7, seed=4, labels=np.arange(7) % NUM_CLASSES)
    assert np.abs(run.generate(7, seed=4) - want).max() <= 1e-4
    with pytest.raises(ConfigError, match=r"labels \[3\] are not classes of .*expected labels in \[0, 2\]"):
        run(cgan.latents(4, seed=0), [0, 1, 2, 3])
    copy = tmp_path / "copy.tflite"
    copy.write_bytes(open(cexported.tflite["float32"], "rb").read())
    elsewhere = serving.TFLiteGenerator(copy)
    assert elsewhere.num_classes is None and elsewhere.max_images is None
    with pytest.raises(ConfigError, match="conditional generator: pass labels or num_classes"):
        elsewhere.generate(7, seed=4)
    assert np.abs(elsewhere.generate(7, seed=4, num_classes=NUM_CLASSES) - want).max() <= 1e-4
    with pytest.raises(ConfigError, match=r"labels \[0, 1, 2, 3\] include a class .* does not have"):
        elsewhere(cgan.latents(4, seed=0), [0, 1, 2, 3])  # the runtime's lookup finds it


def test_fixed_batch_conditional_tflite(cgan, tmp_path):
    r = export.export_generator(cgan, tmp_path, formats=("tflite",), fixed_batch=4, tflite_variants=("float32",))
    run = serving.TFLiteGenerator(r.tflite["float32"])
    assert run.fixed_batch == 4 and run.conditional
    z = cgan.latents(6, seed=5)
    labels = np.array([0, 1, 2, 2, 1, 0])
    assert np.abs(run(z, labels) - cgan.generate(6, latents=z, labels=labels)).max() <= 1e-4


def test_compact_signatures_take_labels_and_truncation(cgan, cloaded):
    args = dict(num_images=tf.constant(4), seed=tf.constant(3, tf.int64), label=tf.constant(1),
                truncation=tf.constant(0.5))
    u8 = cloaded.signatures["generate_uint8"](**args)["images"].numpy()
    want = cgan.generate(4, seed=3, labels=1, truncation=0.5)
    assert np.abs(u8.astype(int) - np.floor(want * 255 + 0.5)).max() <= 1
