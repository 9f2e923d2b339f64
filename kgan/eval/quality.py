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

`Evaluator(classifier, real_images)` holds the real side once; `evaluate(images)`
scores a set and `real_floor()` scores held-out real images the same way, so
every result can be read against what real data gets.

Example:

```python
clf, _ = kgan.eval.reference_classifier(images, labels, cache_dir)
ev = kgan.eval.Evaluator(clf, images)
ev.evaluate(gan.generate(10_000, seed=0))   # {'classifier_score': 9.1, 'fcd': 2.3, ...}
ev.real_floor()
```
"""

import numpy as np

from kgan.eval.classifier import FEATURES_LAYER, to_model_range
from kgan.eval.frechet import frechet_distance

MODE_SHARE = 0.02
K = 3


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

    Example:

    >>> x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    >>> precision_recall(x, x)
    (1.0, 1.0)
    """
    real = np.asarray(real_features, "float32")
    fake = np.asarray(fake_features, "float32")
    precision = _coverage(fake, real, _kth_radii(real, k))
    recall = _coverage(real, fake, _kth_radii(fake, k))
    return float(precision), float(recall)


class Evaluator:
    """Scores image sets against real images with the reference classifier.

    Args:
        classifier: a model from `reference_classifier` (softmax output, a `features` layer).
        real_images: the real images (uint8, [0, 1] or [-1, 1]) that define the real side.
        batch_size: images per classifier call.

    Example:

    ```python
    ev = Evaluator(clf, real_images)
    ev.evaluate(gan.generate(5000, seed=0))["classifier_score"]
    ```
    """

    def __init__(self, classifier, real_images, batch_size=1000):
        import keras

        self.classifier = classifier
        self.batch_size = batch_size
        self._embed = keras.Model(classifier.inputs[0], [classifier.get_layer(FEATURES_LAYER).output,
                                                      classifier.outputs[0]])
        self.num_classes = int(classifier.outputs[0].shape[-1])
        self.real_features, self.real_probs = self.features(real_images)

    def features(self, images):
        """`(features [N, 128], probs [N, classes])` of images (uint8, [0, 1] or [-1, 1])."""
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

    def evaluate(self, images, labels=None):
        """The metrics of `images` (see the module docstring) against all real images.

        `labels`: the classes a conditional generator was asked for (adds `label_accuracy`).
        """
        feats, probs = self.features(images)
        return self._score(feats, probs, self.real_features, labels)

    def real_floor(self):
        """The metrics of one half of the real images against the other half: what real data scores."""
        order = np.random.default_rng(1).permutation(len(self.real_features))
        a, b = order[: len(order) // 2], order[len(order) // 2 :]
        return self._score(self.real_features[a], self.real_probs[a], self.real_features[b])
