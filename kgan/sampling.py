"""What users do with a trained generator: truncated latents, interpolations, sample folders.

- `truncate(latents, psi)`: the truncation trick (Brock et al. 2019, "BigGAN";
  StyleGAN's ψ). `mode="shrink"` moves every latent toward the mean of the
  prior (0 for N(0, I)) by the factor ψ: ψ = 1 leaves it, ψ = 0 gives the
  "average" image. `mode="resample"` redraws each component whose magnitude
  exceeds `threshold` until it falls inside (BigGAN's truncated normal). Both
  trade diversity (recall) for fidelity (precision).
- `slerp(a, b, t)`, `interpolation_latents(seeds, steps, latent_dim)`: spherical
  interpolation between the latents of seeds (a Gaussian latent's norm stays
  near sqrt(d) along a great circle; a straight line passes through
  low-norm, atypical latents).
- `write_samples(gan, num, out, seed)`: N images as `000000.png, ...` in a
  folder (what clean-fid, torch-fidelity and pytorch-fid read) or one `.npz`
  holding uint8 `[N, H, W, C]` under the key `arr_0` (what `np.savez(path, x)`
  writes, and what OpenAI's guided-diffusion evaluator reads). Same seed, same
  bytes. Nothing is overwritten: an existing `.npz`, GIF or grid, or a folder
  that holds PNGs, is refused (`check_output`, `check_new_file`) before the
  images are generated.

A self-conditioned generator (`kgan.features.clusters`) picks its cluster from
latent component 0; truncating that component would crowd the samples into the
middle clusters, so `GAN.generate(..., truncation=ψ)` leaves it alone
(`keep=1`), as BigGAN truncates the noise but not the class. The generator's
layer says so (`latent_components_kept`, read by `kept_components`): nothing
here knows the features.

Nothing here imports `kgan.gan`: the functions take any object with
`latent_dim`, `latents(n, seed)` and `generate(...)`.
"""

import contextlib
import io
import os
import tempfile

import numpy as np

from kgan.errors import ConfigError
from kgan.io import existing_ancestor

MODES = ("shrink", "resample")
FORMATS = ("png", "npz")
NPZ_KEY = "arr_0"


def check_psi(psi):
    """ψ as a float in [0, 1], or a ConfigError."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(psi) <= 1.0:
        raise ConfigError(f"truncation psi must be a number in [0, 1] (1 = no truncation), got {psi!r}")
    return float(psi)


def truncate(latents, psi=1.0, mode="shrink", threshold=None, seed=0, keep=0):
    """The truncation trick on latents `[B, d]` drawn from N(0, I); returns float32 `[B, d]`.

    Args:
        latents: float array `[B, d]`.
        psi: shrink factor in [0, 1] toward the mean 0 (`mode="shrink"`; 1 = unchanged).
            With `mode="resample"` it is applied after resampling (default 1: none).
        mode: "shrink" (StyleGAN's ψ) or "resample" (BigGAN: redraw components with
            |z_i| > threshold from N(0, 1) until inside).
        threshold: the resampling bound (> 0), required for `mode="resample"`.
        seed: seeds the redraws of `mode="resample"` (same seed, same latents).
        keep: leave the first `keep` components untouched (1 for a self-conditioned
            generator, whose cluster choice reads component 0).

    Example:

    >>> truncate(np.array([[2.0, -1.0]], "float32"), 0.5)
    array([[ 1. , -0.5]], dtype=float32)
    >>> bool(np.abs(truncate(np.random.normal(size=(64, 8)), mode="resample", threshold=1.0)).max() <= 1.0)
    True
    """
    z = np.array(latents, dtype="float32", copy=True)
    if z.ndim != 2:
        raise ConfigError(f"latents must have shape [batch, latent_dim], got {list(z.shape)}")
    psi = check_psi(psi)
    if mode not in MODES:
        raise ConfigError(f"unknown truncation mode {mode!r}: expected one of {', '.join(MODES)}")
    keep = int(keep)
    tail = z[:, keep:]
    if mode == "resample":
        if threshold is None or isinstance(threshold, bool) or not float(threshold) > 0:
            raise ConfigError(f"mode='resample' needs a threshold > 0, got {threshold!r}")
        t = float(threshold)
        rng = np.random.default_rng(int(seed))
        for _ in range(10_000):
            outside = np.abs(tail) > t
            if not outside.any():
                break
            tail[outside] = rng.standard_normal(int(outside.sum())).astype("float32")
        else:  # pragma: no cover - needs a threshold so small that 10,000 redraws miss
            np.clip(tail, -t, t, out=tail)
    elif threshold is not None:
        raise ConfigError("threshold applies to mode='resample' only")
    if psi != 1.0:
        # The same float32 product the exported `generate` signature computes.
        tail *= np.float32(psi)
    z[:, keep:] = tail
    return z


def slerp(a, b, t):
    """Spherical interpolation from `a` (t = 0) to `b` (t = 1), on vectors `[d]` or rows `[B, d]`.

    Falls back to linear interpolation when `a` and `b` are (anti)parallel.

    Example:

    >>> slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.5).round(4)
    array([0.7071, 0.7071])
    """
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    t = np.asarray(t, dtype="float64")
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    so = np.sin(omega)
    t_ = t[..., None] if t.ndim and t.ndim == a.ndim - 1 else t  # one t per row
    with np.errstate(invalid="ignore", divide="ignore"):
        spherical = (np.sin((1.0 - t_) * omega) * a + np.sin(t_ * omega) * b) / so
    linear = (1.0 - t_) * a + t_ * b
    return np.where(so > 1e-6, spherical, linear)


def _check_seeds(seeds):
    if isinstance(seeds, str):
        try:
            seeds = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError as e:
            raise ConfigError(f"seeds must be comma-separated integers, got {seeds!r}") from e
    seeds = list(seeds)
    if len(seeds) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in seeds):
        raise ConfigError(f"an interpolation needs at least two integer seeds, got {seeds!r}")
    return [int(s) for s in seeds]


def seed_latent(seed, latent_dim):
    """The latent of `seed`: the first row of `GAN.latents(n, seed)` (so frame k is `generate(1, seed=k)`)."""
    import keras

    z = keras.random.normal((1, int(latent_dim)), seed=int(seed))
    return keras.ops.convert_to_numpy(z)[0]


def interpolation_latents(seeds, steps, latent_dim, keep=0):
    """Latents float32 `[(len(seeds) - 1) * steps + 1, latent_dim]` along great circles seed to seed.

    Each segment has `steps` frames; the frames at 0, steps, 2 * steps, ... are
    the seeds' own latents (those `GAN.generate(1, seed=s)` uses). The first
    `keep` components are not interpolated but switch from one seed's value to
    the next at mid-segment: for a self-conditioned generator (`keep=1`) a
    continuous path of component 0 would cross every cluster in between, so
    the digit would change class every frame; this way it changes once.

    Example:

    >>> interpolation_latents([0, 1], 4, 100).shape
    (5, 100)
    """
    seeds = _check_seeds(seeds)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
    keys = [seed_latent(s, latent_dim) for s in seeds]
    t = np.arange(steps, dtype="float64") / steps
    frames = []
    for a, b in zip(keys[:-1], keys[1:]):
        seg = np.empty((steps, len(a)), dtype="float64")
        seg[:, :keep] = np.where(t[:, None] < 0.5, a[:keep], b[:keep])
        seg[:, keep:] = slerp(np.broadcast_to(a[keep:], (steps, len(a) - keep)),
                              np.broadcast_to(b[keep:], (steps, len(b) - keep)), t)
        frames.append(seg)
    frames.append(keys[-1][None].astype("float64"))
    out = np.concatenate(frames, 0).astype("float32")
    for i, k in enumerate(keys):  # exact key frames (slerp at t = 0 is exact up to rounding)
        out[i * steps] = k
    return out


def to_uint8(images):
    """Float images in [0, 1] to uint8 with round-half-up, as the exported `generate_uint8` signature.

    Example:

    >>> to_uint8(np.array([0.0, 0.5, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    x = np.clip(np.asarray(images, dtype="float32"), 0.0, 1.0)
    return np.floor(x * np.float32(255.0) + np.float32(0.5)).astype("uint8")


def png_bytes(image):
    """One uint8 image `[H, W, C]` (C = 1 or 3) as PNG bytes (grayscale or RGB)."""
    from PIL import Image

    image = np.asarray(image)
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def _progbar(total, enabled):
    if not enabled:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="image")


def output_format(out, format=None):
    """"npz" for a path ending in .npz, "png" (a folder) otherwise, unless `format` says.

    Without `format`, a name with another file suffix (`s.txt`, `s.png`) is a
    ConfigError rather than a folder of that name: end it in `/` (or create the
    folder first) to mean a folder. A suffix of digits (`samples_psi0.7`) is a folder.
    """
    if format is None:
        format = "npz" if str(out).lower().endswith(".npz") else "png"
        if format == "png" and not str(out).endswith(("/", os.sep)) and not os.path.isdir(out):
            ext = os.path.splitext(os.path.basename(os.fspath(out)))[1]
            if any(c.isalpha() for c in ext):
                raise ConfigError(f"{out} ends in {ext}: expected a FILE.npz or a folder for PNGs "
                                  f"(a name without a suffix, or ending in /)")
    if format not in FORMATS:
        raise ConfigError(f"unknown sample format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "npz" and not str(out).lower().endswith(".npz"):
        raise ConfigError(f"an npz output must be a file name ending in .npz, got {out}")
    return format


def _cannot_create_in(folder):
    """None if a file can be created in the existing folder `folder`, else the OS's reason (a probe file is
    created and removed)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".kgan-write-test-")
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    os.remove(probe)
    return None


def _check_folder(out):
    """A ConfigError unless PNGs can be written to the folder `out` (made if missing) and it holds none yet."""
    if os.path.isdir(out):
        if any(n.endswith(".png") for n in os.listdir(out)):
            raise ConfigError(f"{out} already holds PNG files: pick an empty or new folder")
        where = out
    else:
        where = existing_ancestor(out)
        if os.path.normpath(where) == os.path.normpath(out):
            raise ConfigError(f"{out} is a file, not a folder: PNG samples go to a folder")
        if not os.path.isdir(where):
            raise ConfigError(f"cannot write {out}: {where} is a file, not a folder")
    reason = _cannot_create_in(where)
    if reason:
        raise ConfigError(f"cannot write {out}: {reason} (creating a file in {where})")


def check_new_file(path, make_parents=False):
    """A ConfigError unless `path` can be written as a new file: it must not exist (sample files are never
    overwritten), and its folder must exist (or, with `make_parents`, be creatable) and take new files."""
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            raise ConfigError(f"{path} is a folder, not a file")
        if os.path.lexists(path):
            raise ConfigError(f"{path} already exists: pick a new file name")
        parent = os.path.dirname(os.path.normpath(path)) or "."
        where = existing_ancestor(parent)
        if not os.path.isdir(where):
            raise ConfigError(f"cannot write {path}: {where} is a file, not a folder")
        if os.path.normpath(where) != os.path.normpath(parent) and not make_parents:
            raise ConfigError(f"cannot write {path}: folder {parent} does not exist")
        reason = _cannot_create_in(where)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from e
    if reason:
        raise ConfigError(f"cannot write {path}: {reason} (creating a file in {where})")


def check_output(out, format=None):
    """The format of `out` ("png" or "npz", see `output_format`) once samples can be written there, else a
    ConfigError that says why: a file that exists (never overwritten), a folder that already holds PNGs, a
    path under a file, a folder that does not exist (.npz) or takes no new files (with the OS's reason).

    Nothing is left behind: call it before a long generation.
    """
    format = output_format(out, format)
    out = os.fspath(out)
    if format == "npz":
        check_new_file(out)
        return format
    try:
        _check_folder(out)
    except OSError as e:
        raise ConfigError(f"cannot write {out}: {e.strerror or e}") from e
    return format


def write_samples(gan, num, out, seed=0, format=None, batch_size=256, progress=True, truncation=None,
                  labels=None):
    """Writes `num` generated images to `out`; returns the path(s) written.

    `format="png"` (default unless `out` ends in `.npz`): the folder `out` gets
    `000000.png`, `000001.png`, ... (8-bit grayscale or RGB). It must not hold
    PNGs already (a half-overwritten folder would mix two sample sets).
    `format="npz"`: one new file holding uint8 `[num, H, W, C]` under `arr_0`,
    written atomically; an existing file is never overwritten. Where `out`
    cannot be written (see `check_output`) it is a ConfigError before anything
    is generated; an OSError while writing (a full disk) propagates. The images are those of
    `gan.generate(num, seed=seed, truncation=truncation)`, rounded to uint8;
    the same arguments write the same bytes.

    Example:

    ```python
    write_samples(gan, 50_000, "samples/")        # then: python -m pytorch_fid samples/ real/
    write_samples(gan, 50_000, "samples.npz")
    ```
    """
    from kgan.io import atomic_write

    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ConfigError(f"num must be a positive integer, got {num!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if truncation is not None:
        check_psi(truncation)
    format = check_output(out, format)
    out = os.fspath(out)
    if format == "png":
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot write {out}: {e.strerror or e}") from e
    digits = max(6, len(str(num - 1)))
    # All latents (and labels) up front, as generate(num, seed) draws them, then batch by batch.
    latents = gan.latents(num, seed)
    if truncation is not None:
        latents = truncate(latents, truncation, keep=_keep(gan))
    labels = gan.check_labels(labels, num) if hasattr(gan, "check_labels") else labels
    bar = _progbar(num, progress)
    chunks, written = [], []
    for start in range(0, num, batch_size):
        stop = min(num, start + batch_size)
        batch = gan.generate(stop - start, latents=latents[start:stop], batch_size=batch_size,
                             labels=None if labels is None else labels[start:stop])
        batch = to_uint8(batch)
        if format == "png":
            for i, image in enumerate(batch, start):
                path, data = os.path.join(out, f"{i:0{digits}d}.png"), png_bytes(image)
                try:
                    with open(path, "wb") as f:
                        f.write(data)
                except OSError:  # e.g. a full disk: no truncated PNG among the ones written
                    with contextlib.suppress(OSError):
                        os.remove(path)
                    raise
        else:
            chunks.append(batch)
        if bar is not None:
            bar.update(stop)
    if format == "npz":
        buf = io.BytesIO()
        np.savez(buf, **{NPZ_KEY: np.concatenate(chunks, 0)})
        check_new_file(out)  # again: another process may have written it meanwhile
        atomic_write(out, buf.getvalue())
        return out
    return out


def kept_components(generator):
    """How many leading latent components pick something discrete and must not be truncated or slerped.

    A layer says so with a `latent_components_kept` attribute (e.g. the
    `LatentCluster` of a self-conditioned generator reads its cluster from
    component 0: 1). 0 for other generators.
    """
    layers = generator._flatten_layers() if hasattr(generator, "_flatten_layers") else ()
    return max([int(getattr(layer, "latent_components_kept", 0) or 0) for layer in layers] or [0])


def _keep(gan):
    """`kept_components` of the network `gan` samples with (a GAN, or a generator itself)."""
    return kept_components(getattr(gan, "sampling_generator", None) or getattr(gan, "generator", gan))


def interpolate(gan, seeds, steps=8, truncation=None, label=None):
    """Images float32 `[frames, H, W, C]` in [0, 1] along a spherical path through the seeds' latents."""
    z = interpolation_latents(seeds, steps, gan.latent_dim, keep=_keep(gan))
    if truncation is not None:
        z = truncate(z, truncation, keep=_keep(gan))
    labels = None
    if getattr(gan, "num_classes", None):
        labels = gan.check_labels(0 if label is None else label, len(z))
    return gan.generate(len(z), latents=z, labels=labels)


def write_interpolation(images, gif_path=None, grid_path=None, steps=None, scale=4, duration_ms=120):
    """Writes frames `[F, H, W, C]` in [0, 1] as an animated GIF and/or a PNG grid; returns the paths.

    With `steps` (the frames per segment of `interpolation_latents`), the grid
    has one row per segment, from one seed to the next, both ends included
    (the shared seed frames appear twice); without it, one row of all frames.
    `scale` enlarges the GIF frames (nearest neighbour) so 28-pixel digits are visible.
    Both paths are new files (`check_new_file`; their folders are made if missing): an
    existing one is a ConfigError before either is written.
    """
    from kgan import images as images_lib
    from kgan.io import atomic_write

    for path in (gif_path, grid_path):
        if path:
            check_new_file(path, make_parents=True)
    images = np.asarray(images, dtype="float32")
    written = []
    if grid_path:
        if steps and (len(images) - 1) % steps == 0 and len(images) > steps:
            rows = [images[k * steps : (k + 1) * steps + 1] for k in range((len(images) - 1) // steps)]
            grid = images_lib.make_grid(np.concatenate(rows), ncols=steps + 1)
        else:
            grid = images_lib.make_grid(images, ncols=len(images))
        atomic_write(grid_path, images_lib.png_bytes(grid))
        written.append(grid_path)
    if gif_path:
        frames = [np.repeat(np.repeat(to_uint8(f), scale, 0), scale, 1) for f in images]
        atomic_write(gif_path, images_lib.gif_bytes(frames, duration_ms=duration_ms))
        written.append(gif_path)
    return written
