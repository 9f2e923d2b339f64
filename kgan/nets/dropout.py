"""`Dropout`: Keras's layer, its training masks drawn from 16-bit random numbers: half Keras's random bits.

Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014,
https://jmlr.org/papers/v15/srivastava14a.html) as `keras.layers.Dropout` applies it (inverted: kept units
are scaled up so the expected output is the input), but the keep mask compares 16-bit integers with
`round(rate * 2**16)` instead of drawing a float32 uniform number (one 32-bit Philox output) per unit.
TensorFlow's stateless Philox generator makes 64-bit integers (`StatelessRandomUniformFullIntV2`, two 32-bit
outputs each); each is split into four 16-bit numbers, so the step draws half the random bits Keras's mask
needs. The mask is applied as one product (kept units times `1 / (1 - p)`), whose gradient is one more; so a
dropped unit is `x * 0`: 0 (or -0.0) as Keras's, but NaN where `x` is infinite or NaN (Keras's gives 0; a D
with such activations has diverged either way).

What changes: the random stream (other masks than Keras's for the same seed, as another seed gives) and the
drop probability's resolution, `p = round(rate * 2**16) / 2**16` (0.3 becomes 0.3000031), with the scale
`1 / (1 - p)` of that `p`, so the expected output is still the input (`tests/nets/test_dropout.py` checks the
rate, the scale, independence, determinism and the gradient). On 2 CPU cores (2026-12-07, two runs side by side
against Keras's masks in the same model: `bench/step_levers.py` variants `...fused...` and `...fusedkd...`, README
"D's dropout masks") it made the default recipe's step 1.03-1.05x faster in float32 and `flags/dcgan_fast.cfg`'s
1.06-1.11x in bfloat16.

Keras's own path is kept where this one does not apply: inference (`training=False`: the identity, so
exports are unchanged), a `noise_shape`, inputs that are not floating point, a rate whose 16-bit threshold is 0
or over 2**16 - 2 (a rate up to 2**-17, 7.6e-6, or over 1 - 1.5 * 2**-16, 0.99998: there the scale would
overflow float16), or `fused=False`. The layer's seed generator is Keras's, so checkpoints move between the
two either way. A model saved as `.keras` names this class (`kgan>Dropout`): load it with `kgan` imported.
"""

import keras
import tensorflow as tf

_LEVELS = 1 << 16  # 16-bit random numbers


@keras.saving.register_keras_serializable(package="kgan")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` whose training masks come from 16-bit random numbers.

    Takes the Keras layer's arguments, and `fused` (default True; False: Keras's own draws).

    Example:

    >>> import numpy as np
    >>> y = Dropout(0.25, seed=1)(np.ones((100, 1000), "float32"), training=True).numpy()
    >>> round(float((y == 0).mean()), 2), round(float(y.max()), 4), round(float(y.mean()), 2)
    (0.25, 1.3333, 1.0)
    """

    def __init__(self, rate, noise_shape=None, seed=None, fused=True, **kwargs):
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        if not isinstance(fused, bool):
            raise ValueError(f"fused must be True or False, got {fused!r}")
        self.fused = fused

    @property
    def threshold(self):
        """16-bit numbers under this are dropped: `round(rate * 2**16)`."""
        return int(round(float(self.rate) * _LEVELS))

    def call(self, inputs, training=False):
        if not (self.fused and training and self.noise_shape is None and 0 < self.threshold < _LEVELS - 1
                and inputs.dtype.is_floating):
            return super().call(inputs, training=training)
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)  # as Keras's
        n = tf.size(inputs, out_type=tf.int64)  # int64: a tensor of 2**31 units or more is drawn for too
        words = tf.random.stateless_uniform([(n + 3) // 4], seed, minval=None, maxval=None, dtype=tf.uint64)
        bits = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:n]
        keep = tf.reshape(bits >= self.threshold, tf.shape(inputs, out_type=tf.int64))
        scale = _LEVELS / (_LEVELS - self.threshold)  # 1 / (1 - p) for the p the threshold gives
        return inputs * (tf.cast(keep, inputs.dtype) * tf.cast(scale, inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
