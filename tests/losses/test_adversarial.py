import numpy as np
import pytest
import tensorflow as tf

from kgan import losses
from kgan.errors import ConfigError

REAL = np.array([2.0, -1.0, 0.5], "float32")
FAKE = np.array([-3.0, 0.0, 1.5], "float32")


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_cross_entropy_losses_match_their_definitions():
    d_expected = -np.log(_sig(REAL)) - np.log(1 - _sig(FAKE))
    d, g = losses.minimax(REAL, FAKE)
    np.testing.assert_allclose(d, d_expected, rtol=1e-5)
    np.testing.assert_allclose(g, np.log(1 - _sig(FAKE)), rtol=1e-5)
    d, g = losses.non_saturating(REAL[:, None], FAKE[:, None])  # [B, 1] logits work too
    np.testing.assert_allclose(d, d_expected, rtol=1e-5)
    np.testing.assert_allclose(g, -np.log(_sig(FAKE)), rtol=1e-5)


def test_wasserstein_loss():
    d, g = losses.wasserstein(REAL, FAKE)
    np.testing.assert_allclose(d, FAKE - REAL)
    np.testing.assert_allclose(g, -FAKE)
    assert losses.d_output(losses.wasserstein) == "score"
    assert losses.d_output(losses.non_saturating) == "probability"


def test_non_saturating_has_strong_gradient_where_minimax_saturates():
    fake = tf.constant([-8.0])  # D confidently rejects the sample
    grads = {}
    for name in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(fake)
            _, g = losses.get(name)(tf.constant([0.0]), fake)
        grads[name] = abs(float(tape.gradient(g, fake)[0]))
    assert grads["minimax"] < 1e-3 < 0.9 < grads["non_saturating"]


def test_registry():
    assert set(losses.LOSSES) >= {"minimax", "non_saturating", "wasserstein"}
    fn = lambda r, f: (r, f)  # noqa: E731
    assert losses.get(fn) is fn
    with pytest.raises(ConfigError, match="unknown loss 'nope'.*minimax"):
        losses.get("nope")
