import keras
import numpy as np
import pytest

from kgan import nets
from kgan.errors import ConfigError


def test_dcgan_defaults_are_the_tensorflow_tutorial_networks():
    G = nets.dcgan_generator(latent_dim=100)
    D = nets.dcgan_discriminator()
    # Parameter counts of the TF DCGAN tutorial's make_generator_model / make_discriminator_model.
    assert G.count_params() == 2_330_944
    assert D.count_params() == 212_865
    images = G(keras.random.normal((3, 100), seed=0))
    assert images.shape == (3, 28, 28, 1)
    assert float(keras.ops.max(keras.ops.abs(images))) <= 1.0
    assert D(images).shape == (3, 1)


def test_classic_mlp_gan_sizes():
    G = nets.mlp_generator(latent_dim=100)
    D = nets.mlp_discriminator()
    assert [l.units for l in G.layers if isinstance(l, keras.layers.Dense)] == [256, 512, 1024, 784]
    assert [l.units for l in D.layers if isinstance(l, keras.layers.Dense)] == [1024, 512, 256, 1]
    assert [l.rate for l in D.layers if isinstance(l, keras.layers.Dropout)] == [0.3] * 3
    assert G(np.zeros((2, 100), "float32")).shape == (2, 28, 28, 1)


def test_other_image_shapes():
    G = nets.get_generator("dcgan", latent_dim=16, image_shape=(32, 32, 3), filters=(32, 16, 8))
    D = nets.get_discriminator("dcgan", image_shape=(32, 32, 3), filters=(8, 16), batchnorm=True)
    assert D(G(np.zeros((2, 16), "float32"))).shape == (2, 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nets.get_generator("resnet"), "unknown network 'resnet'.*dcgan, mlp"),
        (lambda: nets.dcgan_generator(latent_dim=0), "latent_dim must be a positive integer, got 0"),
        (lambda: nets.dcgan_generator(image_shape=(30, 30, 1)), "multiples of 4"),
        (lambda: nets.mlp_discriminator(dropout=1.5), r"dropout must be in \[0, 1\), got 1.5"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_conditional_networks_and_spectral_norm():
    G = nets.get_generator("cdcgan", latent_dim=8, num_classes=10)
    D = nets.get_discriminator("cdcgan", num_classes=10, spectral_norm=True)
    images = G([np.zeros((2, 8), "float32"), np.array([1, 2], "int32")])
    assert images.shape == (2, 28, 28, 1)
    assert D([images, keras.ops.array([1, 2], "int32")]).shape == (2, 1)
    assert any(isinstance(l, keras.layers.SpectralNormalization) for l in D.layers)
    assert "cdcgan" in nets.CONDITIONAL
