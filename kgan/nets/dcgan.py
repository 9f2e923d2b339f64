"""Deep convolutional GAN networks (Radford, Metz & Chintala, "Unsupervised
Representation Learning with Deep Convolutional GANs", ICLR 2016,
https://arxiv.org/abs/1511.06434).

The defaults are exactly the networks of the TensorFlow DCGAN tutorial
(https://www.tensorflow.org/tutorials/generative/dcgan): G projects the latent
to 7x7x256, then two strided 5x5 transposed convolutions with BatchNorm and
LeakyReLU upsample to 28x28; D is two strided 5x5 convolutions with LeakyReLU
and Dropout(0.3) and a linear logit. Widths, kernel size, slopes, dropout and
BatchNorm placement are arguments, so a tuned recipe is a set of arguments.
"""

import keras
from keras import layers

from kgan.nets import _checks


def _batch_norm(synchronized):
    return layers.BatchNormalization(synchronized=synchronized)


def dcgan_generator(
    latent_dim=100,
    image_shape=(28, 28, 1),
    filters=(256, 128, 64),
    kernel_size=5,
    negative_slope=0.2,
    sync_batchnorm=False,
):
    """DCGAN generator: latents `[B, latent_dim]` to images `[B, H, W, C]` in [-1, 1].

    `filters[0]` channels at (H/4, W/4), then `filters[1]` at the same size,
    `filters[2]` at (H/2, W/2), and the output at (H, W). `sync_batchnorm`
    synchronizes BatchNorm statistics across replicas (TF backend).

    Example:

    >>> G = dcgan_generator(latent_dim=100)
    >>> tuple(G(keras.random.normal((2, 100))).shape)
    (2, 28, 28, 1)
    """
    _checks.positive_int("latent_dim", latent_dim)
    z = keras.Input((latent_dim,), name="latent")
    x = dcgan_upsample(z, image_shape, filters, kernel_size, negative_slope, sync_batchnorm)
    return keras.Model(z, x, name="dcgan_generator")


def dcgan_upsample(z, image_shape=(28, 28, 1), filters=(256, 128, 64), kernel_size=5, negative_slope=0.2,
                   sync_batchnorm=False):
    """The DCGAN generator's body on tensor `z`: project, reshape, upsample to tanh images."""
    h, w, c = _checks.image_shape(image_shape, multiple=4)
    if len(filters) != 3:
        raise _checks.ConfigError(f"dcgan_generator filters must have 3 entries, got {filters!r}")
    f0, f1, f2 = (_checks.positive_int("filters", f) for f in filters)
    x = layers.Dense((h // 4) * (w // 4) * f0, use_bias=False)(z)
    x = _batch_norm(sync_batchnorm)(x)
    x = layers.LeakyReLU(negative_slope)(x)
    x = layers.Reshape((h // 4, w // 4, f0))(x)
    for f, stride in ((f1, 1), (f2, 2)):
        x = layers.Conv2DTranspose(f, kernel_size, strides=stride, padding="same", use_bias=False)(x)
        x = _batch_norm(sync_batchnorm)(x)
        x = layers.LeakyReLU(negative_slope)(x)
    return layers.Conv2DTranspose(
        c, kernel_size, strides=2, padding="same", use_bias=False, activation="tanh", name="images"
    )(x)


def dcgan_discriminator(
    image_shape=(28, 28, 1),
    filters=(64, 128),
    kernel_size=5,
    negative_slope=0.2,
    dropout=0.3,
    batchnorm=False,
    sync_batchnorm=False,
    spectral_norm=False,
):
    """DCGAN discriminator: images `[B, H, W, C]` to logits `[B, 1]`.

    One strided convolution per entry of `filters`; `batchnorm` adds BatchNorm
    after every convolution but the first (as in the DCGAN paper);
    `spectral_norm` wraps every convolution and the logit layer in
    `keras.layers.SpectralNormalization` (Miyato et al., "Spectral
    Normalization for GANs", ICLR 2018, https://arxiv.org/abs/1802.05957).

    Example:

    >>> D = dcgan_discriminator()
    >>> tuple(D(keras.ops.zeros((2, 28, 28, 1))).shape)
    (2, 1)
    """
    x_in = keras.Input(_checks.image_shape(image_shape), name="images")
    features = dcgan_features(x_in, filters, kernel_size, negative_slope, dropout, batchnorm, sync_batchnorm,
                              spectral_norm)
    x = _maybe_sn(layers.Dense(1, name="logit"), spectral_norm)(features)
    return keras.Model(x_in, x, name="dcgan_discriminator")


def _maybe_sn(layer, spectral_norm):
    return layers.SpectralNormalization(layer) if spectral_norm else layer


def dcgan_features(x, filters=(64, 128), kernel_size=5, negative_slope=0.2, dropout=0.3, batchnorm=False,
                   sync_batchnorm=False, spectral_norm=False):
    """The DCGAN discriminator's trunk on tensor `x`: strided convolutions, flattened."""
    _checks.rate("dropout", dropout)
    for i, f in enumerate(filters):
        conv = layers.Conv2D(_checks.positive_int("filters", f), kernel_size, strides=2, padding="same")
        x = _maybe_sn(conv, spectral_norm)(x)
        if batchnorm and i > 0:
            x = _batch_norm(sync_batchnorm)(x)
        x = layers.LeakyReLU(negative_slope)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return layers.Flatten()(x)
