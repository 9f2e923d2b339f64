"""kgan.nets.batchnorm.BatchNormalization: Keras's layer to float rounding, through the fused kernel where it
applies and through Keras's own ops elsewhere."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import nets
from kgan.nets.batchnorm import BatchNormalization
from kgan.nets.fused import set_fused


def _run(layer, x, steps=3):
    """Output, gradients (input, gamma, beta) and moving statistics after `steps` training calls, and the op
    types of the traced call."""

    @tf.function
    def call(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.sin(tf.cast(y, tf.float32)))
        return y, tape.gradient(loss, [x, *layer.trainable_weights])  # gamma, beta

    for _ in range(steps):
        y, grads = call(x)
    ops = {op.type if op.type != "FusedBatchNormV3" else f"FusedBatchNormV3:{op.get_attr('T').name}"
           for op in call.get_concrete_function(x).graph.get_operations()}
    stats = [layer.moving_mean.numpy(), layer.moving_variance.numpy()]
    return [np.asarray(tf.cast(t, tf.float32)) for t in (y, *grads)] + stats, ops


def _pair(shape, seed=0, **kwargs):
    """A fused and a Keras-ops layer with the same (non-trivial) weights, and an input."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    layers = []
    for fused in (True, False):
        layer = BatchNormalization(momentum=0.9, fused=fused, **kwargs)
        layer.build(x.shape)
        if layer.scale and layer.center:
            layer.gamma.assign(np.random.default_rng(1).normal(1.0, 0.2, layer.gamma.shape))
            layer.beta.assign(np.random.default_rng(2).normal(0.0, 0.2, layer.beta.shape))
        layers.append(layer)
    return x, layers


@pytest.mark.parametrize("shape", [(16, 7, 7, 8), (16, 24), (1, 24)], ids=["conv", "dense", "dense_batch_of_one"])
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_fused_training_pass_is_keras_batchnorm_to_float_rounding(shape, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        x, (fused, plain) = _pair(shape)
        got, fused_ops = _run(fused, x)
        want, plain_ops = _run(plain, x)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # bfloat16 activations go into the kernel as they are (no casts of the whole tensor to float32 and back)
    kernel = "FusedBatchNormV3:" + ("bfloat16" if policy == "mixed_bfloat16" else "float32")
    assert kernel in fused_ops and not any(op.startswith("FusedBatchNormV3") for op in plain_ops)
    # bfloat16 outputs round to 8 bits; a batch of one normalizes x - mean = 0, whose rounding 1/sqrt(epsilon)
    # amplifies
    tol = 2e-2 if policy != "float32" else 1e-4 if shape[0] == 1 else 1e-5
    for name, a, b in zip(["output", "d_input", "d_gamma", "d_beta", "moving_mean", "moving_variance"], got, want):
        scale = max(np.abs(b).max(), 1e-3)
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale, err_msg=name)
    assert np.abs(want[4]).max() > 0.1 and np.abs(want[5] - 1.0).max() > 0.1  # the statistics moved


def test_inference_and_unfusable_settings_run_keras_ops():
    x, (fused, plain) = _pair((8, 4, 4, 3))
    for layer in (fused, plain):  # inference: Keras's code, hence the same numbers
        layer.moving_mean.assign([0.5, -0.5, 1.0])
    np.testing.assert_array_equal(fused(x, training=False).numpy(), plain(x, training=False).numpy())
    for kwargs in ({"synchronized": True}, {"center": False}, {"axis": 1}, {"epsilon": 1e-6}, {"trainable": False}):
        _, (layer, _) = _pair((8, 4, 4, 3), **kwargs)
        _, ops = _run(layer, x, steps=1)
        assert not any(op.startswith("FusedBatchNormV3") for op in ops), kwargs


def test_float64_runs_keras_ops_and_gives_kerass_numbers():
    """The kernel takes no float64: such a layer trains through Keras's own ops (not a dtype error)."""
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (8, 4, 4, 3)))
    got, ops = _run(BatchNormalization(momentum=0.9, dtype="float64"), x)
    want, _ = _run(BatchNormalization(momentum=0.9, dtype="float64", fused=False), x)
    assert not any(op.startswith("FusedBatchNormV3") for op in ops)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_the_dcgan_networks_use_it_and_set_fused_switches_it():
    G = nets.dcgan_generator(latent_dim=8, filters=(16, 8, 4))
    assert set_fused(G, False) == 3  # after the projection and each of two transposed convolutions
    assert not any(layer.fused for layer in G.layers if isinstance(layer, BatchNormalization))
    again = keras.models.clone_model(G)  # a config round trip (the EMA generator is a clone)
    assert all(isinstance(layer, BatchNormalization) and layer.fused is False
               for layer in again.layers if isinstance(layer, keras.layers.BatchNormalization))
    with pytest.raises(ValueError, match="fused must be True or False, got 'yes'"):
        BatchNormalization(fused="yes")
