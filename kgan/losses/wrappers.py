"""Loss wrappers: a loss `(real_logits, fake_logits) -> (d_loss, g_loss)` in, a modified one out.

- `with_label_smoothing(fn, s)`: one-sided label smoothing (Salimans et al.,
  "Improved Techniques for Training GANs", NeurIPS 2016, section 3.4): D's
  targets for real images are 1 - s instead of 1. For the cross-entropy losses
  only, where -(1-s) log σ(r) - s log(1-σ(r)) = softplus(-r) + s·r, so the
  wrapper adds s·r to D's loss and leaves G's alone.
"""

import tensorflow as tf

from kgan import checks
from kgan.errors import ConfigError
from kgan.losses.adversarial import minimax, non_saturating

CROSS_ENTROPY = (minimax, non_saturating)


def with_label_smoothing(loss_fn, smoothing):
    """`loss_fn` with real targets 1 - `smoothing` for D (`loss_fn`: minimax or non_saturating).

    Raises ConfigError for a smoothing outside [0, 1) or another loss.

    Example:

    >>> smoothed = with_label_smoothing(non_saturating, 0.1)
    >>> d, g = smoothed(tf.constant([2.0]), tf.constant([-2.0]))
    >>> d0, g0 = non_saturating(tf.constant([2.0]), tf.constant([-2.0]))
    >>> round(float(d[0] - d0[0]), 6), bool(g[0] == g0[0])
    (0.2, True)
    """
    s = checks.fraction("label_smoothing", smoothing)
    if loss_fn not in CROSS_ENTROPY:
        name = getattr(loss_fn, "__name__", "custom")
        raise ConfigError(
            f"label_smoothing applies to the cross-entropy losses (minimax, non_saturating), not {name!r}"
        )

    def smoothed(real_logits, fake_logits):
        d, g = loss_fn(real_logits, fake_logits)
        return d + s * tf.reshape(tf.cast(real_logits, tf.float32), [-1]), g

    smoothed.__name__ = f"{loss_fn.__name__}_smoothed"
    smoothed.d_output = getattr(loss_fn, "d_output", "probability")
    smoothed.wrapped = loss_fn
    return smoothed
