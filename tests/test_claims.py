"""The conditions of "N replicas make the update one device makes" (README "Many devices", kgan/gan.py).

`tests/test_gan.py` proves the equality with synchronized BatchNorm and no dropout. Here: each of the
default recipe's two departures from that (dropout in D; BatchNorm in G normalizing per replica without
--sync_batchnorm) breaks the equality on its own, so the README states both conditions, and with them
the default recipe's networks do match.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import nets


def _step(strategy, dropout, sync):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        # The default recipe's network kinds: G with BatchNorm, D with dropout (here tiny).
        G = nets.dcgan_generator(latent_dim=8, filters=(16, 8, 4), sync_batchnorm=sync)
        D = nets.dcgan_discriminator(filters=(8, 16), dropout=dropout)
        gan = kgan.GAN(G, D, seed=3)
        gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    before = [v.numpy().copy() for v in gan.generator.weights + gan.discriminator.weights]
    x = np.random.RandomState(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True), epochs=1, verbose=0)
    after = [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]
    return before, after


@pytest.mark.parametrize("dropout, sync", [(0.3, True), (0.0, False)], ids=["dropout_in_D", "per_replica_batchnorm_in_G"])
def test_two_replicas_differ_from_one_device_outside_the_stated_conditions(dropout, sync, two_replicas):
    """(With sync=True and dropout=0 they match: tests/test_gan.py.)"""
    before, one = _step(tf.distribute.OneDeviceStrategy("/cpu:0"), dropout, sync)
    _, two = _step(two_replicas, dropout, sync)
    moved = max(np.abs(a - b).max() for a, b in zip(before, one))
    diff = max(np.abs(a - b).max() for a, b in zip(one, two))
    assert moved > 1e-3
    # Both are valid training; they are not the same numbers (the equality tests allow 1e-5).
    assert diff > 1e-4, f"dropout={dropout}, sync={sync}: the replicas matched one device ({diff})"
