"""kgan.features.clusters: k-means labels for real images, cluster ids from latents, the wrapped generator."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import nets
from kgan.errors import ConfigError
from kgan.features import clusters


def _blobs(sizes=(50, 30, 20), seed=0):
    """Images that are one of three gray levels plus noise: three obvious clusters."""
    rng = np.random.default_rng(seed)
    levels = (-0.8, 0.0, 0.8)
    x = np.concatenate([np.full((n, 8, 8, 1), lvl) for n, lvl in zip(sizes, levels)])
    group = np.repeat(np.arange(len(sizes)), sizes)
    return (x + rng.normal(0, 0.05, x.shape)).astype("float32"), group


def test_fit_clusters_finds_the_groups_and_their_shares():
    x, group = _blobs()
    centroids, prior = clusters.fit_clusters(x, 3, seed=0)
    ids = clusters.assign(x, centroids).numpy()
    # Each group lands in one cluster, and the three clusters differ.
    mapping = {g: set(ids[group == g]) for g in range(3)}
    assert all(len(v) == 1 for v in mapping.values())
    assert len(set.union(*mapping.values())) == 3
    np.testing.assert_allclose(sorted(prior), [0.2, 0.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(prior[ids[0]], 0.5, atol=1e-6)
    # Centroids are in the images' range: the mean gray level of each group.
    np.testing.assert_allclose(sorted(centroids.mean(1)), [-0.8, 0.0, 0.8], atol=0.02)


def test_uint8_images_are_clustered_in_the_training_range():
    x, _ = _blobs()
    u8 = np.round((x + 1) * 127.5).clip(0, 255).astype("uint8")
    centroids, _ = clusters.fit_clusters(u8, 3)
    assert -1.0 <= centroids.min() and centroids.max() <= 1.0
    np.testing.assert_allclose(sorted(centroids.mean(1)), [-0.8, 0.0, 0.8], atol=0.03)


def test_assign_picks_the_nearest_centroid():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (64, 4, 4, 1)).astype("float32")
    c = rng.uniform(-1, 1, (7, 16)).astype("float32")
    brute = ((x.reshape(64, 1, 16) - c[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(clusters.assign(x, c).numpy(), brute)


@pytest.mark.parametrize("k, message", [(1, "num_clusters must be an integer >= 2, got 1"),
                                         (True, "got True"),
                                         (101, "cannot make 101 clusters from 100 images")])
def test_bad_cluster_counts_are_named(k, message):
    with pytest.raises(ConfigError, match=message):
        clusters.fit_clusters(_blobs()[0], k)


def test_label_batches_attaches_the_ids():
    x, _ = _blobs()
    centroids, _ = clusters.fit_clusters(x, 3)
    ds = clusters.label_batches(tf.data.Dataset.from_tensor_slices(x).batch(16), centroids)
    images, ids = zip(*[(a.numpy(), b.numpy()) for a, b in ds])
    np.testing.assert_array_equal(np.concatenate(ids), clusters.assign(x, centroids).numpy())
    with pytest.raises(ConfigError, match="batches of images only"):
        clusters.label_batches(tf.data.Dataset.from_tensor_slices((x, x)), centroids)


def test_latent_cluster_ids_follow_the_prior_and_depend_on_z0_only():
    prior = np.array([0.5, 0.05, 0.25, 0.2])
    layer = clusters.LatentCluster(4, prior=prior)
    z = np.random.default_rng(0).normal(size=(200_000, 6)).astype("float32")
    ids = keras.ops.convert_to_numpy(layer(z))
    assert ids.dtype == np.int32 and ids.min() == 0 and ids.max() == 3
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / len(ids), prior, atol=0.004)
    np.testing.assert_allclose(layer.prior, prior, atol=1e-6)
    z2 = z[:1000].copy()
    z2[:, 1:] = 0.0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(z2)), ids[:1000])


def test_latent_cluster_ids_are_the_bins_of_the_exact_normal_cdf():
    """The tanh approximation of Phi only moves bin edges by < 2e-4: ids agree with math.erf's bins."""
    import math

    prior = np.random.default_rng(1).dirichlet(np.ones(100))
    layer = clusters.LatentCluster(100, prior=prior)
    z = np.random.default_rng(2).normal(size=(20_000, 4)).astype("float32")
    u = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z[:, 0]])
    edges = np.cumsum(prior)
    exact = np.searchsorted(edges, u, side="left").clip(0, 99)
    differ = keras.ops.convert_to_numpy(layer(z)) != exact
    assert differ.mean() < 0.02  # ~1%: the latents within 2e-4 of one of the 99 edges
    assert np.all(np.abs(u[differ, None] - edges[None, :-1]).min(1) < 2e-4)
    # The symbolic output is int32 too (it feeds an int32 label input).
    assert layer(keras.Input((4,))).dtype == "int32"


def test_latent_cluster_rejects_a_bad_prior_in_one_line():
    with pytest.raises(ConfigError, match="prior must be 3 finite non-negative shares") as e:
        clusters.LatentCluster(3, prior=[0.5, -0.1, 0.6])
    with pytest.raises(ConfigError, match="prior must be 3 finite non-negative shares"):
        clusters.LatentCluster(3, prior=[1.0, 0.0])
    with pytest.raises(ConfigError, match="got shape \\(50,\\)") as e:
        clusters.LatentCluster(3, prior=np.ones(50))
    assert "\n" not in str(e.value)


def test_images_outside_the_training_range_are_refused():
    x, _ = _blobs()
    with pytest.raises(ConfigError, match="uint8 or floats in \\[-1, 1\\].*got floats in \\[0\\.6\\d*, 25\\d\\]"):
        clusters.fit_clusters((x + 1) * 127.5, 3)
    with pytest.raises(ConfigError, match="got dtype int64"):
        clusters.fit_clusters(np.zeros((10, 4, 4, 1), "int64"), 3)


def test_more_clusters_than_the_networks_embed_is_refused():
    import kgan

    with pytest.raises(ConfigError, match="10 clusters need a generator embedding.*got one of 4"):
        clusters.self_conditioned(nets.cdcgan_generator(latent_dim=8, num_classes=4, filters=(16, 8, 4)), 10)
    G = clusters.self_conditioned(nets.cdcgan_generator(latent_dim=8, num_classes=10, filters=(16, 8, 4)), 10)
    with pytest.raises(ConfigError, match="10 clusters need a discriminator embedding.*got one of 4"):
        kgan.GAN(G, nets.cdcgan_discriminator(num_classes=4, filters=(8, 16)))


def test_self_conditioned_generator_is_latents_to_images_and_the_cluster_matters():
    keras.utils.set_random_seed(0)
    inner = nets.cdcgan_generator(latent_dim=8, num_classes=4, filters=(16, 8, 4))
    G = clusters.self_conditioned(inner, 4, prior=[0.1, 0.2, 0.3, 0.4])
    assert len(G.inputs) == 1 and tuple(G.output.shape[1:]) == (28, 28, 1)
    z = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    ids = keras.ops.convert_to_numpy(clusters.find_latent_cluster(G)(z))
    # The wrapper is the inner generator at the derived label.
    np.testing.assert_allclose(G(z, training=False), inner([z, ids], training=False), atol=1e-6)
    # A clone (how GAN makes its EMA copy) with the weights copied carries the prior.
    clone = keras.models.clone_model(G)
    clone.set_weights(G.get_weights())
    np.testing.assert_allclose(clusters.find_latent_cluster(clone).prior, [0.1, 0.2, 0.3, 0.4], atol=1e-6)
    np.testing.assert_allclose(clone(z, training=False), G(z, training=False), atol=1e-6)
    with pytest.raises(ConfigError, match="needs a conditional generator"):
        clusters.self_conditioned(nets.dcgan_generator(latent_dim=8, filters=(16, 8, 4)), 4)
