"""The one rule by which kgan's metrics read an image set's value range (`image_range`).

- uint8 images are [0, 255].
- Other images (floats) are [0, 1] when every value lies within `TOLERANCE` of [0, 1], and then
  clipped to [0, 1] (rounding or resampling can overshoot a little).
- Otherwise, where the caller takes [-1, 1] (`signed=True`: the generator's range, which the
  reference classifier, `Evaluator` and `kgan.eval.copying.pixel_space` document), they are [-1, 1]
  when every value lies within `TOLERANCE` of it, and then clipped to [-1, 1].
- Anything else (0-255 floats, NaN, infinities) is a `ConfigError` naming what was found and what is allowed.

A [-1, 1] set whose values are all >= 0 reads as [0, 1]: the two ranges overlap, and a set decides by its
smallest value. Every set is read as a whole, never image by image.

Example:

>>> image_range(np.zeros((2, 4, 4, 1), "uint8"))[1], image_range(np.full((2, 4, 4, 1), 1.001))[1]
('uint8', 'unit')
>>> image_range(np.linspace(-1, 1, 32).reshape(2, 4, 4, 1))[1]
'signed'
>>> try:
...     image_range(np.full((2, 4, 4, 1), 255.0))
... except ConfigError as e:
...     print(e)
images hold values in [255, 255] (float64): allowed are uint8 in [0, 255], or floats in [0, 1] or [-1, 1]
"""

import numpy as np

from kgan.errors import ConfigError

TOLERANCE = 2e-3  # how far (rounding) float values may lie outside [0, 1] or [-1, 1]; clipped in


def allowed_ranges(signed=True):
    """What `image_range` takes, as text."""
    return "uint8 in [0, 255], or floats in [0, 1]" + (" or [-1, 1]" if signed else "")


def image_range(images, signed=True, what="images"):
    """`(x, kind)`: `images` as an array (floats clipped into their range) and their range `kind`: "uint8"
    ([0, 255]), "unit" (floats in [0, 1]) or "signed" (floats in [-1, 1], only if `signed`).

    Raises `ConfigError` (naming `what`) for NaN or infinite values and for values outside every allowed range
    by more than `TOLERANCE`. Values inside their range are returned unchanged (the same array when no value
    needs clipping)."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x, "uint8"
    if not x.size:
        return x, "unit"
    lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        raise ConfigError(f"{what} hold {nan:,} NaN and {inf:,} infinite values (of {x.size:,}): allowed are "
                          f"finite values, {allowed_ranges(signed)}")
    if lo >= -TOLERANCE and hi <= 1 + TOLERANCE:
        return (np.clip(x, 0, 1) if lo < 0 or hi > 1 else x), "unit"
    if signed and lo >= -1 - TOLERANCE and hi <= 1 + TOLERANCE:
        return (np.clip(x, -1, 1) if lo < -1 or hi > 1 else x), "signed"
    raise ConfigError(f"{what} hold values in [{float(lo):.4g}, {float(hi):.4g}] ({x.dtype}): allowed are "
                      f"{allowed_ranges(signed)}")
