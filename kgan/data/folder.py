"""A folder of PNG/JPEG images, class labels from subfolder names.

All files are checked (decoded once) before training, so an unreadable file or
a mix of sizes is a one-line `DataError` naming the file, not a crash mid-run.
Grayscale folders stay one channel; anything else is read as RGB.
"""

import collections
import functools
import hashlib
import logging
import os

import numpy as np
import tensorflow as tf

from kgan.errors import DataError
from kgan.io import version

log = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_images(directory):
    """The image files under `directory`, sorted, symlinked subfolders followed (each real folder once)."""
    paths, seen = [], set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or two links to one folder: its images once
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        paths += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(EXTENSIONS)]
    return paths


def has_images(directory):
    return os.path.isdir(directory) and bool(list_images(directory))


def _inspect(paths, image_size):
    """`((h, w), channels)` of the images at `paths`, every one decoded once per process: a run reads its folder
    up to five times at start (the training part, k-means, the metrics' real sides), the same unchanged files."""
    return _inspect_files(tuple(_stat(p) for p in paths), tuple(image_size) if image_size else None)


@functools.lru_cache(maxsize=16)
def _inspect_files(files, image_size):
    """`_inspect` of `files`, `kgan.io.version` each: a file changed since is a new key, decoded again."""
    from PIL import Image, UnidentifiedImageError

    paths = [f[0] for f in files]
    sizes, modes, bad = {}, collections.Counter(), []
    for p in paths:
        try:
            with Image.open(p) as im:
                im.verify()
            with Image.open(p) as im:
                im.load()  # the pixels too: a file whose headers pass but whose data does not would fail mid-run
                sizes.setdefault(im.size, p)
                modes[im.mode] += 1
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
            bad.append((p, type(e).__name__))
    if len(bad) == 1:
        raise DataError(f"{bad[0][0]}: not a readable image ({bad[0][1]})")
    if bad:  # all of them at once: cleaning a folder should not take a run per file
        named = ", ".join(f"{p} ({why})" for p, why in bad[:3])
        raise DataError(f"{len(bad)} files are not readable images: {named}"
                        + (f" and {len(bad) - 3} more" if len(bad) > 3 else ""))
    if len(sizes) > 1 and image_size is None:
        (s1, p1), (s2, p2) = list(sizes.items())[:2]
        raise DataError(
            f"images differ in size: {p1} is {s1[0]}x{s1[1]}, {p2} is {s2[0]}x{s2[1]}: pass image_size=(H, W) to "
            "resize (train.py: --image_size=H,W)"
        )
    grayscale = set(modes) <= {"L", "1", "I;16", "I"}
    (w, h) = next(iter(sizes))
    return (image_size or (h, w)), (1 if grayscale else 3)


def class_names(directory, paths=None):
    """The class names of a labelled image folder, sorted: its subfolders that hold images (label i is the i-th).

    `paths`: its images, if listed already. Raises `DataError` if an image sits outside a class subfolder.
    """
    paths = list_images(directory) if paths is None else paths
    if any(os.path.dirname(os.path.relpath(p, directory)) == "" for p in paths):
        raise DataError(f"{directory}: with labels, images must sit in one subfolder per class")
    return sorted({os.path.relpath(p, directory).split(os.sep)[0] for p in paths})


def load_folder(directory, with_labels=False, image_size=None):
    """An unbatched dataset of uint8 images `[H, W, C]` (and int32 labels) and its size."""
    if not os.path.isdir(directory):
        raise DataError(f"data folder {directory} does not exist")
    paths = list_images(directory)
    if not paths:
        raise DataError(f"no images (*.png, *.jpg, *.jpeg) in {directory}: the folder is empty of images")
    (h, w), channels = _inspect(paths, image_size)
    labels = None
    if with_labels:
        classes = class_names(directory, paths)
        index = {c: i for i, c in enumerate(classes)}
        labels = [index[os.path.relpath(p, directory).split(os.sep)[0]] for p in paths]
        log.info("classes: %s", ", ".join(classes))
    log.info("found %d image%s in %s (%dx%dx%d)", len(paths), "" if len(paths) == 1 else "s", directory, h, w,
             channels)

    def decode(path):
        x = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        x = tf.image.resize(x, (h, w), method="area") if image_size else x
        return tf.cast(tf.ensure_shape(tf.cast(x, tf.float32), (h, w, channels)), tf.uint8)

    ds = tf.data.Dataset.from_tensor_slices(paths)
    options = tf.data.Options()
    # Decoded images come from a list of paths, not a file-reading dataset, so
    # tf.data cannot shard by FILE; DATA gives each worker its own examples.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if labels is not None:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.from_tensor_slices(tf.constant(labels, tf.int32))))
        ds = ds.map(lambda p, y: (decode(p), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.with_options(options), len(paths)


def identity(directory):
    """`(fingerprint, groups)` of the images under `directory`, for `kgan.data.split`.

    `fingerprint` is `{"images": N, "sha256": ...}` over every file's path (relative to `directory`) and bytes, in
    the order the folder is read: any added, removed, renamed or changed file changes it. `groups` is int `[N]`,
    equal for byte-identical files (copies, links to one file), so a held-out image never has a copy among the
    training images. Computed once per process while the files are unchanged (a run asks for it several times at
    start).
    """
    paths = list_images(directory)
    if not paths:
        raise DataError(f"no images (*.png, *.jpg, *.jpeg) in {directory}: the folder is empty of images")
    return _identity(directory, tuple(_stat(p) for p in paths))


def _stat(path):
    try:
        return version(path)
    except OSError as e:
        raise DataError(f"{path}: not a readable image ({e.strerror})") from e


@functools.lru_cache(maxsize=16)
def _identity(directory, files):
    """`identity` of `directory` holding `files` (`kgan.io.version` each: a file changed since is a new key)."""
    digests = []
    for path, *_ in files:
        try:
            with open(path, "rb") as f:
                digests.append(hashlib.file_digest(f, "sha256").hexdigest())
        except OSError as e:
            raise DataError(f"{path}: not a readable image ({e.strerror})") from e
    listing = "".join(f"{os.path.relpath(f[0], directory)}\t{d}\n" for f, d in zip(files, digests))
    index = {}
    groups = np.array([index.setdefault(d, len(index)) for d in digests], np.int64)
    groups.flags.writeable = False
    if len(index) < len(files):
        log.info("%s: %d of its %d images are byte-identical copies of others; copies stay on one side of the "
                 "held-out split", directory, len(files) - len(index), len(files))
    return {"images": len(files), "sha256": hashlib.sha256(listing.encode()).hexdigest()}, groups
