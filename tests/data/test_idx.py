"""kgan.data.idx: the IDX reader, its checks, and a fuzz test."""

import gzip
import hashlib
import os
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgan.data import idx
from kgan.errors import DataError


def idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(idx._DTYPES[code]).tobytes()


def write(path, data, gz=False):
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return str(path)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, gz):
    x = np.random.RandomState(0).randint(0, 256, (5, 4, 3)).astype(np.uint8)
    path = write(tmp_path / ("a-images-idx3-ubyte" + (".gz" if gz else "")), idx_bytes(x), gz)
    np.testing.assert_array_equal(idx.read_idx(path), x)
    f = np.linspace(-1, 1, 6).astype(">f4")
    np.testing.assert_array_equal(idx.read_idx(write(tmp_path / "f", idx_bytes(f, 0x0D))), f)


def test_folder_with_splits_and_labels(tmp_path):
    train = np.full((6, 28, 28), 1, np.uint8)
    test = np.full((4, 28, 28), 2, np.uint8)
    write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(train), gz=True)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.arange(6, dtype=np.uint8)), gz=True)
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(test))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.arange(4, dtype=np.uint8)))
    x, y = idx.load_idx(str(tmp_path), with_labels=True)
    assert x.shape == (10, 28, 28, 1) and y.shape == (10,)
    x, _ = idx.load_idx(str(tmp_path), split="test")
    assert x.shape == (4, 28, 28, 1) and (x == 2).all()
    with pytest.raises(DataError, match="split 'valid' not in .*: it holds test, train"):
        idx.load_idx(str(tmp_path), split="valid")


def test_an_unchanged_file_is_read_once_per_process_and_a_changed_one_again(tmp_path, caplog):
    path = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.full((3, 28, 28), 1, np.uint8)))
    with caplog.at_level("INFO", logger="kgan.data.idx"):
        first, _ = idx.load_idx(str(tmp_path))
        first[:] = 9  # the caller's copy: the next load is unchanged
        second, _ = idx.load_idx(str(tmp_path))
    assert (second == 1).all() and caplog.text.count("IDX train: 3 images") == 1  # read (and logged) once
    stat = os.stat(path)
    write(path, idx_bytes(np.full((3, 28, 28), 2, np.uint8)))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a second later, whatever the clock's grain
    assert (idx.load_idx(str(tmp_path))[0] == 2).all()
    # Replaced by a same-size file with the same mtime (as `cp -p`, `rsync -t` or `tar x` leave it): read again.
    stat = os.stat(path)
    other = write(tmp_path / "other", idx_bytes(np.full((3, 28, 28), 3, np.uint8)))
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)
    assert (idx.load_idx(str(tmp_path))[0] == 3).all()


def _valid(tmp_path):
    return idx_bytes(np.zeros((10, 28, 28), np.uint8))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
        (lambda b: b[:3] + b"\x09" + b[4:], "9 dimensions"),
        (lambda b: b[:-100], "header says 10x28x28 = 7840 bytes of data but the file holds 7740"),
        (lambda b: b + b"\x00", "but the file holds more than 7840"),
        (lambda b: b[:10], "truncated IDX header"),
        (lambda b: b[:4] + (2**31).to_bytes(4, "big") + b[8:], "2147483648x28x28"),
    ],
)
def test_corrupt_files_are_one_line_errors_naming_the_file(tmp_path, mutate, message):
    path = write(tmp_path / "bad-images-idx3-ubyte", mutate(_valid(tmp_path)))
    start = time.time()
    with pytest.raises(DataError, match=message) as e:
        idx.read_idx(path)
    assert "bad-images-idx3-ubyte" in str(e.value) and "\n" not in str(e.value)
    assert time.time() - start < 1.0  # a header claiming billions of images allocates nothing


def test_corrupt_gzip_and_label_mismatch(tmp_path):
    data = gzip.compress(_valid(tmp_path))
    path = write(tmp_path / "x-images-idx3-ubyte.gz", data[: len(data) // 2])
    with pytest.raises(DataError, match="x-images-idx3-ubyte.gz"):
        idx.read_idx(path)
    os.remove(path)
    write(tmp_path / "x-images-idx3-ubyte", _valid(tmp_path))
    write(tmp_path / "x-labels-idx1-ubyte", idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(DataError, match=r"x-labels-idx1-ubyte: \[9\] labels for 10 images"):
        idx.load_idx(str(tmp_path), with_labels=True)


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no IDX image files"):
        idx.load_idx(str(tmp_path))


@settings(max_examples=150, deadline=2000)
@given(st.one_of(st.binary(max_size=64),
                 st.tuples(st.integers(0, 40), st.binary(min_size=1, max_size=4)),
                 st.tuples(st.integers(0, 15), st.integers(0, 2**32 - 1))))
def test_fuzz_never_crashes(tmp_path_factory, case):
    base = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    if isinstance(case, bytes):
        data = case
    elif isinstance(case[1], bytes):  # overwrite a few bytes anywhere
        pos, patch = case
        data = base[:pos] + patch + base[pos + len(patch):]
    else:  # set a header word to any value
        pos, value = case
        data = base[:pos] + value.to_bytes(4, "big") + base[pos + 4:]
    path = write(tmp_path_factory.mktemp("fuzz") / "f-images-idx3-ubyte", data)
    try:
        out = idx.read_idx(path)
    except DataError as e:
        assert "\n" not in str(e)
    else:
        assert out.size * out.itemsize == len(data) - 4 - 4 * out.ndim


def test_real_mnist_test_split(mnist_dir):
    x, y = idx.load_idx(mnist_dir, with_labels=True)
    assert x.shape == (10_000, 28, 28, 1) and x.dtype == np.uint8
    assert sorted(set(y.tolist())) == list(range(10))
    digest = hashlib.sha256(x.tobytes()).hexdigest()
    raw = gzip.open(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz")).read()
    assert digest == hashlib.sha256(raw[16:]).hexdigest()
    assert hashlib.sha256(raw).hexdigest() == "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
