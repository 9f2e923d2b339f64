"""Gradient penalties on the discriminator, per example (kgan.GAN weights and reduces them).

References:
- gradient_penalty (WGAN-GP): Gulrajani et al., "Improved Training of
  Wasserstein GANs", NeurIPS 2017 (https://arxiv.org/abs/1704.00028), Eq. 3:
  λ E[(‖∇D(x̂)‖₂ − 1)²] with x̂ = α x + (1 − α) G(z), α ~ U(0, 1).
- r1_penalty: Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do
  actually Converge?", ICML 2018 (https://arxiv.org/abs/1801.04406), Eq. 9:
  (γ/2) E[‖∇D(x)‖²] on real data; evaluated every k steps with weight γ·k
  ("lazy regularization", Karras et al., StyleGAN2, https://arxiv.org/abs/1912.04958).

Adding a penalty (say `foo_penalty`, weight `foo`) changes these places; nothing derives one from another:

1. here: `foo_penalty(discriminator, real, ...)` returning the unweighted penalty per example, shape `[batch]`,
   with a `>>>` example (tests/test_doctests.py runs every module of kgan.losses). `discriminator` is the
   callable `GAN._d_penalties` passes: D with the batch's labels and DiffAugment applied, float32 logits.
2. kgan/gan.py, `GAN.compile`: a weight parameter `foo=0.0` (0 = off), checked with `checks.weight` beside
   `gradient_penalty`, kept as `self.foo = float(foo)`, and documented under Args. If it keeps D Lipschitz
   (as the gradient penalty does), the default `clip_value` for `loss="wasserstein"` should skip it too.
3. kgan/gan.py, `GAN._d_penalties`: `if self.foo:` add `self.foo * penalties.foo_penalty(d_fn, ...)` to `total`
   (random draws through `self._replica_draw`, as the gradient penalty's alpha). The sum is D's extra loss and
   is logged as `d_penalty`.
4. kgan/gan.py, `GAN.get_compile_config`: `"foo": self.foo`; left out, `keras.saving.load_model` compiles the
   GAN with `foo=0.0` without a word (tests/test_keras_habits.py, `test_every_compile_parameter_is_saved_and_reloaded`,
   fails until it is there).
5. kgan/config.py, `TrainConfig`: a setting `foo` (default 0.0, checked with `checks.weight`), which is train.py's
   `--foo` flag and is saved in config.json; `resume="warn"`, as `gradient_penalty` (a resumed run may change the
   weight and is named in the resume warning).
6. kgan/training.py, `build_gan`: `foo=config.foo` in its `gan.compile(...)` call; a setting not passed there
   is accepted on the command line and changes nothing.
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
