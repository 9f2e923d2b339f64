"""Fréchet distance between Gaussian fits of two feature sets.

d² = |mu1 - mu2|² + Tr(C1 + C2 - 2 (C1 C2)^½), as in the FID of Heusel et al.,
"GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017 (https://arxiv.org/abs/1706.08500). Computed in
float64 with symmetric eigendecompositions (no scipy needed).
"""

import numpy as np

from kgan.errors import ConfigError


def rows(features, dtype):
    """`features` as a `[N, D]` array of `dtype` (each row flattened; `[N]` is N rows of one feature)."""
    f = np.asarray(features, dtype)
    return f.reshape(len(f), -1) if f.size else f.reshape(len(f), 0)


def check_features(x, y, min_rows, what, why, names=("first", "second")):
    """`ConfigError` unless `x` and `y` (`[N, D]` and `[M, D]`, called `names`) have equal D, only finite values
    and at least `min_rows` rows each (`why`: what needs them); `what` names the metric."""
    if len(x) < min_rows or len(y) < min_rows:
        raise ConfigError(f"{what} needs at least {min_rows} feature rows per set ({why}), got {len(x)} "
                          f"({names[0]}) and {len(y)} ({names[1]})")
    if x.shape[1] != y.shape[1]:
        raise ConfigError(f"feature sizes differ: {x.shape[1]} ({names[0]}) and {y.shape[1]} ({names[1]}); "
                          f"{what} needs the same features for both sets")
    for name, f in zip(names, (x, y)):
        if not np.isfinite(f).all():
            raise ConfigError(f"the {name} set's features hold {int((~np.isfinite(f)).sum()):,} NaN or infinite "
                              f"values (of {f.size:,}): {what} takes finite features")


def _sqrtm_psd(c):
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(x, y):
    """Fréchet distance between features `x` `[N, D]` and `y` `[M, D]` (finite, at least 2 rows each: covariances).

    Example:

    >>> x = np.random.default_rng(0).normal(size=(500, 8))
    >>> round(frechet_distance(x, x), 6)
    0.0
    """
    x, y = rows(x, "float64"), rows(y, "float64")
    check_features(x, y, 2, "the Fréchet distance", "covariances")
    mu1, mu2 = x.mean(0), y.mean(0)
    c1, c2 = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))  # [1, 1] for D = 1
    s1 = _sqrtm_psd(c1)
    # Tr((C1 C2)^½) = Tr((S1 C2 S1)^½) with S1 = C1^½, which is symmetric PSD.
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ c2 @ s1), 0, None)).sum()
    return float(max(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * cross, 0.0))


def pixel_features(images, pool=2):
    """Average-pooled pixels `[N, H/pool * W/pool * C]`: a cheap feature space for tests and quick checks."""
    images = np.asarray(images, "float32")
    n, h, w, c = images.shape
    h2, w2 = h // pool, w // pool
    x = images[:, : h2 * pool, : w2 * pool].reshape(n, h2, pool, w2, pool, c).mean((2, 4))
    return x.reshape(n, -1)
