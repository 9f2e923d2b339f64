"""Deep convolutional GAN networks (Radford, Metz & Chintala, "Unsupervised
Representation Learning with Deep Convolutional GANs", ICLR 2016,
https://arxiv.org/abs/1511.06434), for any image size that is a power-of-two
multiple of a small base (28 = 7·2², 32 = 4·2³, 64 = 4·2⁴, 128 = 4·2⁵, ...).

G projects the latent to a small base grid and upsamples with one strided
transposed convolution per doubling; D downsamples with one strided
convolution per entry of its `filters`, then a linear logit. Widths, kernel
size, slopes, dropout and BatchNorm placement are arguments, so a tuned recipe
is a set of arguments. The default widths depend on the image size
(`default_filters`):

- 28x28 (MNIST): exactly the networks of the TensorFlow DCGAN tutorial
  (https://www.tensorflow.org/tutorials/generative/dcgan): G projects to
  7x7x256, a stride-1 5x5 transposed convolution to 128, then two strided ones
  (64, then the image); D is two strided convolutions 64 -> 128 with Dropout(0.3).
- base·2ⁿ otherwise: the DCGAN paper's shape, widths doubling per halving of
  the resolution up to 512: for 64x64, G 4x4x512 -> 256 -> 128 -> 64 -> image,
  D 64 -> 128 -> 256 -> 512 (as in the DCGAN paper and the PyTorch DCGAN example).
"""

import keras
from keras import layers

from kgan.nets import _checks
from kgan.nets.batchnorm import BatchNormalization
from kgan.nets.dropout import Dropout

MAX_WIDTH = 512
MIN_BASE = 4


def _batch_norm(synchronized):
    return BatchNormalization(synchronized=synchronized)  # Keras's layer, training through the fused kernel


def doublings(image_shape):
    """How many times G doubles its base grid for `image_shape`: `(n, (base_h, base_w))`.

    Halves H and W together while both are even and stay >= 4; the image must
    end at a small base (at most 8 on each side): 28 -> (2, 7x7), 32 -> (3, 4x4),
    64 -> (4, 4x4), 128 -> (5, 4x4). Other sizes are a ConfigError.
    """
    h, w, _ = _checks.image_shape(image_shape)
    n = 0
    while h % 2 == 0 and w % 2 == 0 and h // 2 >= MIN_BASE and w // 2 >= MIN_BASE:
        h, w, n = h // 2, w // 2, n + 1
    if n == 0 or max(h, w) > 8:
        raise _checks.ConfigError(
            f"image_shape {tuple(image_shape)}: height and width must be a power-of-two multiple of a small base "
            f"(4 to 8 px: e.g. 28, 32, 64, 128) for the dcgan and cdcgan networks")
    return n, (h, w)


def default_filters(image_shape):
    """The default `(generator filters, discriminator filters)` for `image_shape` (see the module docstring).

    >>> default_filters((28, 28, 1))
    ((256, 128, 64), (64, 128))
    >>> default_filters((64, 64, 3))
    ((512, 256, 128, 64), (64, 128, 256, 512))
    """
    shape = _checks.image_shape(image_shape)
    if shape[:2] == (28, 28):
        return (256, 128, 64), (64, 128)
    n, _ = doublings(shape)
    d = tuple(min(MAX_WIDTH, 64 * 2 ** i) for i in range(n))
    return d[::-1], d


def dcgan_generator(
    latent_dim=100,
    image_shape=(28, 28, 1),
    filters=None,
    kernel_size=5,
    negative_slope=0.2,
    sync_batchnorm=False,
):
    """DCGAN generator: latents `[B, latent_dim]` to images `[B, H, W, C]` in [-1, 1].

    `filters[0]` is the width of the dense projection onto the base grid; each
    further entry is one transposed convolution with BatchNorm and LeakyReLU,
    and a last one makes the image (tanh). G doubles the resolution
    `s = min(len(filters), n)` times, n from `doublings(image_shape)`, from an
    (H/2ˢ, W/2ˢ) grid: the last `s - 1` entries are strided, any earlier ones
    keep the base resolution (the TF tutorial's stride-1 layer). Default
    (None): `default_filters(image_shape)`. `sync_batchnorm` synchronizes
    BatchNorm statistics across replicas (TF backend).

    Example:

    >>> G = dcgan_generator(latent_dim=100)
    >>> tuple(G(keras.random.normal((2, 100))).shape)
    (2, 28, 28, 1)
    >>> dcgan_generator(image_shape=(64, 64, 3)).output.shape
    (None, 64, 64, 3)
    """
    _checks.positive_int("latent_dim", latent_dim)
    z = keras.Input((latent_dim,), name="latent")
    x = dcgan_upsample(z, image_shape, filters, kernel_size, negative_slope, sync_batchnorm)
    return keras.Model(z, x, name="dcgan_generator")


def dcgan_upsample(z, image_shape=(28, 28, 1), filters=None, kernel_size=5, negative_slope=0.2,
                   sync_batchnorm=False):
    """The DCGAN generator's body on tensor `z`: project, reshape, upsample to tanh images."""
    h, w, c = _checks.image_shape(image_shape)
    n, _ = doublings(image_shape)
    if filters is None:
        filters = default_filters(image_shape)[0]
    filters = tuple(_checks.positive_int("filters", f) for f in filters)
    if not filters:
        raise _checks.ConfigError("dcgan generator filters must have at least one entry")
    stages = min(len(filters), n)
    bh, bw = h >> stages, w >> stages
    x = layers.Dense(bh * bw * filters[0], use_bias=False)(z)
    x = _batch_norm(sync_batchnorm)(x)
    x = layers.LeakyReLU(negative_slope)(x)
    x = layers.Reshape((bh, bw, filters[0]))(x)
    rest = filters[1:]
    strided_from = len(rest) - (stages - 1)  # the last stages - 1 convolutions upsample
    for i, f in enumerate(rest):
        stride = 2 if i >= strided_from else 1
        x = layers.Conv2DTranspose(f, kernel_size, strides=stride, padding="same", use_bias=False)(x)
        x = _batch_norm(sync_batchnorm)(x)
        x = layers.LeakyReLU(negative_slope)(x)
    return layers.Conv2DTranspose(
        c, kernel_size, strides=2, padding="same", use_bias=False, activation="tanh", name="images"
    )(x)


def dcgan_discriminator(
    image_shape=(28, 28, 1),
    filters=None,
    kernel_size=5,
    negative_slope=0.2,
    dropout=0.3,
    batchnorm=False,
    sync_batchnorm=False,
    spectral_norm=False,
):
    """DCGAN discriminator: images `[B, H, W, C]` to logits `[B, 1]`.

    One strided convolution per entry of `filters` (default:
    `default_filters(image_shape)`, one per doubling); `batchnorm` adds
    BatchNorm after every convolution but the first (as in the DCGAN paper);
    `spectral_norm` wraps every convolution and the logit layer in
    `keras.layers.SpectralNormalization` (Miyato et al., "Spectral
    Normalization for GANs", ICLR 2018, https://arxiv.org/abs/1802.05957).

    Example:

    >>> D = dcgan_discriminator()
    >>> tuple(D(keras.ops.zeros((2, 28, 28, 1))).shape)
    (2, 1)
    """
    image_shape = _checks.image_shape(image_shape)
    if filters is None:
        filters = default_filters(image_shape)[1]
    x_in = keras.Input(image_shape, name="images")
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
    if not filters:
        raise _checks.ConfigError("dcgan discriminator filters must have at least one entry")
    for i, f in enumerate(filters):
        conv = layers.Conv2D(_checks.positive_int("filters", f), kernel_size, strides=2, padding="same")
        x = _maybe_sn(conv, spectral_norm)(x)
        if batchnorm and i > 0:
            x = _batch_norm(sync_batchnorm)(x)
        x = layers.LeakyReLU(negative_slope)(x)
        if dropout:
            x = Dropout(dropout)(x)
    return layers.Flatten()(x)
