"""The reference classifier behind kgan's sample-quality metrics, trained by kgan itself from real data.

No downloaded weights: `reference_classifier(images, labels, cache_dir)` trains a
small CNN on the real images you name (holding out a fifth of them to measure
its accuracy), and caches it in `cache_dir` under a checksum of exactly the
data it saw, so the next call with the same data loads it in a second and
other data never reuses it.

The network: three 3x3 conv blocks (32, 64, 128 channels, BatchNorm with momentum 0.9, ReLU, max
pooling), global average pooling, a 128-d penultimate layer (the feature space
of the Fréchet classifier distance and of precision/recall), and a 10-way
softmax. Trained with small random shifts and blurs (augmentation) it reaches ~99%
held-out accuracy on MNIST digits (tests/eval/test_quality.py).

Unlabelled data (`labels=None`): the classifier learns the k-means cluster ids
(`UNLABELLED_CLUSTERS` clusters of the pixels) of the images instead, so FCD,
precision/recall and mode coverage work in a learned feature space without
labels ("modes" then counts clusters). Augmentation is off then: a shifted image
may belong to another pixel cluster, and features taught to ignore blur could not
tell blurred samples from sharp ones (no label asks them to care).

The gate depends on the data. b is the held-out accuracy of a nearest-class-mean classifier
on 4x4-pooled pixels with the same split.

- With labels the CNN must at least halve that baseline's error, `gate = b + (1 - b) / 2`
  (MNIST digits: b ~ 0.79, gate ~ 0.90; the CNN reaches ~0.99).
- With k-means clusters of the pixels, b is not a baseline but (up to the pooling) the rule
  that defines the clusters, so it is an upper bound: on photo crops, whose clusters have no
  clean borders, the CNN reached 0.87-0.92 against b = 0.98 however long it trained. Two
  checks instead (`feature_ranking`): the CNN must learn at least half of what separates the
  clusters beyond a constant guess, `gate = m + (b - m) / 2` with m the largest cluster's
  share; and its features must do what the metrics need, on its own held-out images: a
  blurred, a noisy and a collapsed set (images of half the clusters) each score an FCD at
  least `RANKING_FACTOR` times the equal-N real floor's. MNIST clusters: accuracy 0.94 against
  a gate of 0.51, ratios 52x (blurred), 19x (noisy), 124x (collapsed) (4,000 of them: 0.90 against 0.52,
  21x, 8x, 22x); 64 px photo crops
  (bench/make_rgb_set.py): 0.87 against 0.59, ratios 2.3x, 3.9x, 10.5x. (Pooled pixels score
  ~1x on those crops: photos vary too much for a pixel-space Fréchet distance to see blur.)
"""

import hashlib
import json
import logging
import os

import numpy as np

from kgan.errors import ClassifierBelowGate, ConfigError

log = logging.getLogger(__name__)

FEATURES_LAYER = "features"
# Bumped whenever the network or its training changes, so a cache never serves an older classifier.
VERSION = 4  # 4: a deterministic augmentation map (the parallel map's random draws followed thread timing)
# 3: BatchNorm momentum 0.9 (0.99's moving statistics lagged behind 400 steps on 8,000 images)
# The gate of cluster classifiers; a cached cluster classifier or verdict of another rule is judged again.
CLUSTER_RULE = 2  # 2: accuracy half-way from the largest cluster to nearest-mean, plus `feature_ranking`
HOLDOUT_FRACTION = 0.2
UNLABELLED_CLUSTERS = 10
# A cluster classifier's features must give each sanity set at least this many times the real floor's FCD; the
# floor itself varies by ~10-20% between random draws of the same size (tests/eval/test_unlabelled.py).
RANKING_FACTOR = 2.0
MIN_RANKING_IMAGES = 100  # held-out images the ranking check needs (an FCD of 128-d features on fewer is noise)


def data_checksum(images, labels):
    """sha256 of the images' and labels' bytes (the cache key of a classifier)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(labels).astype("int64").tobytes())
    return h.hexdigest()


def build_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=128):
    """The CNN: `[B, H, W, C]` images in [-1, 1] to class probabilities; layer `features` is the embedding.

    Example:

    >>> build_classifier().get_layer("features").output.shape
    (None, 128)
    """
    import keras
    from keras import layers

    x_in = keras.Input(image_shape)
    x = x_in
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x) if filters < 128 else x
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(x_in, out, name="reference_classifier")


def _split(n, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1 - HOLDOUT_FRACTION)))
    return order[:cut], order[cut:]


def _random_blur(x, max_sigma=0.8, share=0.3):
    """Gaussian blur of random strength (sigma up to `max_sigma`) on a random `share` of the batch.

    The classifier should judge which digit it sees, not how sharp the strokes
    are: sharpness is what FCD and recall measure in its features. Each channel is blurred alike (an RGB
    image as its channels' grey images; a grey image exactly as before RGB was handled, 2026-12-07).
    """
    import tensorflow as tf

    sigma = tf.random.uniform([], 0.05, max_sigma)
    t = tf.range(-3.0, 4.0)
    k = tf.exp(-(t**2) / (2.0 * sigma**2))
    k = k / tf.reduce_sum(k)
    shape = tf.shape(x)
    grey = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, shape[1], shape[2], 1])  # [B * C, H, W, 1]
    blurred = tf.nn.conv2d(tf.pad(grey, [[0, 0], [3, 3], [0, 0], [0, 0]], constant_values=-1.0),
                           tf.reshape(k, [7, 1, 1, 1]), 1, "VALID")
    blurred = tf.nn.conv2d(tf.pad(blurred, [[0, 0], [0, 0], [3, 3], [0, 0]], constant_values=-1.0),
                           tf.reshape(k, [1, 7, 1, 1]), 1, "VALID")
    blurred = tf.transpose(tf.reshape(blurred, [shape[0], shape[3], shape[1], shape[2]]), [0, 2, 3, 1])
    pick = tf.random.uniform([shape[0], 1, 1, 1]) < share
    return tf.where(pick, blurred, x)


def cluster_labels(images, num_clusters=UNLABELLED_CLUSTERS, seed=0):
    """k-means cluster ids `[N]` of the images' pixels: the classes of an unlabelled data set."""
    from kgan.features import fit_clusters
    from kgan.features.clusters import _flat

    centroids, _ = fit_clusters(images, num_clusters, seed=seed)
    x = _flat(images)
    ids = np.empty(len(x), "int32")
    c2 = (centroids * centroids).sum(1)
    for i in range(0, len(x), 4096):
        ids[i : i + 4096] = (c2[None] - 2.0 * x[i : i + 4096] @ centroids.T).argmin(1)
    return ids


def baseline_accuracy(images, labels, seed=0, pool=4):
    """Held-out accuracy of nearest-class-mean on `pool`x`pool`-pooled pixels, with the classifier's split."""
    from kgan.eval.frechet import pixel_features

    x = pixel_features(to_model_range(images), pool)
    y = np.asarray(labels).astype("int64")
    train_idx, test_idx = _split(len(x), seed)
    classes = np.unique(y[train_idx])
    means = np.stack([x[train_idx][y[train_idx] == c].mean(0) for c in classes])
    d = ((x[test_idx][:, None, :] - means[None]) ** 2).sum(-1)
    return float((classes[d.argmin(1)] == y[test_idx]).mean())


def accuracy_gate(images, labels, seed=0, clusters=False):
    """The held-out accuracy the reference classifier must reach on this data (see the module docstring).

    Labels: half the error of nearest-class-mean on pooled pixels (`baseline_accuracy`). k-means clusters
    of the pixels: half the way from the largest cluster's share to that nearest-mean rule, which
    (up to the pooling) defines the clusters; `feature_ranking` is the clusters' second check.
    """
    b = baseline_accuracy(images, labels, seed)
    if not clusters:
        return b + (1.0 - b) / 2.0
    held = np.asarray(labels).astype("int64")[_split(len(labels), seed)[1]]
    majority = float(np.bincount(held).max() / len(held))
    return majority + max(b - majority, 0.0) / 2.0


def sanity_sets(images, clusters, num, seed=0):
    """`{name: num uint8 images}`: `images` blurred (sigma = 1 px per 32 px of height), with Gaussian noise
    (sigma = 32 grey levels), and collapsed (only images of the lower half of the cluster ids)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    x = np.asarray(images)
    pick = x[rng.choice(len(x), num, replace=len(x) < num)].astype("float32")
    sigma = max(1.0, x.shape[1] / 32.0)
    few = x[np.asarray(clusters) < (int(np.max(clusters)) + 1) // 2]
    return {"blurred": ndimage.gaussian_filter(pick, (0, sigma, sigma, 0)).round().astype(np.uint8),
            "noisy": np.clip(pick + rng.normal(0, 32, pick.shape), 0, 255).astype(np.uint8),
            "collapsed": few[rng.integers(0, len(few), num)]}


def feature_ranking(model, images, clusters, seed=0):
    """`{set: FCD / equal-N floor FCD}` of `sanity_sets` in `model`'s features, against the classifier's own
    held-out images (its training split's other fifth; the floor is as many of its training images).

    What a cluster classifier must show before its features judge samples: every ratio at least
    `RANKING_FACTOR`. None if the held-out part has fewer than `MIN_RANKING_IMAGES` images."""
    from kgan.eval.quality import Evaluator

    images = np.asarray(images)
    train_idx, test_idx = _split(len(images), seed)
    if len(test_idx) < MIN_RANKING_IMAGES:
        return None
    evaluator = Evaluator(model, images[test_idx], copying=False, swd=False)
    rng = np.random.default_rng(seed)
    floor = evaluator.evaluate(images[rng.choice(train_idx, len(test_idx), replace=False)])["fcd"]
    sets = sanity_sets(images[train_idx], np.asarray(clusters)[train_idx], len(test_idx), seed)
    return {name: round(evaluator.evaluate(x)["fcd"] / max(floor, 1e-9), 2) for name, x in sets.items()}


def format_ranking(ranking):
    """`feature_ranking`'s ratios as text.

    Example:

    >>> format_ranking({"blurred": 2.34, "noisy": 3.91, "collapsed": 10.51})
    'blurred 2.34x, noisy 3.91x, collapsed 10.51x'
    """
    return ", ".join(f"{k} {v:g}x" for k, v in ranking.items())


def train_classifier(images, labels, epochs=8, batch_size=128, seed=0, verbose=0, augment=True):
    """Trains the reference CNN on 80% of `images` (uint8 or [-1, 1]); returns `(model, held-out accuracy)`.

    `augment=False` trains without the random shifts and blurs."""
    import keras
    import tensorflow as tf

    x = to_model_range(images)
    y = np.asarray(labels).astype("int32")
    num_classes = int(y.max()) + 1
    train_idx, test_idx = _split(len(x), seed)
    keras.utils.set_random_seed(seed)
    model = build_classifier(x.shape[1:], num_classes)
    steps = epochs * int(np.ceil(len(train_idx) / batch_size))
    lr = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    shift = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=-1.0, seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x[train_idx], y[train_idx])).shuffle(len(train_idx), seed=seed)
    ds = ds.batch(batch_size)
    if augment:  # a serial map: in a parallel one the random draws would follow thread timing (not reproducible)
        ds = ds.map(lambda a, b: (_random_blur(shift(a, training=True)), b))
    from kgan.data.pipeline import without_autotune

    model.fit(without_autotune(ds.prefetch(2)), epochs=epochs, verbose=verbose, shuffle=False)  # shuffled above
    probs = model.predict(x[test_idx], batch_size=1000, verbose=0)
    accuracy = float((probs.argmax(1) == y[test_idx]).mean())
    return model, accuracy


def _below_gate(meta):
    """The `ClassifierBelowGate` of a failed verdict `meta` (accuracy, gate and, for clusters, ranking)."""
    accuracy, gate = meta["accuracy"], meta["gate"]
    if accuracy < gate:
        reason = (f"reached only {accuracy:.4f} held-out accuracy (needs >= {gate:.4f}, set by nearest-class-mean "
                  "on pixels)")
    else:  # a cluster classifier above its accuracy gate whose features did not rank the sanity sets
        ranking = meta.get("ranking")
        shown = format_ranking(ranking) if ranking else "too few held-out images"
        reason = (f"features do not rank the sanity sets (their FCD over the real floor's: {shown}; needs >= "
                  f"{RANKING_FACTOR:g}x each, on >= {MIN_RANKING_IMAGES} held-out images)")
    return ClassifierBelowGate(f"the reference classifier {reason}: give it more (or cleaner) real images",
                               accuracy=accuracy, gate=gate, reason=reason)


def to_model_range(images):
    """uint8 [0, 255], float [0, 1] or float [-1, 1] images to float32 [-1, 1] (what the classifier takes).

    The range is read by `kgan.eval._images.image_range` (the rule of every metric; anything else, such as
    0-255 floats or NaN, is a `ConfigError`)."""
    from kgan.eval._images import image_range

    x, kind = image_range(images)
    if kind == "uint8":
        return x.astype("float32") / 127.5 - 1.0
    x = x.astype("float32")
    if kind == "unit":
        return x * 2.0 - 1.0
    return x


def check_cache_dir(cache_dir):
    """`cache_dir` expanded, or a `ConfigError` if it is a file or lies under one (checked before any training:
    the trained classifier could not be cached there)."""
    cache_dir = os.path.expanduser(os.fspath(cache_dir))
    from kgan.io import existing_ancestor

    where = existing_ancestor(cache_dir) if cache_dir else ""
    if where and os.path.exists(where) and not os.path.isdir(where):
        raise ConfigError(f"classifier cache {cache_dir} cannot be a folder: {where} is a file")
    return cache_dir


def reference_classifier(images, labels, cache_dir, min_accuracy=None, verbose=0):
    """The reference classifier for these real `images`/`labels`: loaded from `cache_dir` or trained and cached.

    `labels=None`: unlabelled data; the classifier learns k-means cluster ids (`cluster_labels`).
    Returns `(model, info)` with `info` = {"checksum", "accuracy", "gate", "labels", "path", "trained"}
    (`labels`: "classes" or "clusters"; clusters add "ranking", `feature_ranking`'s ratios). Raises `kgan.errors.ClassifierBelowGate` (a `ConfigError`,
    with `.accuracy` and `.gate`) if a freshly trained classifier stays below `min_accuracy` held
    out (default: `accuracy_gate` of this data), too little or too odd data to judge samples with;
    the verdict is cached too, so the next call with the same data raises at once. Train it on the
    images the generator trains on, never on the held-out ones.

    Example:

    ```python
    images, labels = kgan.data.idx.load_idx("../shared/data/mnist", with_labels=True)
    clf, info = reference_classifier(images, labels, "~/.cache/kgan")
    info["accuracy"]  # 0.99
    ```
    """
    import keras

    images = np.asarray(images)
    kind = "classes"
    if labels is None:
        kind = "clusters"
        labels = cluster_labels(images)
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ConfigError("the reference classifier needs one class label per real image")
    checksum = data_checksum(images, labels)
    cache_dir = check_cache_dir(cache_dir)
    path = os.path.join(cache_dir, f"classifier-v{VERSION}-{checksum[:16]}.keras")
    meta_path = path + ".json"
    meta = None
    if os.path.isfile(meta_path):
        try:
            with open(meta_path) as f:
                meta = json.load(f)
            if kind == "clusters" and meta.get("rule") != CLUSTER_RULE:
                meta = None  # judged by an older gate: train and judge again
            elif meta.get("checksum") == checksum and meta.get("passed", True) and os.path.isfile(path):
                model = keras.saving.load_model(path, compile=False)
                return model, {**meta, "path": path, "trained": False}
        except (OSError, ValueError) as e:  # a damaged cache entry: train again
            log.warning("ignoring the cached classifier %s: %s", path, e)
            meta = None
    if (meta and meta.get("checksum") == checksum and meta.get("passed") is False and min_accuracy is None
            and {"accuracy", "gate"} <= set(meta)):
        # trained on exactly this data before and below its gate: say so again without retraining
        raise _below_gate(meta)
    log.info("training the reference classifier on %d real images (cached in %s)", len(images), cache_dir)
    model, accuracy = train_classifier(images, labels, verbose=verbose, augment=kind == "classes")
    gate = accuracy_gate(images, labels, clusters=kind == "clusters") if min_accuracy is None else float(min_accuracy)
    log.info("reference classifier: held-out accuracy %.4f (gate %.4f, on %s)", accuracy, gate, kind)
    meta = {"checksum": checksum, "accuracy": accuracy, "gate": gate, "labels": kind, "num_images": int(len(images))}
    if kind == "clusters":
        meta["rule"] = CLUSTER_RULE
    passed = accuracy >= gate
    if passed and kind == "clusters" and min_accuracy is None:
        ranking = feature_ranking(model, images, labels)
        meta["ranking"] = ranking
        passed = ranking is not None and min(ranking.values()) >= RANKING_FACTOR
        log.info("reference classifier on clusters: sanity sets' FCD over the real floor's %s (needs >= %g)",
                 ranking, RANKING_FACTOR)
    if not passed:
        if min_accuracy is None:  # remembered: the next call with this data fails at once
            from kgan.io import atomic_write

            os.makedirs(cache_dir, exist_ok=True)
            atomic_write(meta_path, json.dumps({**meta, "passed": False}, indent=2))
        raise _below_gate(meta)
    from kgan.io import atomic_write

    os.makedirs(cache_dir, exist_ok=True)
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
    atomic_write(meta_path, json.dumps(meta, indent=2))
    return model, {**meta, "path": path, "trained": True}
