"""Sample-quality metrics in the feature space of kgan's reference classifier (`kgan.eval.classifier`).

For N generated images, against real images:

- `classifier_score`: exp(E_x KL(p(y|x) || p(y))), the Inception-score analogue
  of Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016
  (https://arxiv.org/abs/1606.03498); at most the number of classes (10).
- `fcd`: Fréchet classifier distance, the Fréchet distance (FID, Heusel et al.
  2017) between Gaussian fits of the classifier's 128-d penultimate features.
- `precision`, `recall`: improved precision and recall of Kynkäänniemi et al.,
  "Improved Precision and Recall Metric for Assessing Generative Models",
  NeurIPS 2019 (https://arxiv.org/abs/1904.06991): each set's manifold is the
  union of balls reaching every feature's k-th nearest neighbour (k=3);
  precision is the fraction of generated samples inside the real manifold,
  recall the fraction of real samples inside the generated one. Equal counts.
- `modes`: classes receiving >= 2% of the samples (10 = all covered).
- `class_kl`: KL(predicted-class histogram || uniform); 0 when balanced.
- `label_accuracy` (conditional models): how often the classifier predicts the
  requested label.
- `swd` and `swd_<size>` per pyramid level: the multi-scale sliced Wasserstein
  distance (`kgan.eval.swd`, Karras et al. 2018) of the pixels, ×10³, lower is
  better. It needs no labels and no classifier: on unlabelled data (where the
  classifier's classes are k-means clusters) it is the one metric that does not
  depend on the clusters. Computed for images of at least 16 px on each side.

`Evaluator(classifier, heldout_images, train_images)` holds the real side once:
images the generator never trained on (`kgan.data.split`). `evaluate(images)`
scores a set against them and adds the C_T data-copying statistic
(`kgan.eval.copying`); `real_floor(n)` scores n real *training* images against
the same held-out images, the equal-N floor: what real data gets at the counts
the samples are scored at (FCD's bias grows as 1/N, so a floor at other counts
misleads).

Example:

```python
clf, _ = kgan.eval.reference_classifier(images, labels, cache_dir)
ev = kgan.eval.Evaluator(clf, heldout_images, train_images)
ev.evaluate(gan.generate(10_000, seed=0))   # {'classifier_score': .., 'fcd': .., ..., 'swd': .., 'ct_pixels': ..}
ev.real_floor(10_000)
```
"""

import numpy as np

from kgan.errors import ConfigError
from kgan.eval import swd as swd_lib
from kgan.eval._images import image_range
from kgan.eval.classifier import FEATURES_LAYER, to_model_range
from kgan.eval.frechet import check_features, frechet_distance, rows

MODE_SHARE = 0.02
K = 3
MIN_IMAGES = K + 1  # per set, for the classifier metrics: precision/recall's balls reach K other images


def classifier_score(probs, eps=1e-12):
    """exp(E KL(p(y|x) || p(y))) of class probabilities `[N, classes]`."""
    p = np.asarray(probs, "float64")
    marginal = p.mean(0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(1)
    return float(np.exp(kl.mean()))


def class_histogram_kl(predicted, num_classes):
    """KL(histogram of `predicted` classes || uniform), in nats."""
    h = np.bincount(np.asarray(predicted), minlength=num_classes).astype("float64")
    h /= h.sum()
    nz = h > 0
    return float((h[nz] * np.log(h[nz] * num_classes)).sum())


def modes_covered(predicted, num_classes, share=MODE_SHARE):
    """How many classes receive at least `share` of the samples."""
    h = np.bincount(np.asarray(predicted), minlength=num_classes) / len(predicted)
    return int((h >= share).sum())


def _unit_range(images):
    """uint8 images as they are, float images in [0, 1] (read by `kgan.eval._images.image_range`, as
    `to_model_range` reads them): what `kgan.eval.swd` takes."""
    x, kind = image_range(images)
    if kind != "signed":
        return x
    return (x.astype("float32") + 1.0) / 2.0


def _size(shape):
    """`(28, 28, 1)` as "28x28x1"."""
    return "x".join(str(d) for d in shape) or "scalars"


def swd_applies(image_shape):
    """Whether images of `image_shape` `(H, W, C)` are big enough for the SWD (at least 16 px on each side).

    Example:

    >>> swd_applies((28, 28, 1)), swd_applies((8, 8, 3))
    (True, False)
    """
    return min(image_shape[:2]) >= swd_lib.MIN_RESOLUTION


def _sq_dists(a, b):
    """Squared Euclidean distances `[len(a), len(b)]` (float64 accumulation of float32 products)."""
    aa = (a.astype("float64") ** 2).sum(1)[:, None]
    bb = (b.astype("float64") ** 2).sum(1)[None, :]
    return np.maximum(aa + bb - 2.0 * (a @ b.T).astype("float64"), 0.0)


def _kth_radii(x, k=K, block=2048):
    """Squared distance of every row of `x` to its k-th nearest other row."""
    out = np.empty(len(x))
    for i in range(0, len(x), block):
        d = _sq_dists(x[i : i + block], x)
        # the row itself is at distance 0: take the (k+1)-th smallest
        out[i : i + block] = np.partition(d, k, axis=1)[:, k]
    return out


def _coverage(queries, support, radii, block=2048):
    """Fraction of `queries` inside some ball (support[j], radii[j])."""
    inside = 0
    for i in range(0, len(queries), block):
        d = _sq_dists(queries[i : i + block], support)
        inside += int((d <= radii[None, :]).any(1).sum())
    return inside / len(queries)


def precision_recall(real_features, fake_features, k=K):
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls; equal counts expected.

    Precision: the share of `fake_features` rows inside the real manifold (the union of balls around each
    real row reaching its k-th nearest other real row); recall: the share of real rows inside the fake
    manifold. Each set needs at least k + 1 finite rows `[N, D]` (a `[N]` array is N rows of one feature).

    Example:

    >>> x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    >>> precision_recall(x, x)
    (1.0, 1.0)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a whole number >= 1, got {k!r}")
    real, fake = rows(real_features, "float32"), rows(fake_features, "float32")
    check_features(real, fake, k + 1, f"precision/recall with k={k}", f"each row's ball reaches its {k} nearest "
                   "others", names=("real", "fake"))
    precision = _coverage(fake, real, _kth_radii(real, k))
    recall = _coverage(real, fake, _kth_radii(fake, k))
    return float(precision), float(recall)


class Evaluator:
    """Scores image sets against held-out real images with the reference classifier.

    Args:
        classifier: a model from `reference_classifier` (softmax output, a `features` layer), or None:
            label-free, the metrics are then the SWD and the pixel C_T only (`label_free` is True), for data
            on which no reference classifier passes its gate (`kgan.eval.run_evaluator` falls back to it).
        real_images: the real images (uint8, [0, 1] or [-1, 1]) that define the real side: held-out
            images the generator never trained on (`kgan.data.split`).
        train_images: the images the generator trained on. With them, `real_floor(n)` scores n of
            them against `real_images` (the equal-N floor) and `evaluate` adds the C_T data-copying
            statistic (`kgan.eval.copying`) in pixel space (`ct_pixels`, shift-tolerant by one pixel)
            and in the classifier's feature space (`ct_features`). Without them (a run that trained
            on every image) the floor is one half of `real_images` against the other and there is no
            copying test.
        batch_size: images per classifier call.
        copying: False leaves the copying test out.
        swd: True (default) adds the label-free multi-scale sliced Wasserstein distance
            (`kgan.eval.swd.SlicedWasserstein`, seeded: the same images give the same number) against
            `real_images`, when the images are at least 16 px on each side (`swd_applies`); False
            leaves it out (the metric is `self.swd`, None when off). Its descriptors of `real_images`
            are computed once here; each `evaluate` compares equally many descriptors of both sets (a
            seeded subset of the larger), and `real_floor(n)` scores the same n training images the
            other metrics' floor uses. Cost
            of 10,000 samples against 2,000 held-out images (measured on 2 busy CPU cores): ~3
            CPU-seconds at 28x28 grey, ~10 at 64x64 RGB; it grows with both counts (`kgan.eval.swd`:
            ~45 CPU-seconds for 10,000 against 10,000 64x64 RGB images).

    Example:

    ```python
    ev = Evaluator(clf, heldout_images, train_images)
    ev.evaluate(gan.generate(5000, seed=0))["fcd"], ev.real_floor(5000)["fcd"]
    ev.evaluate(gan.generate(5000, seed=0))["swd"], ev.real_floor(5000)["swd"]   # label-free
    Evaluator(None, heldout_images, train_images).evaluate(samples)          # {'swd': .., 'swd_64': .., 'ct_pixels': ..}
    ```
    """

    def __init__(self, classifier, real_images, train_images=None, batch_size=1000, copying=True, swd=True):
        self.classifier = classifier
        self.batch_size = batch_size
        shape = np.asarray(real_images).shape
        if len(shape) != 4:
            raise ConfigError(f"the real images must be [N, H, W, C], got shape {shape}")
        self.image_shape = tuple(int(d) for d in shape[1:])
        real_images = self.check_images(real_images, "real images")
        if train_images is not None:
            train_images = self.check_images(train_images, "training images", 1)
        self.num_real = int(shape[0])
        self.swd = swd_lib.SlicedWasserstein(_unit_range(real_images)) if swd and swd_applies(shape[1:]) else None
        if classifier is None and self.swd is None and (train_images is None or not copying):
            raise ConfigError(f"nothing to score {shape[1:]} images with: without a classifier the metrics are the "
                              "SWD (images of at least 16 px on each side) and the pixel copying test (needs the "
                              "training images)")
        self._embed = None
        self.num_classes = None
        self.real_features = self.real_probs = None
        if classifier is not None:
            import keras

            self._embed = keras.Model(classifier.inputs[0], [classifier.get_layer(FEATURES_LAYER).output,
                                                          classifier.outputs[0]])
            self.num_classes = int(classifier.outputs[0].shape[-1])
            self.real_features, self.real_probs = self.features(real_images)
        self.train_features = self.train_probs = None
        self._num_train = None if train_images is None else len(train_images)
        self.copying_tests = {}
        from kgan.eval.copying import THRESHOLD

        self.copying_threshold = THRESHOLD  # C_T below it flags copying (the callback reads it here)
        self._floors = {}
        self._train_images = train_images if self.swd is not None else None  # for the SWD floor
        if train_images is not None:
            if classifier is not None:
                self.train_features, self.train_probs = self.features(train_images)
            if copying:
                from kgan.eval import copying as copying_lib

                self.copying_tests["ct_pixels"] = copying_lib.CopyingTest(
                    copying_lib.pixel_space(train_images), copying_lib.pixel_space(real_images),
                    views=copying_lib.shifted_views(shape[1:]))
                if classifier is not None:
                    self.copying_tests["ct_features"] = copying_lib.CopyingTest(self.train_features,
                                                                                self.real_features)

    @property
    def min_images(self):
        """The fewest images a set can be scored with: `MIN_IMAGES` with a classifier (precision/recall's
        k-NN balls), else 1."""
        return 1 if self.classifier is None else MIN_IMAGES

    def check_images(self, images, what="images to score", min_count=None):
        """`images` as an array, or a one-line `ConfigError` (naming `what`) if they are not
        `[N, *self.image_shape]`, fewer than `min_count` (default `min_images`), or outside the ranges the
        metrics take (`kgan.eval._images.image_range`: uint8, [0, 1] or [-1, 1]; NaN and infinities included)."""
        x = np.asarray(images)
        if x.shape[1:] != self.image_shape or x.ndim != 4:
            raise ConfigError(f"the {what} are {_size(x.shape[1:])} images, the real images {_size(self.image_shape)}"
                              ": every set must have the real images' height, width and channels")
        min_count = self.min_images if min_count is None else min_count
        if len(x) < min_count:
            why = (f" (precision/recall's ball around each image reaches its {K} nearest others; FCD's covariances "
                   "need 2)" if self.classifier is not None else "")
            raise ConfigError(f"too few {what}: {len(x)}; the metrics need at least {min_count}{why}")
        image_range(x, what=f"the {what}")
        return x

    @property
    def held_out(self):
        """True when the real side is held-out images (the generator never trained on them)."""
        return self._num_train is not None

    @property
    def label_free(self):
        """True without a classifier: the metrics are the SWD and the pixel C_T only."""
        return self.classifier is None

    def features(self, images):
        """`(features [N, 128], probs [N, classes])` of images (uint8, [0, 1] or [-1, 1])."""
        if self._embed is None:
            raise ValueError("this Evaluator has no classifier (label-free): no classifier features")
        x = to_model_range(images)
        feats, probs = [], []
        for i in range(0, len(x), self.batch_size):
            f, p = self._embed(x[i : i + self.batch_size], training=False)
            feats.append(np.asarray(f))
            probs.append(np.asarray(p))
        return np.concatenate(feats), np.concatenate(probs)

    def _score(self, feats, probs, real_feats, labels=None):
        predicted = probs.argmax(1)
        n = min(len(feats), len(real_feats))
        rng = np.random.default_rng(0)
        real_sub = real_feats if len(real_feats) == n else real_feats[rng.choice(len(real_feats), n, replace=False)]
        fake_sub = feats if len(feats) == n else feats[rng.choice(len(feats), n, replace=False)]
        precision, recall = precision_recall(real_sub, fake_sub)
        out = {
            "classifier_score": classifier_score(probs),
            "fcd": float(frechet_distance(feats, real_feats)),
            "precision": precision,
            "recall": recall,
            "modes": modes_covered(predicted, self.num_classes),
            "class_kl": class_histogram_kl(predicted, self.num_classes),
        }
        if labels is not None:
            out["label_accuracy"] = float((predicted == np.asarray(labels).reshape(-1)).mean())
        return out

    def copying(self, images, feats=None):
        """The C_T results (`kgan.eval.copying.CopyingTest`) of `images`: {"ct_pixels": {...}, "ct_features": {...}}
        (pixels only without a classifier)."""
        if not self.copying_tests:
            return {}
        from kgan.eval.copying import pixel_space

        out = {"ct_pixels": self.copying_tests["ct_pixels"](pixel_space(images))}
        if "ct_features" in self.copying_tests:
            if feats is None:
                feats, _ = self.features(images)
            out["ct_features"] = self.copying_tests["ct_features"](feats)
        return out

    def copying_verdict(self, result):
        """"copying", "no copying" or "inconclusive ..." for one C_T result of `copying` (`kgan.eval.copying.verdict`
        at this evaluator's threshold)."""
        from kgan.eval.copying import verdict

        return verdict(result, self.copying_threshold)

    def evaluate(self, images, labels=None, details=None):
        """The metrics of `images` (see the module docstring) against the real (held-out) images.

        `labels`: the classes a conditional generator was asked for (adds `label_accuracy`).
        With `swd` on, also `swd` and its levels `swd_<size>`.
        With training images, also `ct_pixels` and `ct_features` (C_T; < -3 flags copying).
        `details`: a dict that receives the copying test's per-sample results (for a picture).

        `images` must have the real images' shape, be at least `min_images` (4 with a classifier) and be
        finite uint8, [0, 1] or [-1, 1] images (`check_images`: a one-line `ConfigError` otherwise). C_T is
        NaN, with a logged warning, when no cell holds enough samples to count (`kgan.eval.copying`: 20).
        """
        images = self.check_images(images)
        if labels is not None and np.size(labels) != len(images):
            raise ConfigError(f"{np.size(labels)} labels for {len(images)} images to score: give one requested "
                              "label per image")
        feats = None
        out = {}
        if self.classifier is not None:
            feats, probs = self.features(images)
            out = self._score(feats, probs, self.real_features, labels)
        if self.swd is not None:
            out.update(self.swd.distance(_unit_range(images)))
        results = self.copying(images, feats)
        for name, r in results.items():
            out[name] = r["ct"]
        if details is not None:
            details.update(results)
        return out

    def real_floor(self, num_samples=None):
        """What real data scores, at the counts samples are scored at.

        With training images: `num_samples` of them (all if fewer; default all) against the
        held-out images, exactly as `evaluate` scores `num_samples` samples: the equal-N floor
        (the SWD too: the same training images against the same held-out descriptors).
        `num_images` in the result says how many were used. Without: one half of the real
        images against the other half.
        """
        if not self.held_out:
            if self.num_real // 2 < self.min_images:
                raise ConfigError(f"the half-against-half floor of {self.num_real} real images: the metrics need at "
                                  f"least {self.min_images} per half ({2 * self.min_images} real images)")
            order = np.random.default_rng(1).permutation(self.num_real)
            a, b = order[: len(order) // 2], order[len(order) // 2 :]
            out = {}
            if self.classifier is not None:
                out = self._score(self.real_features[a], self.real_probs[a], self.real_features[b])
            if self.swd is not None:
                real = self.swd.reference
                out.update(swd_lib.SlicedWasserstein(real[np.sort(b)], seed=self.swd.seed).distance(real[np.sort(a)]))
            return {**out, "num_images": int(len(a))}
        n = min(int(num_samples or self._num_train), self._num_train)
        if n < self.min_images:
            raise ConfigError(f"a floor of {n} training images (num_samples={num_samples}, {self._num_train} "
                              f"training images): the metrics need at least {self.min_images}")
        if n not in self._floors:
            pick = np.sort(np.random.default_rng(1).choice(self._num_train, n, replace=False))
            out = {}
            if self.classifier is not None:
                out = self._score(self.train_features[pick], self.train_probs[pick], self.real_features)
            if self.swd is not None:
                out.update(self.swd.distance(_unit_range(np.asarray(self._train_images)[pick])))
            self._floors[n] = {**out, "num_images": n}
        return dict(self._floors[n])
