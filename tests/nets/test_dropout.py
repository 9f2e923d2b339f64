"""kgan.nets.dropout.Dropout: Keras's dropout, its masks from 16-bit random numbers where that path applies."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import nets
from kgan.nets.dropout import Dropout
from kgan.nets.fused import set_fused


def _ops(layer, x):
    fn = tf.function(lambda t: layer(t, training=True))
    return {op.type for op in fn.get_concrete_function(x).graph.get_operations()}


@pytest.mark.parametrize("rate", [0.3, 0.05, 0.9])
def test_drops_the_rate_and_keeps_the_expected_output(rate):
    layer = Dropout(rate, seed=3)
    x = tf.random.stateless_normal([64, 14, 14, 32], seed=[1, 2]) + 2.0  # 401,408 units, odd-shaped
    y = layer(x, training=True).numpy()
    dropped = y == 0
    p = round(rate * 2**16) / 2**16
    sd = np.sqrt(p * (1 - p) / y.size)
    assert abs(dropped.mean() - p) < 5 * sd, (dropped.mean(), p)
    kept = ~dropped
    x = x.numpy()
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)  # the scale of the p it draws
    sd_mean = np.sqrt(((x**2).mean() / (1 - p) - x.mean() ** 2) / y.size)
    assert abs(y.mean() - x.mean()) < 5 * sd_mean  # inverted dropout: the input's mean
    for axis in (0, 3):  # no structure: each sample and each channel drops its share
        shares = dropped.mean(axis=tuple(a for a in range(4) if a != axis))
        assert np.all(np.abs(shares - p) < 0.05), shares
    flat = dropped.ravel()  # channels last: lag 1 pairs units of one 64-bit word and neighbouring channels
    for lag in (1, 2, 3, 4, 32):
        both = (flat[:-lag] & flat[lag:]).mean()
        assert abs(both - p * p) < 5 * 2 * np.sqrt(p * p * (1 - p * p) / flat.size), (lag, both, p * p)


def test_every_unit_of_an_odd_sized_input_drops_its_share():
    """63 units (not a multiple of four: the last 64-bit word is cut) over 1,000 calls: each unit is dropped in
    ~30% of them, the cut word's units too."""
    layer = Dropout(0.3, seed=5)
    x = tf.ones([7, 3, 3, 1])
    dropped = np.stack([layer(x, training=True).numpy() == 0 for _ in range(1000)])
    shares = dropped.mean(axis=0).ravel()
    p = round(0.3 * 2**16) / 2**16
    assert np.all(np.abs(shares - p) < 5 * np.sqrt(p * (1 - p) / 1000)), shares


def test_masks_differ_between_calls_and_repeat_from_the_seed():
    x = tf.ones([8, 1001])
    a, b = Dropout(0.3, seed=7), Dropout(0.3, seed=7)
    first, second = a(x, training=True).numpy(), a(x, training=True).numpy()
    assert (first == 0).mean() > 0.25 and not np.array_equal(first == 0, second == 0)
    np.testing.assert_array_equal(b(x, training=True).numpy(), first)  # the same seed, the same masks
    assert not np.array_equal(Dropout(0.3, seed=8)(x, training=True).numpy() == 0, first == 0)


def test_the_gradient_is_the_mask_and_inference_is_the_identity():
    layer = Dropout(0.3, seed=0)
    x = tf.random.stateless_normal([16, 7, 7, 8], seed=[3, 4])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * 2.0)
    grad = tape.gradient(loss, x).numpy()
    kept = y.numpy() != 0
    np.testing.assert_allclose(grad[kept], 2.0 / (1 - round(0.3 * 2**16) / 2**16), rtol=1e-6)
    assert np.all(grad[~kept] == 0)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())


def test_bfloat16_activations_stay_bfloat16():
    layer = Dropout(0.3, seed=0, dtype="mixed_bfloat16")
    y = layer(tf.ones([64, 64]), training=True)
    assert y.dtype == tf.bfloat16
    assert abs(float(tf.reduce_mean(tf.cast(y, tf.float32))) - 1.0) < 0.02


def test_it_draws_64_bit_words_and_falls_back_to_keras_where_it_does_not_apply():
    x = tf.ones([4, 8])
    for rate in (0.3, 8e-6, 1 - 1.6 / 2**16):  # thresholds 19,661, 1 and 65,534
        assert "StatelessRandomUniformFullIntV2" in _ops(Dropout(rate), x), rate
    for layer in (Dropout(0.3, fused=False), Dropout(0.3, noise_shape=(4, 1)), Dropout(7.6e-6),
                  Dropout(1 - 1.4 / 2**16)):  # thresholds 0 and 65,535
        ops = _ops(layer, x)
        assert "StatelessRandomUniformFullIntV2" not in ops and "StatelessRandomUniformV2" in ops, layer.get_config()
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x.numpy())
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).numpy(), 0 * x.numpy())
    with pytest.raises(ValueError, match="must be a floating point tensor"):  # Keras's check, as Keras's layer
        Dropout(0.3)(tf.ones([2, 3], tf.int32), training=True)
    with pytest.raises(ValueError, match="fused must be True or False, got 1"):
        Dropout(0.3, fused=1)


def test_the_networks_use_it_and_set_fused_switches_it_with_batchnorm():
    D = nets.dcgan_discriminator(filters=(8, 16), batchnorm=True)
    dropouts = [layer for layer in D.layers if isinstance(layer, Dropout)]
    assert len(dropouts) == 2 and all(layer.fused for layer in dropouts)
    assert set_fused(D, False) == 3  # two dropouts and the BatchNorm after the second convolution
    assert not any(layer.fused for layer in D.layers if hasattr(layer, "fused"))
    again = keras.models.clone_model(D)  # a config round trip
    assert [layer.fused for layer in again.layers if isinstance(layer, Dropout)] == [False, False]
    assert set_fused(D, True, kinds=(Dropout,)) == 2
    assert [type(layer).__name__ for layer in D.layers if hasattr(layer, "fused") and layer.fused] == ["Dropout"] * 2
    assert sum(isinstance(layer, Dropout) for layer in nets.mlp_discriminator(units=(8, 8)).layers) == 2
    with pytest.raises(ValueError, match="fused must be True or False, got 'no'"):
        set_fused(D, "no")


def test_checkpoints_of_keras_dropout_restore_into_it(tmp_path, monkeypatch):
    """A run saved before D's dropout was kgan's (its layers keras.layers.Dropout) resumes, seed states and all."""
    from kgan.nets import dcgan

    monkeypatch.setattr(dcgan, "Dropout", keras.layers.Dropout)
    old = nets.dcgan_discriminator(filters=(8, 16))
    monkeypatch.undo()
    for _ in range(3):
        old(tf.zeros([2, 28, 28, 1]), training=True)  # the seed generators move on
    new = nets.dcgan_discriminator(filters=(8, 16))
    assert sum(type(layer) is keras.layers.Dropout for layer in old.layers) == 2
    assert sum(type(layer) is Dropout for layer in new.layers) == 2
    # kgan's checkpoints keep each network's variables as a list, in the network's order (GAN.checkpoint_state)
    path = tf.train.Checkpoint(d=list(old.variables)).save(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(d=list(new.variables)).restore(path).assert_consumed()
    for a, b in zip(old.variables, new.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert sum("seed_generator" in v.path for v in new.variables) == 2
