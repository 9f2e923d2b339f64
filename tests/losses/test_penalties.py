import keras
import numpy as np
import tensorflow as tf

from kgan.losses import penalties


def _linear_critic(w):
    """D(x) = <w, x> + 1: its input gradient is w everywhere."""
    x_in = keras.Input((2, 2, 1))
    d = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(w.reshape(4, 1)),
                           bias_initializer="ones")(keras.layers.Flatten()(x_in))
    return keras.Model(x_in, d)


def test_gradient_penalty_matches_hand_computed_value():
    w = np.array([3.0, 0.0, 4.0, 0.0], "float32")  # ‖∇D‖ = 5 → (5 - 1)² = 16
    D = _linear_critic(w)
    real = tf.random.normal((3, 2, 2, 1))
    fake = tf.random.normal((3, 2, 2, 1))
    gp = penalties.gradient_penalty(D, real, fake, alpha=tf.constant([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(gp.numpy(), [16.0] * 3, rtol=1e-5)
    r1 = penalties.r1_penalty(D, real)
    np.testing.assert_allclose(r1.numpy(), [0.5 * 25.0] * 3, rtol=1e-5)


def test_interpolates_use_one_alpha_per_example():
    real = tf.ones((3, 2, 2, 1))
    fake = tf.zeros((3, 2, 2, 1))
    x = penalties.interpolates(real, fake, tf.constant([0.0, 0.25, 1.0]))
    np.testing.assert_allclose(x.numpy()[:, 0, 0, 0], [0.0, 0.25, 1.0])
    assert np.ptp(x.numpy().reshape(3, -1), axis=1).max() == 0


def test_gan_draws_alpha_uniform_in_unit_interval():
    import kgan

    gan = kgan.GAN(kgan.nets.mlp_generator(latent_dim=2, units=(4,)), kgan.nets.mlp_discriminator(units=(4,)))
    alpha = gan._replica_draw(keras.random.uniform, 20_000).numpy()
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    # Uniform: mean 1/2, variance 1/12, each decile ~10%.
    assert abs(alpha.mean() - 0.5) < 0.01 and abs(alpha.var() - 1 / 12) < 0.003
    counts = np.histogram(alpha, bins=10, range=(0, 1))[0] / len(alpha)
    assert np.abs(counts - 0.1).max() < 0.01
