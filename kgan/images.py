"""Image grids, PNG and GIF writing for samples (used by the callbacks and the CLIs)."""

import io
import math

import numpy as np


def make_grid(images, ncols=None, padding=2, pad_value=1.0):
    """Tiles `images` `[N, H, W, C]` in [0, 1] into one uint8 image `[rows*H', cols*W', C]`.

    Example:

    >>> make_grid(np.zeros((16, 28, 28, 1))).shape
    (122, 122, 1)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full(
        (nrows * (h + padding) + padding, ncols * (w + padding) + padding, c), pad_value, dtype="float32"
    )
    for i in range(n):
        r, k = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y : y + h, x : x + w] = images[i]
    return (np.clip(grid, 0, 1) * 255 + 0.5).astype("uint8")


def _pil(grid):
    from PIL import Image

    return Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)


def png_bytes(grid):
    """PNG encoding of a uint8 grid from `make_grid`."""
    buf = io.BytesIO()
    _pil(grid).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(grids, duration_ms=300):
    """An animated GIF of uint8 grids (e.g. one per epoch); the last frame is held longer."""
    frames = [_pil(g).convert("P") if g.shape[-1] == 3 else _pil(g) for g in grids]
    buf = io.BytesIO()
    durations = [duration_ms] * (len(frames) - 1) + [duration_ms * 5]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buf.getvalue()
