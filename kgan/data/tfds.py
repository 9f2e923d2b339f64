"""TFDS image datasets by name (mnist, fashion_mnist, cifar10, ...), failing fast offline.

`tfds.load` retries a failed download for minutes. kgan first loads with
`download=False`; if the data is not prepared it probes the download host with
a short timeout and, offline, raises a `DataError` within seconds that names the
way to local data. (`tfds.testing.mock_data` exercises this path offline.)
"""

import logging
import os
import re
import socket

from kgan.errors import DataError

log = logging.getLogger(__name__)

PROBE_HOST = ("storage.googleapis.com", 443)
PROBE_TIMEOUT_S = 3.0
UNKNOWN = "unknown dataset {name!r}: not a TFDS dataset name, and not one of kgan's local sources ({local})"


def _online():
    try:
        socket.create_connection(PROBE_HOST, timeout=PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def is_dataset_name(name):
    """Whether `name` names a TFDS dataset (offline: the registered builders, no download or data needed).

    Example:

    >>> is_dataset_name("cifar10"), is_dataset_name("celeb_a_hq/128"), is_dataset_name("nosuchset")
    (True, True, False)
    """
    import tensorflow_datasets as tfds

    try:
        tfds.builder_cls(re.split(r"[/:]", name)[0])  # "cifar10/plain:3.0.2": its builder is cifar10
    except Exception:  # noqa: BLE001 - DatasetNotFoundError, or ValueError for a malformed name
        return False
    return True


def load_tfds(name, split=None, with_labels=False, data_dir=None):
    """An unbatched dataset of uint8 images (and int32 labels) of TFDS dataset `name`, and its size."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # tfds raises DatasetNotFoundError, also for malformed names
        from kgan.data import loader  # here: loader imports this module

        raise loader.unknown_dataset(name) from e
    split = split or "train"
    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, download=False, as_supervised=False)
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError) as e:
        where = data_dir or "the TFDS data directory"
        if data_dir and not os.path.exists(data_dir):
            where = f"{data_dir} (no such folder)"
        if not _online():
            raise DataError(
                f"TFDS dataset {name!r} is not in {where} and the network is unreachable: pass local data "
                "with data_dir= (train.py: --data_dir=DIR holding IDX files or an image folder)"
            ) from e
        log.info("downloading TFDS dataset %s", name)
        ds = tfds.load(name, split=split, data_dir=data_dir, download=True, as_supervised=False)
    except ValueError as e:
        raise DataError(f"TFDS dataset {name!r}: {str(e).splitlines()[0]}") from e
    features = builder.info.features
    if "image" not in features:
        raise DataError(f"TFDS dataset {name!r} has no 'image' feature: not an image dataset")
    if with_labels and "label" not in features:
        raise DataError(f"TFDS dataset {name!r} has no 'label' feature: it cannot train a conditional model")
    try:
        num = builder.info.splits[split].num_examples
    except (KeyError, ValueError, TypeError):
        num = None
    num = num or None
    if with_labels:
        ds = ds.map(lambda e: (e["image"], tf.cast(e["label"], tf.int32)))
    else:
        ds = ds.map(lambda e: e["image"])
    log.info("TFDS %s[%s]: %s images", name, split, num if num is not None else "?")
    return ds, num
