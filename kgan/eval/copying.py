"""Does a generator copy its training images? The C_T data-copying test.

Meehan, Chaudhuri & Dasgupta, "A Non-Parametric Test to Detect Data-Copying in
Generative Models", AISTATS 2020 (https://arxiv.org/abs/2004.05675):

1. Cut the space into cells by k-means on the training images T.
2. In each cell, take the distance of every generated sample to its nearest
   training image (in that cell), and the same for every held-out real image
   (real data the generator never saw).
3. The Mann–Whitney U test of the two sets of distances, as a Z-score: below 0
   when samples sit closer to the training images than new real images do.
4. C_T is the average of the cells' Z-scores weighted by the cells' shares of
   the held-out images, over the cells holding at least `min_samples`
   generated samples (the paper's Π_τ; cells a generator leaves empty are
   a coverage problem, not a copying one).

C_T ≪ 0 means data-copying (the paper flags C_T < -3); C_T ≈ 0 is what new
real images get; C_T ≫ 0 means the samples are farther from the data than
real images are (underfitting, poor samples). The per-cell Z-scores show where.

The distances here are Euclidean in whichever feature space the caller
passes: raw pixels (`pixel_space`) or the reference classifier's features.

Example:

```python
ct = copying_test(train_pixels, heldout_pixels, num_cells=20)
ct(sample_pixels)["ct"]       # about 0 for a generator that draws new images
```
"""

import logging

import numpy as np

log = logging.getLogger(__name__)

THRESHOLD = -3.0  # the paper's: C_T below this flags data-copying
MIN_SAMPLES = 20  # generated samples a cell needs to count (Π_τ with τ = 20/m)
MIN_COVERAGE = 0.5  # the held-out share the counted cells must hold for a verdict


def verdict(result, threshold=THRESHOLD, min_coverage=MIN_COVERAGE):
    """"copying", "no copying" or "inconclusive ..." for a `CopyingTest` result.

    C_T only compares samples with held-out images inside the cells the samples fill. When those cells
    hold less than `min_coverage` of the held-out images (a collapsed or barely trained generator: e.g.
    grey blobs all nearest one smooth training image), a low C_T says more about the collapse than about
    copying, so there is no verdict.

    Example:

    >>> verdict({"ct": -5.0, "coverage": 0.9}), verdict({"ct": -5.0, "coverage": 0.2})[:12]
    ('copying', 'inconclusive')
    """
    if result.get("cells_used") == 0:
        return "inconclusive (no cell holds enough samples to count, C_T is NaN: score more samples)"
    if not result["coverage"] >= min_coverage:
        return (f"inconclusive (the samples fill cells holding {result['coverage']:.0%} of the held-out images: "
                "collapsed or far from the data)")
    return "copying" if result["ct"] < threshold else "no copying"


def pixel_space(images):
    """Images (uint8, or floats in [0, 1] or [-1, 1], read by `kgan.eval._images.image_range`) as float32
    `[N, H*W*C]` in [0, 1]."""
    from kgan.eval._images import image_range

    x, kind = image_range(images)
    if kind == "uint8":
        x = x.astype("float32") / 255.0
    else:
        x = x.astype("float32")
        if kind == "signed":
            x = (x + 1.0) / 2.0
    return x.reshape(len(x), -1)


def shifted_views(image_shape, max_shift=1):
    """A `views` function for `CopyingTest`: every shift of the images by up to `max_shift` pixels
    each way (edges repeated), so a copy moved by a pixel is still at distance ~0 from its original."""
    h, w, c = image_shape

    def views(x):
        imgs = x.reshape(len(x), h, w, c)
        s = max_shift
        padded = np.pad(imgs, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
        return [padded[:, s + dy : s + dy + h, s + dx : s + dx + w].reshape(len(x), -1)
                for dy in range(-s, s + 1) for dx in range(-s, s + 1)]

    return views


def nearest(queries, support, block=4096):
    """`(distance, index)` of each query row's nearest `support` row (Euclidean)."""
    queries = np.asarray(queries, "float32")
    support = np.asarray(support, "float32")
    half_s2 = 0.5 * (support * support).sum(1)
    dist, idx = np.empty(len(queries)), np.empty(len(queries), "int64")
    for i in range(0, len(queries), block):
        q = queries[i : i + block]
        # |q - s|^2 = |q|^2 + 2 (|s|^2 / 2 - q.s): the argmin needs only the bracket
        j = (half_s2[None] - q @ support.T).argmin(1)
        idx[i : i + block] = j
        diff = q.astype("float64") - support[j].astype("float64")
        dist[i : i + block] = np.sqrt((diff * diff).sum(1))
    return dist, idx


def mann_whitney_z(x, y):
    """Z-score of the Mann–Whitney U of `x` against `y` (U counts pairs with x > y, ties half).

    Below 0 when `x` tends to be smaller. Normal approximation with the
    continuity correction of the paper's code; no tie correction of the variance.
    """
    from scipy.stats import rankdata

    m, n = len(x), len(y)
    ranks = rankdata(np.concatenate([x, y]))
    u = ranks[:m].sum() - m * (m + 1) / 2.0
    return float((u - (m * n / 2.0 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12.0))


class CopyingTest:
    """C_T against fixed training and held-out sets; call it on generated features.

    Args:
        train: features `[L, D]` of the training images (what a copier would copy).
        heldout: features `[n, D]` of held-out real images (never trained on).
        num_cells: k of the k-means partition (default: one cell per ~100 held-out images, 2 to 50).
        min_samples: generated samples a cell needs to count.
        seed: k-means seed.
        views: optional `f(x) -> [x', x'', ...]` of equally shaped versions of query rows; a
            query's distance is the smallest over its views (e.g. `shifted_views`), for samples
            and held-out images alike. Cells are assigned on `x` itself.
    """

    def __init__(self, train, heldout, num_cells=None, min_samples=MIN_SAMPLES, seed=0, views=None):
        from sklearn.cluster import KMeans

        self.train = np.asarray(train, "float32").reshape(len(train), -1)
        heldout = np.asarray(heldout, "float32").reshape(len(heldout), -1)
        self.num_cells = int(num_cells or max(2, min(50, len(heldout) // 100)))
        self.min_samples = int(min_samples)
        self.views = views
        self.kmeans = KMeans(n_clusters=self.num_cells, n_init=1, random_state=seed).fit(self.train)
        self.train_cells = self.kmeans.labels_
        self.heldout_cells = self.cells(heldout)
        self.heldout_share = np.bincount(self.heldout_cells, minlength=self.num_cells) / len(heldout)
        self.heldout_dist = self._cell_distances(heldout, self.heldout_cells)[0]

    def cells(self, x):
        return self.kmeans.predict(np.asarray(x, "float32").reshape(len(x), -1)).astype("int64")

    def _cell_distances(self, x, cells):
        """Distance of each row to its nearest training row in the same cell, and that row's index."""
        dist, idx = np.full(len(x), np.inf), np.full(len(x), -1, "int64")
        for c in np.unique(cells):
            members = np.flatnonzero(self.train_cells == c)
            rows = np.flatnonzero(cells == c)
            if not len(members):
                continue
            for v in (self.views(x[rows]) if self.views else [x[rows]]):
                d, j = nearest(v, self.train[members])
                better = d < dist[rows]
                dist[rows[better]], idx[rows[better]] = d[better], members[j[better]]
        return dist, idx

    def __call__(self, samples):
        """`{"ct", "cell_z" [k] (NaN for cells left out), "cells_used", "coverage", "distances", "nearest"}` for
        `samples`. `coverage`: the held-out share of the cells used (`verdict` needs half).

        `ct` is NaN when no cell counts (none holds `min_samples` samples and held-out images: too few
        samples, e.g. fewer than `min_samples` in all); a logged warning says so.

        `distances`/`nearest`: each sample's distance to, and index of, its nearest training image in its cell.
        """
        x = np.asarray(samples, "float32").reshape(len(samples), -1)
        cells = self.cells(x)
        dist, idx = self._cell_distances(x, cells)
        z = np.full(self.num_cells, np.nan)
        for c in range(self.num_cells):
            q, p = dist[cells == c], self.heldout_dist[self.heldout_cells == c]
            if len(q) >= self.min_samples and len(p) and np.any(self.train_cells == c):
                z[c] = mann_whitney_z(q, p)
        used = ~np.isnan(z)
        if not used.any():
            ct = float("nan")
            fullest = int(np.bincount(cells, minlength=self.num_cells).max()) if len(cells) else 0
            log.warning("C_T is NaN: no cell holds the %d samples it needs to count (%d samples in %d cells, at most "
                        "%d in one); score more samples", self.min_samples, len(x), self.num_cells, fullest)
        else:
            w = self.heldout_share[used]
            ct = float((w * z[used]).sum() / w.sum())
        return {"ct": ct, "cell_z": z, "cells_used": int(used.sum()), "coverage": float(self.heldout_share[used].sum()),
                "distances": dist, "nearest": idx}


def copying_test(train, heldout, **kwargs):
    """A `CopyingTest` (see its docstring); `copying_test(T, P)(Q)["ct"]` is C_T."""
    return CopyingTest(train, heldout, **kwargs)


def nearest_pairs_grid(samples, train, distances, nearest_index, num_pairs=32, pairs_per_row=8):
    """A uint8 grid (`kgan.images.make_grid`) of the `num_pairs` samples nearest to a training image,
    each beside that training image (sample, then its neighbour), the closest pair first.

    `train`: the training images (any range `pixel_space` takes, flat rows too);
    `distances`, `nearest_index`: a `CopyingTest` result's for `samples`.
    """
    from kgan.images import make_grid

    shape = np.asarray(samples).shape[1:]
    s = pixel_space(samples)
    t = pixel_space(train)
    order = np.argsort(distances)[:num_pairs]
    tiles = np.stack([v for i in order for v in (s[i], t[nearest_index[i]])]).reshape((-1, *shape))
    return make_grid(tiles, ncols=2 * min(pairs_per_row, len(order)))
