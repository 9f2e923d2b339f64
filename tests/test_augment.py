"""DiffAugment (kgan.augment): the transforms, their gradients, and kgan.GAN's replica-consistent use of them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import augment, nets
from kgan.augment import DiffAugment
from kgan.errors import ConfigError

from .conftest import eagerly


def _images(n=4, h=16, w=16, c=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, h, w, c)).astype("float32"))


def _u_for_shift(shift, max_shift):
    """The uniform number that _uniform_int maps to `shift` in [-max_shift, max_shift]."""
    return (shift + max_shift + 0.5) / (2 * max_shift + 1)


def test_translation_shifts_each_image_and_fills_with_zeros():
    x = _images(n=2)
    u = tf.constant([[_u_for_shift(2, 2), _u_for_shift(-1, 2)], [_u_for_shift(0, 2), _u_for_shift(0, 2)]])
    y = augment.translation(x, u).numpy()
    want = np.zeros_like(x[0].numpy())  # as the reference: output row i reads input row i + t
    want[:14, 1:] = x[0, 2:, :15]
    np.testing.assert_array_equal(y[0], want)
    np.testing.assert_array_equal(y[1], x[1].numpy())  # zero shift


def test_translation_matches_the_reference_implementation():
    """DiffAugment_tf.rand_translation with its random draws replaced by the same integers."""
    x = _images(n=5, h=16, w=12)
    u = tf.constant(np.random.default_rng(1).random((5, 2)).astype("float32"))
    tx = augment._uniform_int(u[:, 0], -2, 2)[:, None]
    ty = augment._uniform_int(u[:, 1], -2, 2)[:, None]  # int(12 * 0.125 + 0.5) = 2
    grid_x = tf.clip_by_value(tf.range(16)[None] + tx + 1, 0, 17)
    grid_y = tf.clip_by_value(tf.range(12)[None] + ty + 1, 0, 13)
    ref = tf.gather_nd(tf.pad(x, [[0, 0], [1, 1], [0, 0], [0, 0]]), tf.expand_dims(grid_x, -1), batch_dims=1)
    ref = tf.transpose(tf.gather_nd(tf.pad(tf.transpose(ref, [0, 2, 1, 3]), [[0, 0], [1, 1], [0, 0], [0, 0]]),
                                    tf.expand_dims(grid_y, -1), batch_dims=1), [0, 2, 1, 3])
    np.testing.assert_array_equal(augment.translation(x, u).numpy(), ref.numpy())


def test_cutout_zeros_a_half_size_square():
    x = tf.ones((3, 16, 16, 3))
    u = tf.constant([[0.5, 0.5], [0.0, 0.0], [0.999, 0.999]])
    y = augment.cutout(x, u).numpy()
    assert (y[0] == 0).all(-1).sum() == 64  # 8x8, fully inside
    assert ((y == 0).all(-1).sum((1, 2)) <= 64).all() and ((y == 0).all(-1).sum((1, 2)) >= 16).all()
    assert set(np.unique(y)) <= {0.0, 1.0}


def test_color_magnitudes():
    x = _images(n=3)
    u = tf.constant([[0.5, 0.5, 0.5]] * 3)  # brightness +0, saturation x1, contrast x1: identity
    np.testing.assert_allclose(augment.color(x, u).numpy(), x.numpy(), atol=1e-6)
    u = tf.constant([[1.0, 0.5, 0.5]] * 3)  # brightness +0.5
    np.testing.assert_allclose(augment.color(x, u).numpy(), x.numpy() + 0.5, atol=1e-6)
    u = tf.constant([[0.5, 0.0, 0.5]] * 3)  # saturation 0: grey
    grey = augment.color(x, u).numpy()
    np.testing.assert_allclose(grey, np.repeat(x.numpy().mean(-1, keepdims=True), 3, -1), atol=1e-6)


def test_policy_parsing():
    assert DiffAugment.get(None) is None and DiffAugment.get("") is None
    aug = DiffAugment.get("color, translation,cutout")
    assert aug.policy == "color,translation,cutout" and aug.num_params == 7
    for bad in ("colour", "color,color", ",", 3):
        with pytest.raises(ConfigError, match="diff_augment must be comma-separated transforms"):
            DiffAugment(bad)


def test_gradients_flow_through_every_transform_to_the_generator():
    keras.utils.set_random_seed(0)
    G = nets.dcgan_generator(latent_dim=8, image_shape=(16, 16, 3), filters=(8, 8))
    D = nets.dcgan_discriminator(image_shape=(16, 16, 3), filters=(8, 8), dropout=0.0)
    aug = DiffAugment("color,translation,cutout")
    u = tf.constant(np.random.default_rng(0).random((4, aug.num_params)).astype("float32"))
    z = tf.random.normal((4, 8), seed=1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(D(aug.apply(G(z, training=True), u)))
    grads = tape.gradient(loss, G.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    assert all(np.abs(g.numpy()).max() > 0 for g in grads)
    # Through the translation the gradient w.r.t. the input is the output's gradient shifted back.
    x = _images(n=1)
    w = _images(n=1, seed=5)
    shift = tf.constant([[_u_for_shift(1, 2), _u_for_shift(0, 2)]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(augment.translation(x, shift) * w)
    g = tape.gradient(out, x).numpy()[0]
    np.testing.assert_array_equal(g[1:], w.numpy()[0, :-1])
    np.testing.assert_array_equal(g[0], 0)


def _data(n=48, batch=16, size=16):
    x = np.random.RandomState(0).uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)


def _train(strategy, d_batchnorm, policy="color,translation,cutout", **compile_kw):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        G = nets.dcgan_generator(latent_dim=8, image_shape=(16, 16, 3), filters=(16, 8), sync_batchnorm=True)
        D = nets.dcgan_discriminator(image_shape=(16, 16, 3), filters=(8, 16), dropout=0.0, batchnorm=d_batchnorm,
                                     sync_batchnorm=True)
        gan = kgan.GAN(G, D, seed=3)
        gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), d_steps=2, diff_augment=policy,
                    **compile_kw)
    gan.fit(_data(), epochs=1, verbose=0)
    return [v.numpy() for v in G.weights + D.weights]


@pytest.mark.parametrize(
    "d_batchnorm, options",
    [(False, dict(loss="non_saturating")),  # one D call on [real; fake]
     (True, dict(loss="non_saturating")),  # separate D calls
     (False, dict(loss="wasserstein", gradient_penalty=10.0, r1_penalty=1.0))],  # augmented inside the penalties
    ids=["joint_d_call", "batchnorm_d", "penalties"])
def test_two_replicas_augment_like_one_device(d_batchnorm, options, two_replicas):
    with eagerly():
        w1 = _train(tf.distribute.OneDeviceStrategy("/cpu:0"), d_batchnorm, **options)
    w2 = _train(two_replicas, d_batchnorm, **options)
    diff = max(np.abs(a - b).max() for a, b in zip(w1, w2))
    assert diff < 1e-5, f"1 vs 2 replicas differ by {diff}"
    if not d_batchnorm and "gradient_penalty" not in options:
        with eagerly():
            plain = _train(tf.distribute.OneDeviceStrategy("/cpu:0"), d_batchnorm, policy=None, **options)
        assert max(np.abs(a - b).max() for a, b in zip(w1, plain)) > 1e-4  # the augmentation changed the run


def test_compile_config_keeps_the_policy():
    gan = kgan.GAN(nets.dcgan_generator(latent_dim=4, image_shape=(16, 16, 3), filters=(8, 8)),
                   nets.dcgan_discriminator(image_shape=(16, 16, 3), filters=(8,)))
    gan.compile(diff_augment="translation,cutout")
    assert gan.get_compile_config()["diff_augment"] == "translation,cutout"
    with pytest.raises(ConfigError, match="diff_augment"):
        gan.compile(diff_augment="flip")
