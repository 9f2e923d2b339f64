"""The fully-connected GAN of Goodfellow et al. 2014 (https://arxiv.org/abs/1406.2661).

G: latent -> 256 -> 512 -> 1024 -> H*W*C, LeakyReLU(0.2), tanh output.
D: H*W*C -> 1024 -> 512 -> 256 -> 1, LeakyReLU(0.2), Dropout(0.3).
"""

import math

import keras
from keras import layers

from kgan.nets import _checks
from kgan.nets.dropout import Dropout


def mlp_generator(latent_dim=100, image_shape=(28, 28, 1), units=(256, 512, 1024), negative_slope=0.2,
                  filters=None):
    """Fully-connected generator: latents `[B, latent_dim]` to images `[B, H, W, C]` in [-1, 1].

    `filters`, when given, replaces `units`: it is the name every family gives
    its widths (what a run's `g_filters` setting passes).

    Example:

    >>> G = mlp_generator(latent_dim=100, image_shape=(28, 28, 1))
    >>> tuple(G(keras.random.normal((2, 100))).shape)
    (2, 28, 28, 1)
    """
    _checks.positive_int("latent_dim", latent_dim)
    image_shape = _checks.image_shape(image_shape)
    units = units if filters is None else filters
    z = keras.Input((latent_dim,), name="latent")
    x = z
    for u in units:
        x = layers.Dense(_checks.positive_int("units", u))(x)
        x = layers.LeakyReLU(negative_slope)(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh")(x)
    x = layers.Reshape(image_shape, name="images")(x)
    return keras.Model(z, x, name="mlp_generator")


def mlp_discriminator(image_shape=(28, 28, 1), units=(1024, 512, 256), dropout=0.3, negative_slope=0.2,
                      filters=None):
    """Fully-connected discriminator: images `[B, H, W, C]` to logits `[B, 1]`.

    `filters`, when given, replaces `units` (see `mlp_generator`).

    Example:

    >>> D = mlp_discriminator(image_shape=(28, 28, 1))
    >>> tuple(D(keras.ops.zeros((2, 28, 28, 1))).shape)
    (2, 1)
    """
    image_shape = _checks.image_shape(image_shape)
    _checks.rate("dropout", dropout)
    units = units if filters is None else filters
    x_in = keras.Input(image_shape, name="images")
    x = layers.Flatten()(x_in)
    for u in units:
        x = layers.Dense(_checks.positive_int("units", u))(x)
        x = layers.LeakyReLU(negative_slope)(x)
        if dropout:
            x = Dropout(dropout)(x)
    x = layers.Dense(1, name="logit")(x)
    return keras.Model(x_in, x, name="mlp_discriminator")
