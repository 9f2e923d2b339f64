"""The adversarial losses of the original GAN and of the Wasserstein GAN.

Each function takes discriminator logits on a real and on a generated batch
(shape `[batch]` or `[batch, 1]`) and returns the per-example losses
`(d_loss, g_loss)`, both of shape `[batch]`. In the generator step kgan passes
the real logits of the last discriminator step without gradient, so a loss may
use them; the non-relativistic losses here ignore them.

References:
- minimax, non_saturating: Goodfellow et al., "Generative Adversarial Nets",
  NeurIPS 2014, https://arxiv.org/abs/1406.2661 (Eq. 1 and section 3).
- wasserstein: Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017,
  https://arxiv.org/abs/1701.07875 (Algorithm 1; pair it with weight clipping,
  `GAN.compile(clip_value=0.01)`).
"""

import tensorflow as tf


def _flat(logits):
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _d_cross_entropy(real, fake):
    # -log D(x) - log(1 - D(G(z))) with D = sigmoid(logits), computed stably.
    return tf.nn.softplus(-real) + tf.nn.softplus(fake)


def minimax(real_logits, fake_logits):
    """The original minimax GAN loss.

    D minimizes -log D(x) - log(1 - D(G(z))); G minimizes log(1 - D(G(z))),
    which saturates early in training when D easily rejects samples.

    Example:

    >>> d, g = minimax(tf.constant([2.0]), tf.constant([-2.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return _d_cross_entropy(real, fake), -tf.nn.softplus(fake)


def non_saturating(real_logits, fake_logits):
    """The non-saturating GAN loss (the default).

    D as in `minimax`; G minimizes -log D(G(z)), which has strong gradients
    exactly when D rejects the samples.

    Example:

    >>> d, g = non_saturating(tf.constant([2.0]), tf.constant([-2.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return _d_cross_entropy(real, fake), tf.nn.softplus(-fake)


def wasserstein(real_logits, fake_logits):
    """The Wasserstein GAN loss: the critic maximizes E[D(x)] - E[D(G(z))].

    The critic must be kept Lipschitz: compile the GAN with `clip_value`
    (weight clipping, 0.01 in the paper) or add a gradient penalty.

    Example:

    >>> d, g = wasserstein(tf.constant([1.0]), tf.constant([-1.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return fake - real, -fake


wasserstein.d_output = "score"
