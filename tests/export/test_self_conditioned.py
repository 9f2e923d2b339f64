"""Exporting a self-conditioned generator (kgan.features.clusters): latents in, images out, same as Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export, features, serving

LATENT_DIM = 8
CLUSTERS = 5


@pytest.fixture(scope="module")
def sgan():
    """An untrained self-conditioned GAN with uneven cluster shares: random weights are enough for parity."""
    keras.utils.set_random_seed(2)
    g = features.self_conditioned(
        kgan.nets.cdcgan_generator(latent_dim=LATENT_DIM, num_classes=CLUSTERS, filters=(16, 8, 4)), CLUSTERS,
        prior=[0.4, 0.1, 0.2, 0.05, 0.25])
    return kgan.GAN(g, kgan.nets.cdcgan_discriminator(num_classes=CLUSTERS, filters=(4, 8)))


@pytest.fixture(scope="module")
def sexported(sgan, tmp_path_factory):
    return export.export_generator(sgan, tmp_path_factory.mktemp("sexports"), tflite_variants=("float32", "int8_full"))


def test_the_export_is_unconditional_and_matches_keras(sgan, sexported):
    loaded = tf.saved_model.load(sexported.saved_model)
    _, inputs = loaded.signatures["serving_default"].structured_input_signature
    assert set(inputs) == {"latent"} and sexported.num_classes is None
    z = sgan.latents(64, seed=3)
    ids = keras.ops.convert_to_numpy(sgan.fake_labels(z, None))
    assert len(set(ids.tolist())) == CLUSTERS  # every cluster's path is compared
    want = sgan.generate(64, latents=z)
    got = loaded.signatures["serving_default"](latent=tf.constant(z))["images"].numpy()
    assert np.abs(got - want).max() <= 1e-5
    tfl = serving.TFLiteGenerator(sexported.tflite["float32"])(z)
    assert np.abs(tfl - want).max() <= 1e-4
    # The cluster a latent falls in decides the image: moving z_0 into another cluster changes it.
    z2 = z.copy()
    z2[:, 0] = -z2[:, 0]
    moved = keras.ops.convert_to_numpy(sgan.fake_labels(z2, None)) != ids
    assert moved.any()
    other = loaded.signatures["serving_default"](latent=tf.constant(z2))["images"].numpy()
    assert np.abs(other[moved] - want[moved]).max() > 1e-3


def test_full_integer_is_skipped_with_the_reason(sexported):
    assert "int8_full" not in sexported.tflite
    assert "int8_dynamic" in sexported.tflite_skipped["int8_full"]


def test_asking_for_full_integer_alone_is_refused_before_anything_is_written(sgan, tmp_path):
    """The only variant asked for would be skipped: a version without it would be published (exit 0, no TFLite
    file) until 2026-12-07; now a ConfigError naming the reason and the other variants, and no version."""
    with pytest.raises(kgan.errors.ConfigError, match="tflite_variants=int8_full only, but this generator cannot "
                                                      "take it: .*int8_dynamic.*ask for another variant too"):
        export.export_generator(sgan, tmp_path / "exports", tflite_variants=("int8_full",))
    assert not (tmp_path / "exports").exists()
    done = export.export_generator(sgan, tmp_path / "exports", formats=("saved_model",), tflite_variants=("int8_full",))
    assert done.version == 1 and not done.tflite  # no TFLite asked for: nothing to refuse


def test_the_export_learns_of_the_int8_obstacle_from_the_layer_not_from_features(sgan):
    """kgan.export imports nothing from features: any layer may say why int8 activations would change it."""
    from kgan.export import writer

    class Fussy(keras.layers.Layer):
        quantization_sensitive = "rounds its input to a grid finer than int8"

        def call(self, x):
            return x

    inner = keras.Sequential([keras.Input((4,)), Fussy(), keras.layers.Dense(2)])
    nested = keras.Sequential([keras.Input((4,)), inner])
    assert writer._quantization_sensitive(nested) == Fussy.quantization_sensitive
    assert writer._quantization_sensitive(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])) is None
    assert "int8_dynamic" in writer._quantization_sensitive(sgan.sampling_generator)


def test_exported_truncation_keeps_the_cluster_component(sgan, sexported):
    loaded = tf.saved_model.load(sexported.saved_model)
    got = loaded.signatures["generate"](num_images=tf.constant(32), seed=tf.constant(6, tf.int64),
                                        truncation=tf.constant(0.3))["images"].numpy()
    assert np.abs(got - sgan.generate(32, seed=6, truncation=0.3)).max() <= 1e-5
    # shrinking component 0 too would move latents into the middle clusters: other images
    z = sgan.latents(32, seed=6) * np.float32(0.3)
    assert np.abs(got - sgan.generate(32, latents=z)).max() > 1e-3
