"""kgan.optimizers.FusedAdam: Keras's Adam to float rounding, on one device and on two replicas; and the GAN's
fused EMA update against the plain average."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan.optimizers import FusedAdam


def _train(optimizer_cls, strategy=None, steps=40, **kwargs):
    """`(weights, optimizer variables)` after `steps` Adam steps on a fixed least-squares problem whose gradients
    span four orders of magnitude; under `strategy` each replica takes its share of the batch."""
    strategy = strategy or tf.distribute.get_strategy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype("float32")
    y = (x @ rng.normal(size=(16, 8)) * np.logspace(-3, 1, 8)).astype("float32")
    with strategy.scope():
        w = keras.Variable(rng.normal(size=(16, 8)).astype("float32") * 0.1)
        opt = optimizer_cls(1e-2, beta_1=0.5, **kwargs)
        opt.build([w])
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(64).repeat())

    @tf.function
    def step(batch):
        def replica(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(xb @ w - yb)) / 64.0
            opt.apply_gradients([(tape.gradient(loss, w), w)])

        strategy.run(replica, args=batch)

    it = iter(ds)
    for _ in range(steps):
        step(next(it))
    return w, opt


def test_fused_adam_makes_keras_adams_steps_to_float_rounding():
    w0, _ = _train(FusedAdam, steps=0)
    start = w0.numpy()
    w_k, keras_opt = _train(keras.optimizers.Adam)
    w_f, fused_opt = _train(FusedAdam)
    moved = np.abs(w_k.numpy() - start).max()
    assert moved > 0.1  # 40 steps of lr 1e-2 moved the weights
    np.testing.assert_allclose(w_f.numpy(), w_k.numpy(), rtol=0, atol=1e-5 * moved)
    for a, b in zip(fused_opt.variables, keras_opt.variables):  # iterations, momentums, velocities
        b = np.asarray(b.numpy())
        np.testing.assert_allclose(np.asarray(a.numpy()), b, rtol=0, atol=1e-4 * np.abs(b).max())
    # Not the same code path by accident: Keras's own update (fused=False) is what `w_k` took.
    w_off, _ = _train(FusedAdam, fused=False)
    np.testing.assert_array_equal(w_off.numpy(), w_k.numpy())


def _update_ops(opt, variable, gradient):
    """The op types of one traced `apply_gradients`."""
    fn = tf.function(lambda: opt.apply_gradients([(gradient, variable)]))
    return {op.type for op in fn.get_concrete_function().graph.get_operations()}


@pytest.mark.parametrize("fused", [True, False])
def test_the_fused_kernel_is_what_runs(fused):
    w = keras.Variable(np.ones((4, 3), "float32"))
    opt = FusedAdam(1e-2, fused=fused)
    opt.build([w])
    assert ("ResourceApplyAdam" in _update_ops(opt, w, tf.ones((4, 3)))) is fused


def test_sparse_gradients_take_kerass_update_and_the_kernel_would_differ():
    """An Embedding's gradient is `tf.IndexedSlices` with repeated rows (a batch repeats labels): Keras squares
    each slice before they are summed, the dense kernel squares the sum; FusedAdam keeps Keras's numbers."""
    indices = tf.constant([0, 2, 2, 2, 1])
    values = tf.constant(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"))
    sparse = tf.IndexedSlices(values, indices, dense_shape=tf.constant([4, 3]))

    def run(opt, gradient):
        w = keras.Variable(np.ones((4, 3), "float32"))
        opt.build([w])
        for _ in range(4):
            opt.apply_gradients([(gradient, w)])
        return w.numpy(), _update_ops(opt, w, gradient)

    keras_w, _ = run(keras.optimizers.Adam(1e-2), sparse)
    fused_w, sparse_ops = run(FusedAdam(1e-2), sparse)
    np.testing.assert_array_equal(fused_w, keras_w)
    dense_w, dense_ops = run(FusedAdam(1e-2), tf.convert_to_tensor(sparse))
    assert "ResourceApplyAdam" in dense_ops and "ResourceApplyAdam" not in sparse_ops
    assert np.abs(dense_w - keras_w).max() > 1e-3  # the kernel on the summed rows: not Keras's sparse Adam


def test_fused_adam_inside_a_loss_scale_optimizer_is_keras_adam_there_too():
    wrap = lambda inner: lambda lr, **kw: keras.optimizers.LossScaleOptimizer(inner(lr, **kw))  # noqa: E731
    w_k, _ = _train(wrap(keras.optimizers.Adam))
    w_f, _ = _train(wrap(FusedAdam))
    w0, _ = _train(FusedAdam, steps=0)
    moved = np.abs(w_k.numpy() - w0.numpy()).max()
    assert moved > 1e-3
    np.testing.assert_allclose(w_f.numpy(), w_k.numpy(), rtol=0, atol=1e-5 * moved)


def test_fused_adam_on_two_replicas_updates_both_like_one_device(two_replicas):
    w_one, _ = _train(FusedAdam)
    w_two, _ = _train(FusedAdam, strategy=two_replicas)
    components = [np.asarray(v.numpy()) for v in w_two.value.values]
    assert len(components) == 2
    np.testing.assert_array_equal(components[0], components[1])  # both replicas' copies took the same update
    np.testing.assert_allclose(components[0], w_one.numpy(), rtol=0, atol=1e-5)


def test_fused_adam_round_trips_its_config_and_refuses_a_bad_fused():
    opt = keras.optimizers.deserialize(keras.optimizers.serialize(FusedAdam(3e-4, beta_1=0.5, fused=False)))
    assert isinstance(opt, FusedAdam) and opt.fused is False and opt.beta_1 == 0.5
    with pytest.raises(ValueError, match="fused must be True or False, got 1"):
        FusedAdam(fused=1)


@pytest.mark.parametrize("fused", [True, False])
def test_the_ema_is_the_average_either_way(fused):
    """After one step the EMA generator holds decay * initial + (1 - decay) * new weights (decay ramps to 2/11
    at the first step), the fused update to float rounding."""
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(kgan.nets.mlp_generator(latent_dim=4, units=(8,)), kgan.nets.mlp_discriminator(units=(8,)),
                   seed=1, ema_decay=0.99)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), fused_ema=fused)
    before = [v.numpy() for v in gan.generator.trainable_variables]
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    decay = 2.0 / 11.0  # min(0.99, (1 + t) / (10 + t)) at t = 1 (G's optimizer counts its step first)
    after = [v.numpy() for v in gan.generator.trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(after, before)) > 1e-3
    for e, b, a in zip(gan.ema_generator.trainable_variables, before, after):
        np.testing.assert_allclose(e.numpy(), decay * b + (1 - decay) * a, rtol=0, atol=1e-6)
    assert gan.get_compile_config()["fused_ema"] is fused
    ops = {op.type for op in tf.function(gan._update_ema).get_concrete_function().graph.get_operations()}
    assert ("ResourceApplyGradientDescent" in ops) is fused
