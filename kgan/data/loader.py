"""Finding a data source by name and turning it into a `tf.data` pipeline: `load`, `arrays`.

`SOURCES` maps a source name to a function returning an unbatched dataset of
uint8 images (and labels) and its size; `source_for` picks one for a dataset
name and a `data_dir`; `load` and `arrays` apply the held-out split
(`split.py`) and the shared pipeline (`pipeline.py`). See the package
docstring (`kgan.data`) for the whole picture.
"""


import logging
import os

from kgan import checks
from kgan.data import folder, idx, pipeline, split as splits, tfds
from kgan.errors import DataError

log = logging.getLogger(__name__)


def _idx_source(name, data_dir, split, with_labels, image_size):
    images, labels = idx.load_idx(data_dir, split=split, with_labels=with_labels)
    if image_size:
        raise DataError("image_size is not supported for IDX data (MNIST images are 28x28)")
    return pipeline.from_arrays(images, labels), len(images)


def _folder_source(name, data_dir, split, with_labels, image_size):
    return folder.load_folder(data_dir, with_labels=with_labels, image_size=image_size)


def unknown_dataset(name):
    """The `DataError` for a dataset name that is neither a TFDS dataset nor one of `SOURCES`."""
    return DataError(tfds.UNKNOWN.format(name=name, local=", ".join(repr(s) for s in SOURCES if s != "tfds")))


def _tfds_source(name, data_dir, split, with_labels, image_size):
    if not tfds.is_dataset_name(name):
        raise unknown_dataset(name)
    ds, num = tfds.load_tfds(name, split=split, with_labels=with_labels, data_dir=data_dir)
    if image_size:
        import tensorflow as tf

        def resize(x):
            return tf.cast(tf.image.resize(x, image_size, method="area"), tf.uint8)

        ds = ds.map(lambda *e: (resize(e[0]), *e[1:]) if len(e) > 1 else resize(e[0]))
    return ds, num


SOURCES = {"idx": _idx_source, "folder": _folder_source, "tfds": _tfds_source}

# What a held-out split by index needs of a local source (`kgan.data.split`): `(fingerprint, groups)` of its images,
# the fingerprint to notice changed data (the same indices would then be other images), the groups to keep copies of
# one image on one side. A source without one (TFDS: versioned, and its splits are its own) is taken as it is.
IDENTITIES = {"idx": lambda name, data_dir, split: idx.identity(data_dir, split),
              "folder": lambda name, data_dir, split: folder.identity(data_dir)}


def identity(name, data_dir=None, split=None):
    """`(fingerprint, groups)` of the images `load(name, data_dir=..., split=...)` reads, or `(None, None)` for a
    source that has none (TFDS): see `IDENTITIES`."""
    source = source_for(name, data_dir)
    return IDENTITIES[source](name, data_dir, split) if source in IDENTITIES else (None, None)

# TFDS names whose data come as IDX files: with such a name, a data_dir of IDX files is read as that dataset.
IDX_DATASETS = ("mnist", "fashion_mnist", "kmnist")


def source_for(name, data_dir=None):
    """The name of the source in `SOURCES` that `load(name, data_dir=...)` uses.

    Example:

    >>> source_for("idx", "/no/such/folder")
    Traceback (most recent call last):
    ...
    kgan.errors.DataError: data_dir /no/such/folder does not exist or is not a folder
    """
    if name in SOURCES and name != "tfds":
        if not data_dir:
            raise DataError(f"dataset {name!r} reads local files: pass data_dir")
        if not os.path.isdir(data_dir):
            raise DataError(f"data_dir {data_dir} does not exist or is not a folder")
        return name
    if data_dir and os.path.isdir(data_dir):
        if os.path.isdir(os.path.join(data_dir, name.split(":")[0])):  # TFDS's layout: data_dir/<name>/<version>/
            return "tfds"
        local = "idx" if idx.has_idx(data_dir) else "folder" if folder.has_images(data_dir) else None
        if local == "idx" and name in IDX_DATASETS:
            return "idx"
        if local:  # local files under another name: e.g. cifar10 with MNIST's, mnist (the default) with photos
            if not tfds.is_dataset_name(name):
                raise unknown_dataset(name)
            if local == "idx":
                raise DataError(f"dataset {name!r} does not come as IDX files, but data_dir {data_dir} holds IDX "
                                f"files: to train on them pass dataset 'idx' (or one of {', '.join(IDX_DATASETS)})")
            raise DataError(f"dataset {name!r} is a TFDS dataset, but data_dir {data_dir} holds image files: to "
                            "read them pass dataset 'folder' (--dataset=folder)")
    return "tfds"


def num_classes(name, data_dir=None):
    """How many classes the labelled data of `load(name, data_dir=...)` has: a folder's class subfolders, one more
    than the largest label of an IDX folder's label files, a TFDS dataset's `label` feature (None if unknown)."""
    source = source_for(name, data_dir)
    if source == "folder":
        return len(folder.class_names(data_dir))
    if source == "idx":
        labels = [idx.read_idx(lbl) for _, lbl in idx.find_splits(data_dir).values() if lbl]
        return int(max(int(y.max()) for y in labels)) + 1 if labels else None
    import tensorflow_datasets as tfds_lib

    try:
        return int(tfds_lib.builder(name, data_dir=data_dir).info.features["label"].num_classes)
    except Exception:  # noqa: BLE001 - an unknown name or no label feature: loading says which
        return None


def _part(ds, num, holdout, part, holdout_seed, max_images=None, seed=0, source=None):
    """`ds` (unbatched, the source's order) filtered to `part` and at most `max_images`: `(ds, count or None)`.
    `source`: `(name, data_dir, split)`, whose copies of one image (`identity`) stay on one side of the split."""
    import numpy as np

    if part != "all" and holdout:
        if num is None:
            raise DataError("holding out images needs a source that knows its size (a TFDS split, an IDX or image "
                            "folder)")
        groups = identity(*source)[1] if source else None
        keep = splits.select(num, holdout, part, holdout_seed, groups=groups)
    elif part == "heldout":
        raise DataError("part='heldout' needs holdout > 0")
    elif max_images is not None and num is not None and num > max_images:
        keep = np.arange(num)
    else:
        if max_images is not None:
            ds = ds.take(max_images)
            num = min(num, max_images) if num is not None else None
        return ds, num
    if max_images is not None and len(keep) > max_images:
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_images, replace=False))
    if num is not None and len(keep) == num:
        return ds, num
    import tensorflow as tf

    mask = np.zeros(num, bool)
    mask[keep] = True
    mask = tf.constant(mask)
    def kept(i, *e):
        return tf.gather(mask, i)

    def drop_index(i, *e):
        return e if len(e) > 1 else e[0]

    # The count is known: saying so lets `fit` know an epoch's length (no "ran out of data" warning each epoch).
    ds = ds.enumerate().filter(kept).map(drop_index).apply(tf.data.experimental.assert_cardinality(len(keep)))
    return ds, len(keep)


def arrays(name, *, data_dir=None, split=None, with_labels=True, image_size=None, max_images=None, seed=0,
           holdout=0.0, part="all", holdout_seed=0):
    """Every image of a source as uint8 numpy `[N, H, W, C]` (and int32 labels `[N]`, or None).

    `max_images`: at most that many: a uniformly random subset (seeded by `seed`,
    in the source's order) when the source knows its size, else its first ones.
    `holdout`, `part`, `holdout_seed`: only the training or the held-out part (see `split.py`).

    For evaluation (the reference classifier, the real side of the metrics).

    Example:

    >>> images, labels = arrays("idx", data_dir="../shared/data/mnist")
    >>> images.shape, labels[:3]
    ((10000, 28, 28, 1), array([7, 2, 1], dtype=int32))
    """
    import numpy as np

    image_size = checks.image_size("image_size", image_size, error=DataError) if image_size else None
    ds, num = SOURCES[source_for(name, data_dir)](name, data_dir, split, with_labels, image_size)
    ds, _ = _part(ds, num, holdout, part, holdout_seed, max_images, seed, source=(name, data_dir, split))
    parts = list(ds.batch(4096).as_numpy_iterator())
    if not parts:
        raise DataError(f"dataset {name!r} ({data_dir or 'TFDS'}) holds no images")
    if with_labels:
        return (np.concatenate([p[0] for p in parts]).astype("uint8"),
                np.concatenate([p[1] for p in parts]).astype("int32"))
    return np.concatenate(parts).astype("uint8"), None


def load(name, *, batch_size, data_dir=None, split=None, with_labels=False, shuffle=True, seed=0, cache=True,
         image_size=None, drop_remainder=True, shuffle_buffer=10_000, holdout=0.0, part="all", holdout_seed=0):
    """A batched `tf.data.Dataset` of images in [-1, 1] (and labels) from source `name`.

    `holdout`, `part`, `holdout_seed`: only the training or the held-out part (see `split.py`).

    Example:

    ```python
    ds = kgan.data.load("mnist", batch_size=256, data_dir="../shared/data/mnist")
    images = next(iter(ds))  # float32 [256, 28, 28, 1] in [-1, 1]
    ```
    """
    checks.positive_int("batch_size", batch_size, error=DataError)
    data_dir = os.fspath(data_dir) if data_dir is not None else None
    source = source_for(name, data_dir)
    log.info("dataset %r: %s source%s", name, source, f" at {data_dir}" if data_dir else "")
    image_size = checks.image_size("image_size", image_size, error=DataError) if image_size else None
    ds, num = SOURCES[source](name, data_dir, split, with_labels, image_size)
    total = num
    ds, num = _part(ds, num, holdout, part, holdout_seed, source=(name, data_dir, split))
    if part == "train" and holdout and drop_remainder and num is not None and batch_size > num:
        raise DataError(f"batch_size={batch_size} is larger than the {num} training images: {total} less the "
                        f"{total - num} held out for the metrics (holdout {holdout:g}); lower batch_size or holdout")
    if part != "all" and holdout:
        log.info("dataset %r: the %s part, %d images (holdout %.2g, seed %d)", name, part, num, holdout, holdout_seed)
    return pipeline.finish(ds, num, batch_size=batch_size, shuffle=shuffle, seed=seed, cache=cache,
                           drop_remainder=drop_remainder, shuffle_buffer=shuffle_buffer)


def image_shape(ds):
    """(H, W, C) of the images in a dataset from `load`."""
    spec = ds.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return tuple(int(d) for d in spec.shape[1:])
