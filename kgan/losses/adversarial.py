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


def _batch_mean(x):
    """Mean over the global batch: all-reduced (differentiably) across replicas."""
    mean = tf.reduce_mean(x)
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        mean = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, mean)
    return mean


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


def hinge(real_logits, fake_logits):
    """The hinge loss: D minimizes relu(1 - D(x)) + relu(1 + D(G(z))); G minimizes -D(G(z)).

    Lim & Ye, "Geometric GAN", 2017 (https://arxiv.org/abs/1705.02894); used by
    SN-GAN (Miyato et al. 2018) and BigGAN.

    Example:

    >>> d, g = hinge(tf.constant([2.0]), tf.constant([-2.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake), -fake


hinge.d_output = "score"


def least_squares(real_logits, fake_logits):
    """The least-squares GAN loss (a=0, b=c=1): D minimizes ½(D(x)-1)² + ½D(G(z))²; G minimizes ½(D(G(z))-1)².

    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017
    (https://arxiv.org/abs/1611.04076).

    Example:

    >>> d, g = least_squares(tf.constant([1.0]), tf.constant([0.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return 0.5 * tf.square(real - 1.0) + 0.5 * tf.square(fake), 0.5 * tf.square(fake - 1.0)


least_squares.d_output = "score"


def relativistic_average(real_logits, fake_logits):
    """The relativistic average GAN loss (RaSGAN).

    D judges whether real data is more realistic than the average fake and vice
    versa: with C̃(x) = C(x) - mean C(fake) and C̃(z) = C(z) - mean C(real),
    D minimizes -log σ(C̃(x)) - log(1 - σ(C̃(z))) and G the same with the roles
    swapped. The means are over the global batch (all-reduced across
    replicas); in the generator step the real logits are those of the last
    discriminator step.

    Jolicoeur-Martineau, "The relativistic discriminator: a key element missing
    from standard GAN", ICLR 2019 (https://arxiv.org/abs/1807.00734).

    Example:

    >>> d, g = relativistic_average(tf.constant([1.0, 2.0]), tf.constant([-1.0, 0.0]))
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    real_rel = real - _batch_mean(fake)
    fake_rel = fake - _batch_mean(real)
    d = tf.nn.softplus(-real_rel) + tf.nn.softplus(fake_rel)
    g = tf.nn.softplus(real_rel) + tf.nn.softplus(-fake_rel)
    return d, g


relativistic_average.d_output = "score"
