"""Gradient penalties on the discriminator, per example (kgan.GAN weights and reduces them).

References:
- gradient_penalty (WGAN-GP): Gulrajani et al., "Improved Training of
  Wasserstein GANs", NeurIPS 2017 (https://arxiv.org/abs/1704.00028), Eq. 3:
  λ E[(‖∇D(x̂)‖₂ − 1)²] with x̂ = α x + (1 − α) G(z), α ~ U(0, 1).
- r1_penalty: Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do
  actually Converge?", ICML 2018 (https://arxiv.org/abs/1801.04406), Eq. 9:
  (γ/2) E[‖∇D(x)‖²] on real data; evaluated every k steps with weight γ·k
  ("lazy regularization", Karras et al., StyleGAN2, https://arxiv.org/abs/1912.04958).
"""

import tensorflow as tf


def _input_gradients(discriminator, images):
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(tf.cast(discriminator(images, training=True), tf.float32))
    grads = tf.cast(tape.gradient(total, images), tf.float32)
    return tf.reshape(grads, [tf.shape(grads)[0], -1])


def interpolates(real, fake, alpha):
    """x̂ = α x + (1 − α) fake, with one α per example (`alpha` of shape `[batch]`)."""
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1] + [1] * (len(real.shape) - 1))
    return alpha * real + (1.0 - alpha) * tf.cast(fake, real.dtype)


def gradient_penalty(discriminator, real, fake, alpha):
    """WGAN-GP penalty (‖∇D(x̂)‖₂ − 1)² per example, at the interpolates of `real` and `fake`.

    Example:

    >>> D = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    >>> real, fake = tf.ones([2, 4, 4, 1]), tf.zeros([2, 4, 4, 1])
    >>> gradient_penalty(D, real, fake, alpha=keras.random.uniform((2,), seed=0)).shape
    TensorShape([2])
    """
    grads = _input_gradients(discriminator, interpolates(real, fake, alpha))
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
    return tf.square(norm - 1.0)


def r1_penalty(discriminator, real):
    """R1 penalty ½‖∇D(x)‖² per real example (multiply by γ).

    Example:

    >>> D = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    >>> r1_penalty(D, tf.ones([2, 4, 4, 1])).shape
    TensorShape([2])
    """
    grads = _input_gradients(discriminator, real)
    return 0.5 * tf.reduce_sum(tf.square(grads), axis=1)
