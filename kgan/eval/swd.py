"""Multi-scale sliced Wasserstein distance (SWD) between two image sets; needs no labels and no weights.

Karras et al., "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", ICLR 2018 (https://arxiv.org/abs/1710.10196), section 5: each
image is split into a Laplacian pyramid (5x5 binomial filter; after the full
size, one level per halving while the side is above 16 px and the halved side
still holds a 7x7 patch, `num_levels`: 64 px gives 64, 32, 16 as in ProGAN,
but 28 px gives 28, 14 and 48 px 48, 24, 12, so the coarsest level can be
below 16 px); from every level, random 7x7 neighbourhoods are taken
as descriptors (7·7·C numbers), normalized per channel, and the two sets'
descriptor distributions are compared with the sliced Wasserstein distance:
the mean over random unit directions of the 1-D Wasserstein-1 distance between
the sorted projections. Fine levels measure texture and edges, coarse levels
layout and colour. Reported ×10³ per level (`swd_64`, `swd_32`, `swd_16` for
64 px images) and their mean (`swd`), as in the paper; lower is better; a
second real set sits at the floor.

Numbers follow the ProGAN reference implementation
(github.com/tkarras/progressive_growing_of_gans, metrics/sliced_wasserstein.py;
TF-GAN's `tensorflow_gan/python/eval/sliced_wasserstein.py` is a variant that
normalizes each patch on its own) with three differences, chosen for speed on
a CPU and for sensitivity:

- `patches_per_image` defaults to 32 (ProGAN: 128) and `directions` to 256
  (ProGAN: 4 × 128); with 10,000 images per set that is still 320,000
  descriptors per level, and the score's spread between seeds stays well
  below the gaps between the sanity sets (tests/eval/test_swd.py).
- Both sets are normalized with the *reference* set's per-channel mean and
  standard deviation (ProGAN normalizes each set with its own statistics,
  which hides a global colour or contrast shift). `normalize="each"` gives
  ProGAN's behaviour.
- Sets of different sizes are compared on equally many descriptors (a
  seeded random subset of the larger).

Images: uint8 `[N, H, W, C]` in [0, 255] or float in [0, 1] (what
`GAN.generate` returns; read by `kgan.eval._images.image_range`, so [-1, 1],
0-255 floats or NaN are a `ConfigError`), any C, H and W >= 14 (two patches;
`kgan.eval.Evaluator` applies the SWD from 16 px). Everything is seeded: the
same call gives the same number.

Example:

```python
from kgan.eval import swd

metric = swd.SlicedWasserstein(real_images)             # uint8 or [0, 1] float
metric.distance(gan.generate(10_000, seed=0))          # {'swd_64': .., 'swd_32': .., 'swd_16': .., 'swd': ..}
metric.real_floor()                                    # two disjoint halves of the real set
swd.sliced_wasserstein_distance(a, b)["swd"]           # one call, a as the reference
```

Cost: ~45 CPU-seconds for two sets of 10,000 64x64 RGB images (numpy; the
sorts and products of the two sets run in two threads).
"""

import concurrent.futures

import numpy as np
import scipy.ndimage

PATCH = 7
MIN_RESOLUTION = 16
_TAPS = np.float32([1, 4, 6, 4, 1]) / 16.0
_CHUNK = 500


def _as_float(images):
    """uint8 or [0, 1] float images `[N, H, W, C]` as float32 in [0, 1] (the range read by
    `kgan.eval._images.image_range`; [-1, 1] and anything else is a `ConfigError`)."""
    from kgan.eval._images import image_range

    x = np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {x.shape}")
    x, kind = image_range(x, signed=False)
    if kind == "uint8":
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32, copy=False)


def _blur(x, axis, gain=1.0):
    """The 5-tap binomial filter (cv2.pyrDown's) along `axis`, reflected borders (cv2's BORDER_REFLECT_101)."""
    return scipy.ndimage.correlate1d(x, _TAPS * gain, axis=axis, mode="mirror")


def _down(x):
    """cv2.pyrDown: blur, keep every other row and column (each axis filtered only where it is kept)."""
    return _blur(_blur(x, 1)[:, ::2], 2)[:, :, ::2]


def _up(x, shape):
    """cv2.pyrUp: zeros between the samples, then the filter with gain 2 per axis, cropped to `shape`."""
    n, h, w, c = x.shape
    y = np.zeros((n, 2 * h, w, c), np.float32)
    y[:, ::2] = x
    y = _blur(y, 1, gain=2.0)[:, : shape[1]]
    z = np.zeros((n, y.shape[1], 2 * w, c), np.float32)
    z[:, :, ::2] = y
    return _blur(z, 2, gain=2.0)[:, :, : shape[2]]


def num_levels(height, width, min_resolution=MIN_RESOLUTION):
    """Pyramid levels: the full size, then one per halving while the side is above `min_resolution`.

    64 px: 64, 32, 16 (3 levels, as ProGAN); 28 px: 28, 14; 16 px: 16.
    """
    levels, side = 1, min(height, width)
    while side > min_resolution and side // 2 >= PATCH:
        side //= 2
        levels += 1
    return levels


def laplacian_pyramid(images, levels):
    """The Laplacian pyramid of float images `[N, H, W, C]`: `levels` arrays, finest first, coarsest a Gaussian."""
    pyramid = [images]
    for _ in range(1, levels):
        low = _down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - _up(low, pyramid[-1].shape)
        pyramid.append(low)
    return pyramid


def _patches(level, count, rng):
    """`count` random 7x7 neighbourhoods per image of `level` `[N, H, W, C]`, flattened: `[N * count, 49 C]`."""
    n, h, w, c = level.shape
    r = PATCH // 2
    ys = rng.integers(r, h - r, size=(n, count))
    xs = rng.integers(r, w - r, size=(n, count))
    offsets = np.arange(-r, r + 1)
    rows = ys[..., None, None] + offsets[:, None]  # [n, count, 7, 1]
    cols = xs[..., None, None] + offsets[None, :]  # [n, count, 1, 7]
    img = np.arange(n)[:, None, None, None]
    return level[img, rows, cols].reshape(n * count, PATCH * PATCH * c)


def descriptors(images, patches_per_image=32, min_resolution=MIN_RESOLUTION, seed=0):
    """Per pyramid level (finest first), the raw descriptors `[N * patches_per_image, 49 C]` of `images`."""
    x = _as_float(images)
    n, h, w, c = x.shape
    if min(h, w) < PATCH * 2:
        raise ValueError(f"images must be at least {2 * PATCH} px on each side for SWD, got {h}x{w}")
    levels = num_levels(h, w, min_resolution)
    rng = np.random.default_rng(seed)
    out = [[] for _ in range(levels)]
    for i in range(0, n, _CHUNK):
        for lod, level in enumerate(laplacian_pyramid(x[i : i + _CHUNK], levels)):
            out[lod].append(_patches(level, patches_per_image, rng))
    return [np.concatenate(d) for d in out]


def _stats(desc, channels):
    """Per-channel mean and standard deviation of descriptors `[M, 49 C]` (channels last in each patch)."""
    flat = desc.reshape(-1, channels)
    total, squares = np.zeros(channels), np.zeros(channels)
    for i in range(0, len(flat), 1 << 20):
        part = flat[i : i + (1 << 20)].astype(np.float64)
        total += part.sum(0)
        squares += (part * part).sum(0)
    mean = total / len(flat)
    std = np.sqrt(np.maximum(squares / len(flat) - mean**2, 0)) + 1e-8
    return mean.astype(np.float32), std.astype(np.float32)


def _normalized(desc, mean, std, channels):
    reps = desc.shape[1] // channels
    return (desc - np.tile(mean, reps)) * np.tile(1 / std, reps)


def _sorted_projections(desc, dirs):
    return np.sort((desc @ dirs).T, axis=1)  # [directions, M]: rows contiguous for the sort


def sliced_wasserstein(a, b, directions=256, seed=0, pool=None):
    """Sliced Wasserstein-1 distance between descriptor sets `a`, `b` `[M, D]` (equal M) over random unit directions."""
    if a.shape != b.shape:
        raise ValueError(f"descriptor sets differ in shape: {a.shape} and {b.shape}")
    dirs = np.random.default_rng(seed).standard_normal((a.shape[1], directions)).astype(np.float32)
    dirs /= np.sqrt((dirs**2).sum(0, keepdims=True))
    if pool is not None:
        pa, pb = pool.map(lambda d: _sorted_projections(d, dirs), (a, b))
    else:
        pa, pb = _sorted_projections(a, dirs), _sorted_projections(b, dirs)
    return float(np.abs(pa - pb).mean())


def _level_names(height, width, levels):
    return [f"swd_{min(height, width) >> i}" if min(height, width) % (1 << i) == 0 else f"swd_level{i}"
            for i in range(levels)]


class SlicedWasserstein:
    """The SWD of image sets against one reference set, whose descriptors are computed once.

    Args:
        reference: the real images (uint8 or float in [0, 1]), `[N, H, W, C]`.
        patches_per_image: 7x7 descriptors taken per image and level.
        directions: random projection directions per level.
        normalize: "reference" (both sets with the reference's per-channel
            statistics) or "each" (each set with its own, as ProGAN).
        seed: seeds the patch positions and the directions.
    """

    def __init__(self, reference, patches_per_image=32, directions=256, normalize="reference",
                 min_resolution=MIN_RESOLUTION, seed=0):
        if normalize not in ("reference", "each"):
            raise ValueError(f"normalize must be 'reference' or 'each', got {normalize!r}")
        self.reference = np.asarray(reference)
        self.patches_per_image = int(patches_per_image)
        self.directions = int(directions)
        self.normalize = normalize
        self.min_resolution = int(min_resolution)
        self.seed = int(seed)
        _, self.height, self.width, self.channels = self.reference.shape
        self._ref = self._descriptors(self.reference, self.seed)
        self._ref_stats = [_stats(d, self.channels) for d in self._ref]
        self.names = _level_names(self.height, self.width, len(self._ref))

    def _descriptors(self, images, seed):
        return descriptors(images, self.patches_per_image, self.min_resolution, seed=seed)

    def _score(self, ref_desc, ref_stats, images, seed):
        x = np.asarray(images)
        if x.shape[1:] != (self.height, self.width, self.channels):
            raise ValueError(f"images are {x.shape[1:]}, the reference set {(self.height, self.width, self.channels)}")
        result = {}
        rng = np.random.default_rng(seed + 1)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # numpy's sort and matmul release the GIL
            for name, a, (mean, std), b in zip(self.names, ref_desc, ref_stats, self._descriptors(x, seed + 1)):
                m = min(len(a), len(b))
                if len(a) > m:
                    a = a[np.sort(rng.choice(len(a), m, replace=False))]
                if len(b) > m:
                    b = b[np.sort(rng.choice(len(b), m, replace=False))]
                b_mean, b_std = (mean, std) if self.normalize == "reference" else _stats(b, self.channels)
                a = _normalized(a, mean, std, self.channels)
                b = _normalized(b, b_mean, b_std, self.channels)
                result[name] = 1e3 * sliced_wasserstein(a, b, self.directions, seed=self.seed, pool=pool)
        result["swd"] = float(np.mean(list(result.values())))
        return result

    def distance(self, images, seed=None):
        """`{"swd_<size>": ×10³ per pyramid level, ..., "swd": their mean}` of `images` against the reference."""
        return self._score(self._ref, self._ref_stats, images, self.seed if seed is None else int(seed))

    def real_floor(self):
        """The SWD between two disjoint random halves of the reference set (what real data scores).

        Each half has half the images, so this floor sits a little above what a
        full-size second real set would score.
        """
        n = len(self.reference)
        order = np.random.default_rng(self.seed).permutation(n)
        half_a, half_b = self.reference[np.sort(order[: n // 2])], self.reference[np.sort(order[n // 2 :])]
        ref = self._descriptors(half_a, self.seed)
        return self._score(ref, [_stats(d, self.channels) for d in ref], half_b, self.seed)


def sliced_wasserstein_distance(reference, images, **kwargs):
    """The multi-scale SWD of `images` against `reference` (see `SlicedWasserstein` for the arguments).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.integers(0, 256, (2, 200, 32, 32, 3), dtype=np.uint8)
    >>> sorted(sliced_wasserstein_distance(a, b))
    ['swd', 'swd_16', 'swd_32']
    """
    return SlicedWasserstein(reference, **kwargs).distance(images)
