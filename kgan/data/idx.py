"""IDX files, the format of the original MNIST distribution (http://yann.lecun.com/exdb/mnist/).

A file is a header (two zero bytes, a type code, the number of dimensions,
then each dimension as a big-endian uint32) followed by the values. Files may be
gzipped. The reader checks the header against the file's real size before
allocating anything, so a corrupt or hostile header gives a one-line
`DataError` naming the file, never a crash or a huge allocation.
"""

import functools
import gzip
import hashlib
import logging
import os
import re
import zlib

import numpy as np

from kgan.errors import DataError
from kgan.io import version

log = logging.getLogger(__name__)

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGES = re.compile(r"^(?P<split>.+?)[-_.]images[-_.]idx3[-_.]ubyte(\.gz)?$")
_SPLIT_NAMES = {"t10k": "test"}


def _read_bytes(path, limit):
    """The (decompressed) bytes of `path`, at most `limit` + 1 of them."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read(limit + 1)
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read ({e})") from e


def read_idx(path, max_bytes=1 << 34):
    """Reads one IDX file (gzipped or not) into a numpy array.

    Example:

    >>> images = read_idx("../shared/data/mnist/t10k-images-idx3-ubyte.gz")
    >>> images.shape, images.dtype
    ((10000, 28, 28), dtype('uint8'))
    """
    path = os.fspath(path)
    head = _read_bytes(path, 4 + 4 * 255)
    name = os.path.basename(path)
    if len(head) < 4:
        raise DataError(f"{name}: {len(head)} bytes is too short for an IDX header")
    if head[0] != 0 or head[1] != 0:
        raise DataError(f"{name}: not an IDX file (the first two bytes must be zero, got {head[:2].hex()})")
    code, ndim = head[2], head[3]
    if code not in _DTYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x} (expected one of 08 09 0b 0c 0d 0e)")
    if not 1 <= ndim <= 4:
        raise DataError(f"{name}: IDX header says {ndim} dimensions (expected 1 to 4)")
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise DataError(f"{name}: truncated IDX header ({len(head)} of {header_len} bytes)")
    dims = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    itemsize = np.dtype(_DTYPES[code]).itemsize
    expected = itemsize
    for d in dims:
        expected *= d
    shape = "x".join(map(str, dims))
    if expected > max_bytes:
        raise DataError(f"{name}: IDX header claims {shape} values ({expected} bytes), beyond the {max_bytes}-byte limit")
    data = _read_bytes(path, header_len + expected)
    payload = len(data) - header_len
    if payload != expected:
        holds = f"more than {expected}" if payload > expected else str(payload)
        raise DataError(f"{name}: header says {shape} = {expected} bytes of data but the file holds {holds}")
    return np.frombuffer(data, dtype=_DTYPES[code], offset=header_len).reshape(dims).astype(_DTYPES[code][1:])


def find_splits(directory):
    """{split: (images_path, labels_path or None)} for the IDX image files in `directory`."""
    found = {}
    for f in sorted(os.listdir(directory)):
        m = _IMAGES.match(f)
        if not m:
            continue
        split = _SPLIT_NAMES.get(m.group("split"), m.group("split"))
        if split in found:
            continue
        labels = None
        for cand in (f.replace("images", "labels").replace("idx3", "idx1"),):
            for c in (cand, cand[:-3] if cand.endswith(".gz") else cand + ".gz"):
                if os.path.exists(os.path.join(directory, c)):
                    labels = os.path.join(directory, c)
                    break
        found[split] = (os.path.join(directory, f), labels)
    return found


def has_idx(directory):
    return os.path.isdir(directory) and bool(find_splits(directory))


def load_idx(directory, split=None, with_labels=False):
    """Images `[N, H, W, 1]` uint8 (and labels `[N]` int32 or None) from the IDX files in `directory`.

    `split=None` uses every split the folder holds (on a machine with only the
    MNIST test files, the 10,000 test images).
    """
    splits = find_splits(directory)
    if not splits:
        raise DataError(f"no IDX image files (*-images-idx3-ubyte[.gz]) in {directory}")
    if split is not None:
        if split not in splits:
            raise DataError(f"split {split!r} not in {directory}: it holds {', '.join(sorted(splits))}")
        splits = {split: splits[split]}
    images, labels = [], []
    read = []
    for name, (img_path, lbl_path) in sorted(splits.items()):
        x, fresh = _read_once(img_path)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DataError(f"{os.path.basename(img_path)}: expected [N, H, W] uint8 images, got {x.dtype} {list(x.shape)}")
        if images and x.shape[1:] != images[0].shape[1:3]:
            raise DataError(f"{os.path.basename(img_path)}: images are {x.shape[1:]}, other splits {images[0].shape[1:3]}")
        if with_labels:
            if lbl_path is None:
                raise DataError(f"{os.path.basename(img_path)} has no labels file beside it (*-labels-idx1-ubyte[.gz])")
            y, _ = _read_once(lbl_path)
            if y.ndim != 1 or len(y) != len(x):
                raise DataError(
                    f"{os.path.basename(lbl_path)}: {list(y.shape)} labels for {len(x)} images"
                )
            labels.append(y.astype(np.int32))
        images.append(x[..., None])
        read.append(fresh)
        if fresh:
            log.info("IDX %s: %d images %s from %s", name, len(x), "x".join(map(str, x.shape[1:])), img_path)
    x = np.concatenate(images)  # a new array: the cached ones stay as read
    if any(read):
        log.info("found %d images in %s (splits: %s)", len(x), directory, ", ".join(sorted(splits)))
    return x, (np.concatenate(labels) if with_labels else None)


def _read_once(path):
    """`(read_idx(path) read-only, whether it was read now)`: a run loads its IDX files several times at start (the
    training part, k-means, the metrics' real sides); an unchanged file is read and unzipped once per process."""
    try:
        key = version(os.path.realpath(path))
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from e
    misses = _read_file.cache_info().misses
    array = _read_file(key)
    return array, _read_file.cache_info().misses > misses


@functools.lru_cache(maxsize=8)
def _read_file(key):
    """`read_idx` of the file `key` (`kgan.io.version`) names, read-only; a file changed since is a new key."""
    array = read_idx(key[0])
    array.flags.writeable = False
    return array


def identity(directory, split=None):
    """`(fingerprint, groups)` of the images `load_idx(directory, split)` reads, for `kgan.data.split`:
    `{"images": N, "sha256": ...}` of their pixels in order, and int `[N]` equal for identical images. Computed
    once per process while the files are unchanged (a run asks for it several times at start)."""
    files = [img for name, (img, _) in sorted(find_splits(directory).items()) if split is None or name == split]
    try:
        key = tuple(version(os.path.realpath(f)) for f in files)
    except OSError as e:
        raise DataError(f"{directory}: cannot read ({e.strerror})") from e
    return _identity(directory, split, key)


@functools.lru_cache(maxsize=8)
def _identity(directory, split, files):
    """`identity` of `directory`'s `split`, whose image files are `files` (`kgan.io.version` each)."""
    x, _ = load_idx(directory, split=split)
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    rows = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, first, groups = np.unique(rows, return_index=True, return_inverse=True)
    if len(first) < len(x):
        log.info("%s: %d of its %d images are pixel-identical copies of others; copies stay on one side of the "
                 "held-out split", directory, len(x) - len(first), len(x))
    groups = groups.ravel()
    groups.flags.writeable = False
    return {"images": len(x), "sha256": hashlib.sha256(flat.tobytes()).hexdigest()}, groups
