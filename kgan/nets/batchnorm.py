"""`BatchNormalization`: Keras's layer, training through TensorFlow's fused batch-norm kernel.

Batch normalization (Ioffe & Szegedy, 2015, https://arxiv.org/abs/1502.03167) as
`keras.layers.BatchNormalization` computes it, but in training the statistics, the normalization and its
gradient are TensorFlow's fused kernels (`FusedBatchNormV3` and its gradient; oneDNN's on CPU), as
`tf.keras` 2 did by default, instead of the ~10 elementwise ops over the whole activation Keras 3 builds
each way (and under `mixed_bfloat16` without the casts of the whole activation to float32 and back:
the kernel computes in float32 inside). Same arithmetic: normalized with the batch's biased variance, the
moving statistics updated as Keras does (`moving = momentum moving + (1 - momentum) batch`, the biased
variance); outputs, gradients and moving statistics agree to float rounding (`tests/nets/test_batchnorm.py`).
Inference (`training=False`, hence every SavedModel and TFLite export) runs Keras's own code, so exported
generators are unchanged. A model saved as `.keras` names this class (`kgan>BatchNormalization`): load it with
`kgan` imported.

Keras's own path is kept where the fused kernel does not apply: synchronized statistics (`sync_batchnorm`),
batch renormalization, masks, inputs of rank other than 2 or 4, a normalized axis other than the last, no
`center` or `scale`, a frozen layer (`trainable=False`), inputs other than float16, bfloat16 or float32 (or
float32 moving statistics), an `epsilon` under the kernel's floor of 1.001e-5, or `fused=False`. Variables and
their names are Keras's, so checkpoints move between the two either way.

The generator's BatchNorm sits on the step's chain of ops (G's forward and backward pass); fusing it made
`flags/dcgan.cfg`'s step 1.06x faster and `flags/dcgan_fast.cfg`'s 1.10x (README "Benchmarks").
"""

import keras
import tensorflow as tf

_KERNEL_DTYPES = (tf.float16, tf.bfloat16, tf.float32)
_KERNEL_MIN_EPSILON = 1.001e-5  # what tf.nn.fused_batch_norm raises a smaller epsilon to (cuDNN's floor)


@keras.saving.register_keras_serializable(package="kgan")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training step is TensorFlow's fused kernel.

    Takes the Keras layer's arguments, and `fused` (default True; False: Keras's own ops throughout).

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, (32, 4, 4, 8)).astype("float32")
    >>> y = BatchNormalization()(x, training=True)
    >>> bool(abs(np.mean(y)) < 1e-4), round(float(np.std(y)), 2)
    (True, 1.0)
    """

    def __init__(self, *args, fused=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(fused, bool):
            raise ValueError(f"fused must be True or False, got {fused!r}")
        self.fused = fused

    def _fusable(self, inputs, training, mask):
        return (self.fused and training and self.trainable and mask is None and not self.synchronized
                and not self.renorm and self.center and self.scale and len(inputs.shape) in (2, 4)
                and self.axis in (-1, len(inputs.shape) - 1) and inputs.dtype in _KERNEL_DTYPES
                and self.moving_mean.dtype == "float32" and self.epsilon >= _KERNEL_MIN_EPSILON)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        # The kernel takes bfloat16 activations as they are (its statistics and arithmetic are float32 inside,
        # what Keras gets by casting them up and the output back down); anything else is cast to float32 as Keras
        # casts it.
        x = inputs if inputs.dtype == tf.bfloat16 else tf.cast(inputs, tf.float32)
        channels = inputs.shape[-1]
        x4 = x if len(inputs.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x4, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True)
        # The kernel returns the batch variance with Bessel's correction; Keras averages the biased one.
        n = tf.cast(tf.size(x4) // channels, tf.float32)
        variance = tf.where(n > 1.0, unbiased_variance * ((n - 1.0) / tf.maximum(n, 1.0)), 0.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        if len(inputs.shape) != 4:
            y = tf.reshape(y, tf.shape(x))
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}

