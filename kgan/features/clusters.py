"""Self-conditioning on k-means clusters of the data: a conditional GAN without labels.

Liu et al., "Diverse Image Generation via Self-Conditioned GANs" (CVPR 2020),
condition both networks on cluster ids of the real images instead of class
labels; the generator then covers every cluster and each conditional is
easier to fit. kgan clusters the pixels once before training (k-means on up
to `MAX_FIT_IMAGES` images; the paper re-clusters D's features during
training) and keeps the generator unconditional to its users:

- `fit_clusters(images, k)`: k-means centroids and the share of images in each cluster;
- `label_batches(ds, centroids)`: real batches become `(images, nearest-centroid ids)`;
- `LatentCluster`: a layer that derives the cluster id from the first latent
  coordinate, with the clusters' shares as probabilities (z_0 ~ N(0, 1) through
  the normal CDF, then the bin of the cumulative shares it falls in);
- `self_conditioned(generator, k)`: a conditional generator `[latents, labels]`
  wrapped as `latents -> images` with a `LatentCluster` inside.

- `ClusterLabels`: the labeller (`kgan.labellers`) that gives each fake image
  the cluster id G derived from its latent; `LatentCluster.labeller()` offers
  it, so `kgan.GAN(G, D)` plugs it in by itself (or pass
  `fake_labels=ClusterLabels()`).

`kgan.GAN` then gives the discriminator the cluster id of every fake image
(the one G derived) and of every real one (the one `label_batches` attached).
Samples, evaluation and export see a plain `latents -> images` generator: the
exported signature is that of an unconditional GAN. The kgan core never
imports this module: it sees a labeller, and the export sees a layer that is
`quantization_sensitive`.

Example:

```python
images, _ = kgan.data.arrays("mnist", data_dir="../shared/data/mnist", with_labels=False)
centroids, prior = fit_clusters(images, 100)
G = self_conditioned(kgan.nets.cdcgan_generator(num_classes=100), 100, prior=prior)
D = kgan.nets.cdcgan_discriminator(num_classes=100)
gan = kgan.GAN(G, D)
gan.compile()
gan.fit(label_batches(kgan.data.load("mnist", batch_size=64, data_dir=...), centroids), epochs=1)
```
"""

import keras
import numpy as np
import tensorflow as tf

from kgan import checks
from kgan.errors import ConfigError
from kgan.labellers import Labeller
from kgan.losses import diversity

MAX_FIT_IMAGES = 20_000  # k-means sees at most this many images (a seeded random subset of more)

# Phi(x) ~ 0.5 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), |error| < 2e-4: built from ops every
# export format has (TFLite has no erf). Training and export use the same function, so the
# approximation only moves the bin edges by that much.
_SQRT_2_OVER_PI = 0.7978845608028654


def _check_k(num_clusters, what="num_clusters"):
    return checks.integer(what, num_clusters, min=2)


def _flat(images):
    """Images (uint8, or float in [-1, 1]) as float32 `[N, H*W*C]` in [-1, 1], the training range."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        x = x.astype("float32") / 127.5 - 1.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype("float32")
        if x.size and (not np.all(np.isfinite(x)) or x.min() < -1.001 or x.max() > 1.001):
            raise ConfigError("images for k-means must be uint8 or floats in [-1, 1] (the training range), got "
                              f"floats in [{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]")
    else:
        raise ConfigError(f"images for k-means must be uint8 or floats in [-1, 1], got dtype {x.dtype}")
    return x.reshape(len(x), -1)


def _embedding_sizes(model):
    """input_dim of every `keras.layers.Embedding` in `model` (nested models included)."""
    sizes = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Embedding):
            sizes.append(int(layer.input_dim))
        elif isinstance(layer, keras.Model):
            sizes.extend(_embedding_sizes(layer))
    return sizes


def check_fits(network, num_clusters, what):
    """Raises ConfigError if `network` embeds fewer ids than `num_clusters`."""
    small = [n for n in _embedding_sizes(network) if n < num_clusters]
    if small:
        raise ConfigError(f"{num_clusters} clusters need a {what} embedding at least {num_clusters} ids, "
                          f"got one of {small[0]} (build it with num_classes={num_clusters})")


def fit_clusters(images, num_clusters, seed=0, max_images=MAX_FIT_IMAGES):
    """k-means on the pixels of `images`: `(centroids [K, H*W*C] float32, prior [K] float32)`.

    `images`: uint8 `[N, H, W, C]`, or floats in [-1, 1]. `prior[k]` is the share of
    the images nearest to centroid k. k-means is scikit-learn's (k-means++
    seeding, Lloyd iterations), on a seeded subset of at most `max_images` images.

    Example:

    >>> images = np.random.default_rng(0).integers(0, 256, (200, 28, 28, 1), dtype=np.uint8)
    >>> centroids, prior = fit_clusters(images, 10)
    >>> centroids.shape, round(float(prior.sum()), 6)
    ((10, 784), 1.0)
    """
    from sklearn.cluster import KMeans

    k = _check_k(num_clusters)
    images = np.asarray(images)
    if len(images) < k:
        raise ConfigError(f"cannot make {k} clusters from {len(images)} images: use at most {len(images)} clusters")
    if len(images) > max_images:
        images = images[np.sort(np.random.default_rng(seed).choice(len(images), max_images, replace=False))]
    x = _flat(images)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x)
    counts = np.bincount(km.labels_, minlength=k).astype("float64")
    return km.cluster_centers_.astype("float32"), (counts / counts.sum()).astype("float32")


def assign(images, centroids):
    """The nearest centroid of each image, as int32 `[N]` (a TensorFlow op: runs inside tf.data)."""
    x = tf.reshape(tf.cast(images, tf.float32), [tf.shape(images)[0], -1])
    c = tf.constant(np.asarray(centroids, "float32"))
    # argmin |x - c|^2 = argmin |c|^2 - 2 x.c  (|x|^2 is the same for every centroid)
    d = tf.reduce_sum(c * c, axis=1)[None, :] - 2.0 * tf.matmul(x, c, transpose_b=True)
    return tf.argmin(d, axis=1, output_type=tf.int32)


def label_batches(ds, centroids):
    """Maps a dataset of image batches in [-1, 1] to `(images, cluster ids)` batches."""
    if isinstance(ds.element_spec, tuple):
        raise ConfigError("label_batches takes batches of images only (load the data with_labels=False)")
    return ds.map(lambda x: (x, assign(x, centroids)), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


@keras.saving.register_keras_serializable(package="kgan")
class LatentCluster(keras.layers.Layer):
    """Latents `[B, d]` to cluster ids `[B]` (int32), drawn with the clusters' shares.

    u = Phi(z_0) is uniform for z_0 ~ N(0, 1); the id is the bin of the
    cumulative shares u falls in, so ids follow `prior`. The shares live in a
    non-trainable weight (`cdf`), so checkpoints and exports carry them.

    Args:
        num_clusters: K.
        prior: the K shares (default: uniform); `set_prior` changes them later.

    Example:

    >>> layer = LatentCluster(3, prior=[0.5, 0.25, 0.25])
    >>> shares = np.bincount(layer(np.random.default_rng(0).normal(size=(10000, 8))), minlength=3) / 10000
    >>> bool(np.abs(shares - [0.5, 0.25, 0.25]).max() < 0.02)
    True
    """

    # Read by kgan.export: int8 steps of z_0 and of the cumulative shares (1/255 against shares of ~1/K)
    # move latents into other clusters, so full-integer quantization makes a different generator.
    quantization_sensitive = ("a self-conditioned generator picks its cluster from the latent, which int8 "
                              "activations cannot resolve; use int8_dynamic")
    # Component 0 picks the cluster: truncation and interpolation (kgan.sampling) leave it alone.
    latent_components_kept = 1

    def __init__(self, num_clusters, prior=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_clusters = _check_k(num_clusters)
        self.cdf = self.add_weight(shape=(self.num_clusters,), name="cdf", trainable=False,
                                   initializer=keras.initializers.Constant(self._cdf(None)))
        if prior is not None:
            self.set_prior(prior)

    def _cdf(self, prior):
        if prior is None:
            return np.arange(1, self.num_clusters + 1, dtype="float32") / self.num_clusters
        p = np.asarray(prior, "float64").reshape(-1)
        if p.shape != (self.num_clusters,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ConfigError(f"prior must be {self.num_clusters} finite non-negative shares with a positive sum, "
                              f"got shape {p.shape}, min {np.min(p) if p.size else None}, sum {np.sum(p)}")
        return (np.cumsum(p) / p.sum()).astype("float32")

    def set_prior(self, prior):
        """Sets the clusters' shares (normalized to sum to 1)."""
        self.cdf.assign(self._cdf(prior))

    @property
    def prior(self):
        """The K shares as numpy float32."""
        cdf = keras.ops.convert_to_numpy(self.cdf)
        return np.diff(np.concatenate([[0.0], cdf])).astype("float32")

    def call(self, latents):
        x = keras.ops.cast(latents[:, 0], "float32")
        u = 0.5 * (1.0 + keras.ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
        above = keras.ops.cast(keras.ops.expand_dims(u, 1) > keras.ops.expand_dims(self.cdf[:-1], 0), "int32")
        return keras.ops.sum(above, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def compute_output_spec(self, latents):
        return keras.KerasTensor((latents.shape[0],), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "num_clusters": self.num_clusters}

    def labeller(self):
        """The labeller `kgan.GAN` uses for a generator holding this layer: `ClusterLabels(self)`."""
        return ClusterLabels(self)


@keras.saving.register_keras_serializable(package="kgan")
class ClusterLabels(Labeller):
    """Fake labels of a self-conditioned generator: the cluster id its `LatentCluster` derives from each latent.

    G takes latents only (the id is computed inside it); D takes `[images,
    cluster ids]`. Mode-seeking pairs share z_0, hence their cluster.

    Args:
        layer: the generator's `LatentCluster` (default: found in the generator by `bind`).
    """

    feeds_generator = False
    missing_labels = ("a self-conditioned GAN trains on (images, cluster ids) batches: "
                      "map the data with kgan.features.label_batches")

    def __init__(self, layer=None):
        self.layer = layer

    @property
    def num_classes(self):
        return self.layer.num_clusters

    def bind(self, generator, discriminator):
        if self.layer is None:
            self.layer = find_latent_cluster(generator)
            if self.layer is None:
                raise ConfigError("ClusterLabels needs a self-conditioned generator (kgan.features.self_conditioned)")
        if len(discriminator.inputs) != 2:
            raise ConfigError("a self-conditioned generator needs a discriminator taking [images, cluster ids] "
                              "(e.g. kgan.nets.cdcgan_discriminator) and no num_classes")
        check_fits(discriminator, self.layer.num_clusters, "discriminator")

    def __call__(self, latents, labels):
        return self.layer(latents)

    def pair(self, latents, labels):
        # Pairs (2i, 2i + 1) share z_0, hence their cluster.
        return tf.concat([diversity.pair_labels(latents[:, 0])[:, None], latents[:, 1:]], 1), labels


def self_conditioned(generator, num_clusters, prior=None):
    """Wraps a conditional generator `[latents, labels] -> images` as `latents -> images`.

    The label is the `LatentCluster` id of the latents; `kgan.GAN` hands the same
    id to the discriminator. See the module docstring.
    """
    if len(generator.inputs) != 2:
        raise ConfigError("self_conditioned needs a conditional generator taking [latents, labels] "
                          "(e.g. kgan.nets.cdcgan_generator)")
    check_fits(generator, _check_k(num_clusters), "generator")
    z = keras.Input(shape=tuple(generator.inputs[0].shape[1:]), name="latents")
    cluster = LatentCluster(num_clusters, prior=prior, name="latent_cluster")(z)
    return keras.Model(z, generator([z, cluster]), name=f"self_conditioned_{generator.name}")


def find_latent_cluster(generator):
    """The `LatentCluster` layer of a `self_conditioned` generator, or None."""
    return next((layer for layer in getattr(generator, "layers", []) if isinstance(layer, LatentCluster)), None)
