"""`FusedAdam`: Keras's Adam whose per-variable update is one TensorFlow kernel.

Adam (Kingma & Ba, 2015, https://arxiv.org/abs/1412.6980) as `keras.optimizers.Adam` computes it, but
each variable's update is TensorFlow's fused `ResourceApplyAdam` kernel (the one `tf.compat.v1`'s
`AdamOptimizer` runs) instead of the ~15 elementwise ops Keras 3 builds per variable (two of them
reading and writing each slot). The arithmetic is the same formula: `m += (g - m)(1 - beta_1)`,
`v += (g^2 - v)(1 - beta_2)`, `w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon)`; the
results agree to float rounding (last bits), `tests/test_optimizers.py`. The variables (iterations,
momentums, velocities) are Keras's, so checkpoints move between the two classes either way.

A GAN step is a chain of many small ops on 2 CPU cores: on `flags/dcgan.cfg` the fused updates (with
`GAN.compile(fused_ema=True)`) made the whole step 1.07x faster, on `flags/dcgan_fast.cfg` 1.10x, in one-off
A/Bs before sparse gradients took Keras's update (README "Benchmarks", `bench/step_levers.py` variant `fused`).

Keras's own update is kept where the kernel would compute something else: `amsgrad=True` (the kernel has no such
slot here), sparse gradients (`tf.IndexedSlices`, e.g. an `Embedding`'s: Keras squares each row of the slices
before repeated rows are summed, the kernel would square their sum), and `fused=False`. Summing the rows and
running the kernel instead (another optimizer on those variables) made the default recipe's step 0.99x as fast
and `flags/dcgan_fast.cfg`'s 1.02x, side by side on 2026-12-07 (`bench/step_levers.py` variant `ds`), so the
kernel is not worth Keras's arithmetic there.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kgan")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with each variable's update as TensorFlow's fused Adam kernel.

    Takes Adam's arguments, and `fused` (default True; False: Keras's own update, the same
    optimizer otherwise, e.g. to compare the two).

    Example:

    >>> import numpy as np
    >>> w = keras.Variable(np.ones(3, "float32"))
    >>> opt = FusedAdam(0.1)
    >>> _ = opt.apply_gradients([(np.array([1.0, -1.0, 0.0], "float32"), w)])
    >>> print(np.round(w.numpy(), 4))  # a first Adam step: each weight moves by lr against its gradient
    [0.9 1.1 1. ]
    """

    def __init__(self, *args, fused=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(fused, bool):
            raise ValueError(f"fused must be True or False, got {fused!r}")
        self.fused = fused

    def update_step(self, gradient, variable, learning_rate):
        if not self.fused or self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
