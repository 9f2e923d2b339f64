"""Generator regularizers that reward diverse samples, per example (kgan.GAN weights and reduces them).

References:
- mode_seeking (MSGAN): Mao, Lee, Tseng, Ma & Yang, "Mode Seeking Generative
  Adversarial Networks for Diverse Image Synthesis", CVPR 2019
  (https://arxiv.org/abs/1903.05628), Eq. 3: G maximizes
  d_I(G(c, z1), G(c, z2)) / d_z(z1, z2), the distance between two images for one
  condition c relative to the distance between their latents. As in the
  authors' code, G minimizes 1 / (ratio + eps) with mean absolute distances.
  Made for conditional GANs, whose generators tend to ignore z (one image per
  class); it applies to unconditional ones too.
"""

import tensorflow as tf


def mode_seeking(images_a, images_b, latents_a, latents_b, eps=1e-5):
    """MSGAN term 1 / (mean|G(z_a) − G(z_b)| / mean|z_a − z_b| + eps), per pair: shape `[pairs]`.

    `images_a[i]` and `images_b[i]` come from `latents_a[i]` and `latents_b[i]`
    (and, for a conditional generator, the same label). Small when the pair's
    images differ as much as their latents; large when G maps different
    latents to one image.

    Example:

    >>> z = tf.random.stateless_normal([8, 100], seed=[0, 0])
    >>> images = tf.reshape(tf.tanh(z[:, :49]), [8, 7, 7, 1])  # a stand-in for G(z)
    >>> mode_seeking(images[:4], images[4:], z[:4], z[4:]).shape
    TensorShape([4])
    """
    image_distance = tf.reduce_mean(tf.abs(tf.cast(images_a, tf.float32) - tf.cast(images_b, tf.float32)),
                                    axis=list(range(1, len(images_a.shape))))
    latent_distance = tf.reduce_mean(tf.abs(tf.cast(latents_a, tf.float32) - tf.cast(latents_b, tf.float32)), axis=1)
    return 1.0 / (image_distance / latent_distance + eps)


def pair_labels(labels):
    """Labels for mode-seeking pairs: row 2i + 1 gets row 2i's label (an odd last row keeps its own).

    Example:

    >>> pair_labels(tf.constant([3, 1, 4, 1, 5])).numpy()
    array([3, 3, 4, 4, 5], dtype=int32)
    """
    n = tf.shape(labels)[0]
    paired = 2 * (n // 2)
    return tf.concat([tf.repeat(labels[:paired:2], 2), labels[paired:]], 0)
