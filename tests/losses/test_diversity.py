import numpy as np
import tensorflow as tf

from kgan.losses import diversity


def test_mode_seeking_matches_hand_computed_value():
    a = tf.zeros((2, 4, 4, 1))
    b = tf.concat([tf.fill((1, 4, 4, 1), 0.5), tf.zeros((1, 4, 4, 1))], 0)  # pair 0 differs by 0.5, pair 1 is alike
    za, zb = tf.zeros((2, 3)), tf.ones((2, 3))  # latent distance 1
    term = diversity.mode_seeking(a, b, za, zb).numpy()
    np.testing.assert_allclose(term, [1 / (0.5 + 1e-5), 1 / 1e-5], rtol=1e-5)


def test_mode_seeking_gradient_pushes_a_pair_apart():
    a = tf.fill((1, 4, 4, 1), 0.2)
    b = tf.Variable(tf.fill((1, 4, 4, 1), 0.1))
    with tf.GradientTape() as tape:
        term = diversity.mode_seeking(a, b, tf.zeros((1, 3)), tf.ones((1, 3)))
    grad = tape.gradient(term, b).numpy()
    assert (grad > 0).all()  # lowering b (away from a) lowers the term


def test_pair_labels_gives_each_pair_one_label():
    np.testing.assert_array_equal(diversity.pair_labels(tf.constant([3, 1, 4, 1, 5])).numpy(), [3, 3, 4, 4, 5])
    np.testing.assert_array_equal(diversity.pair_labels(tf.constant([7, 2])).numpy(), [7, 7])
