"""kgan.data.load: the pipeline over every source, TFDS offline and mocked, image folders."""

import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import kgan
from kgan.data import tfds as tfds_source
from kgan.errors import DataError
from tests.data.test_idx import idx_bytes, write


@pytest.fixture
def idx_dir(tmp_path):
    # Image i is filled with value i and labelled i: pairing must survive shuffling.
    n = 40
    x = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 28, 1).repeat(28, 2)
    x[-1] = 255
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(x))
    labels = np.arange(n, dtype=np.uint8)
    labels[-1] = 255
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels))
    return str(tmp_path)


def test_arrays_max_images_is_a_seeded_random_subset_with_its_labels(idx_dir):
    x, y = kgan.data.arrays("idx", data_dir=idx_dir, max_images=10, seed=0)
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.uint8
    ids = x[:, 0, 0, 0]
    np.testing.assert_array_equal(y % 255, ids % 255)  # pairs kept (image 39 is 255, label 255)
    assert len(set(ids.tolist())) == 10 and list(ids) == sorted(ids)  # distinct, in the source's order
    assert ids.max() >= 15  # not simply the first ten (P(all of 10 of 40 below 15) < 1e-3)
    np.testing.assert_array_equal(kgan.data.arrays("idx", data_dir=idx_dir, max_images=10, seed=0)[0], x)
    assert not np.array_equal(kgan.data.arrays("idx", data_dir=idx_dir, max_images=10, seed=1)[0], x)
    assert len(kgan.data.arrays("idx", data_dir=idx_dir, max_images=100, with_labels=False)[0]) == 40


def test_batches_scaled_shuffled_and_seeded(idx_dir):
    ds = kgan.data.load("idx", data_dir=idx_dir, batch_size=16, seed=1)
    batches = [b.numpy() for b in ds]
    assert len(batches) == 2 and batches[0].shape == (16, 28, 28, 1) and batches[0].dtype == np.float32
    allx = np.concatenate(batches)
    assert allx.min() >= -1.0 and allx.max() <= 1.0
    assert kgan.data.image_shape(ds) == (28, 28, 1)
    again = [b.numpy() for b in kgan.data.load("idx", data_dir=idx_dir, batch_size=16, seed=1)]
    np.testing.assert_array_equal(batches[0], again[0])
    other = next(iter(kgan.data.load("idx", data_dir=idx_dir, batch_size=16, seed=2))).numpy()
    assert not np.array_equal(batches[0], other)
    second_epoch = next(iter(ds)).numpy()
    assert not np.array_equal(batches[0], second_epoch)  # reshuffled each epoch


def test_exact_scaling_and_labels_stay_paired(idx_dir):
    ds = kgan.data.load("mnist", data_dir=idx_dir, batch_size=40, with_labels=True, shuffle=True)
    x, y = next(iter(ds))
    x, y = x.numpy(), y.numpy()
    values = (x[:, 0, 0, 0] + 1) * 127.5
    np.testing.assert_allclose(values, y, atol=1e-3)
    assert x.min() == -1.0 and x.max() == 1.0


def test_bad_batch_sizes(idx_dir):
    with pytest.raises(DataError, match="batch_size must be a positive integer, got 0"):
        kgan.data.load("idx", data_dir=idx_dir, batch_size=0)
    with pytest.raises(DataError, match="batch_size=64 is larger than the 40 images"):
        kgan.data.load("idx", data_dir=idx_dir, batch_size=64)


def test_idx_files_are_read_only_under_an_idx_dataset_name(idx_dir):
    """MNIST's IDX files under `mnist`, `fashion_mnist`, `kmnist` or `idx`; another TFDS name (cifar10) or no
    dataset at all is an error, not a run on digits recorded as that dataset."""
    for name in ("idx", *kgan.data.loader.IDX_DATASETS):
        assert kgan.data.source_for(name, idx_dir) == "idx"
    with pytest.raises(DataError, match="dataset 'cifar10' does not come as IDX files, but data_dir .* holds "
                                        "IDX files: to train on them pass dataset 'idx'"):
        kgan.data.load("cifar10", data_dir=idx_dir, batch_size=4)
    # A name that is no dataset at all is named as such, whatever data_dir holds.
    with pytest.raises(DataError, match="unknown dataset 'no_such_dataset': not a TFDS dataset name"):
        kgan.data.load("no_such_dataset", data_dir=idx_dir, batch_size=4)


def test_image_folder(tmp_path):
    for cls, value in (("cats", 10), ("dogs", 200)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((8, 6), value, np.uint8)).save(tmp_path / cls / f"{i}.png")
    x, y = next(iter(kgan.data.load("folder", data_dir=str(tmp_path), batch_size=6, with_labels=True)))
    assert x.shape == (6, 8, 6, 1)
    np.testing.assert_allclose((x.numpy()[:, 0, 0, 0] + 1) * 127.5, np.where(y.numpy() == 0, 10, 200), atol=1e-3)
    x = next(iter(kgan.data.load("folder", data_dir=str(tmp_path), batch_size=2, image_size=(4, 4))))
    assert x.shape == (2, 4, 4, 1)
    # A data_dir of images under a TFDS name (mnist is the default) is refused, not trained on as that dataset;
    # until 2026-12-07 it was read as a folder and the run recorded as mnist.
    for name, message in (("mnist", "dataset 'mnist' is a TFDS dataset, but data_dir .* holds image files: to read "
                                    "them pass dataset 'folder'"),
                          ("no_such_set", "unknown dataset 'no_such_set'")):
        with pytest.raises(DataError, match=message):
            kgan.data.load(name, data_dir=str(tmp_path), batch_size=2)
    assert kgan.data.source_for("folder", str(tmp_path)) == "folder"


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no images"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=1)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(DataError, match=r"differ in size.*image_size=\(H, W\) to resize \(train.py: "
                                        r"--image_size=H,W\)"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=1)
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="b.png: not a readable image"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=1)
    # Every bad file in one error, so a folder is cleaned in one go.
    for name in ("c.jpg", "d.png", "e.png", "f.png"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError, match=r"5 files are not readable images: \S*b.png \(\w+\), \S*c.jpg \(\w+\), "
                                        r"\S*d.png \(\w+\) and 2 more$"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=1)


def test_an_image_whose_headers_pass_but_whose_pixels_do_not_decode_is_named_before_training(tmp_path):
    """Checking headers (PIL's verify) let such a file through to TensorFlow's decoder mid-run: a traceback."""
    import zlib

    Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)).save(tmp_path / "a.png")
    Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)).save(tmp_path / "b.png")
    data = bytearray((tmp_path / "b.png").read_bytes())
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8:start - 4], "big")
    data[start + 20:start + 60] = bytes(255 - b for b in data[start + 20:start + 60])  # damaged pixel data
    crc = zlib.crc32(bytes(data[start - 4:start + length])).to_bytes(4, "big")  # with a valid checksum
    data[start + length:start + length + 4] = crc
    (tmp_path / "b.png").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"b.png: not a readable image"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=1)


def test_a_batch_larger_than_the_training_part_names_the_holdout(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / f"{i}.png")
    split = kgan.data.split.plan("folder", data_dir=str(tmp_path), holdout=0.34)
    with pytest.raises(DataError, match=r"batch_size=3 is larger than the 2 training images: 3 less the 1 held out "
                                        r"for the metrics \(holdout 0.34\); lower batch_size or holdout"):
        kgan.data.load("folder", data_dir=str(tmp_path), batch_size=3, **split["train"])


def test_image_size_from_python_is_checked_like_the_flag(tmp_path):
    """Python callers get the flag's one-line error (a TypeError or unpacking error, or TensorFlow's at the first
    batch for (0, 64), until 2026-12-07); one size is a square."""
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    x = next(iter(kgan.data.load("folder", data_dir=str(tmp_path), batch_size=2, image_size=4)))
    assert x.shape == (2, 4, 4, 3)
    for bad, shown in (((0, 64), "0,64"), ("64,64", "'64,64'"), ((4, 4, 4), "4,4,4")):
        with pytest.raises(DataError, match=f"image_size must be two positive integers H,W .*, got {shown}$"):
            kgan.data.load("folder", data_dir=str(tmp_path), batch_size=2, image_size=bad)


def test_a_folder_is_decoded_once_per_process_until_a_file_changes(tmp_path):
    """A run reads its folder up to five times at start (train part, k-means, the metrics' real sides): the check
    that decodes every image runs once for unchanged files, and again for a changed one."""
    for i in range(4):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / f"{i}.png")
    kgan.data.folder._inspect_files.cache_clear()
    for _ in range(3):
        kgan.data.arrays("folder", data_dir=str(tmp_path), with_labels=False)
    assert kgan.data.folder._inspect_files.cache_info().misses == 1
    (tmp_path / "2.png").write_bytes(b"not a png any more")
    with pytest.raises(DataError, match="2.png: not a readable image"):
        kgan.data.arrays("folder", data_dir=str(tmp_path), with_labels=False)


def test_symlinked_subfolders_are_read_once(tmp_path):
    for name in ("real_a", "real_b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a").symlink_to(tmp_path / "real_a")
    (tmp_path / "data" / "b").symlink_to(tmp_path / "real_b")
    (tmp_path / "data" / "b2").symlink_to(tmp_path / "real_b")  # the same folder twice: its images once
    (tmp_path / "real_a" / "loop").symlink_to(tmp_path / "data")  # a link back up: no endless walk
    paths = kgan.data.folder.list_images(str(tmp_path / "data"))
    assert [os.path.relpath(p, tmp_path / "data") for p in paths] == ["a/0.png", "a/1.png", "a/2.png", "b/0.png",
                                                                      "b/1.png", "b/2.png"]


def test_tfds_under_mock_data():
    with tfds.testing.mock_data(num_examples=32):
        ds = kgan.data.load("mnist", batch_size=8, with_labels=True)
        x, y = next(iter(ds))
    assert x.shape == (8, 28, 28, 1) and y.shape == (8,)
    assert -1.0 <= x.numpy().min() and x.numpy().max() <= 1.0


def test_tfds_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "PROBE_HOST", ("127.0.0.1", 9))  # nothing listens: offline
    start = time.time()
    with pytest.raises(DataError, match=r"not in .*tfds \(no such folder\) and the network is unreachable.*--data_dir"):
        kgan.data.load("mnist", data_dir=str(tmp_path / "tfds"), batch_size=8)
    assert time.time() - start < 10
    (tmp_path / "tfds").mkdir()  # a TFDS data directory without the dataset: named as it is
    with pytest.raises(DataError, match=r"not in \S*tfds and the network is unreachable"):
        kgan.data.load("mnist", data_dir=str(tmp_path / "tfds"), batch_size=8)


def test_unknown_dataset(monkeypatch):
    with pytest.raises(DataError, match="unknown dataset 'no_such_set'"):
        kgan.data.load("no_such_set", batch_size=8)
    monkeypatch.setitem(kgan.data.loader.SOURCES, "npy", kgan.data.loader.SOURCES["idx"])  # a newly added source
    with pytest.raises(DataError, match=r"not one of kgan's local sources \('idx', 'folder', 'npy'\)$"):
        kgan.data.load("npz", batch_size=8)
    with pytest.raises(DataError, match="dataset 'idx' reads local files: pass data_dir"):
        kgan.data.load("idx", batch_size=8)


def test_holdout_parts_are_disjoint_seeded_and_agree_between_load_and_arrays(idx_dir):
    split = kgan.data.split
    tr, ytr = kgan.data.arrays("idx", data_dir=idx_dir, holdout=0.25, part="train", holdout_seed=1)
    he, yhe = kgan.data.arrays("idx", data_dir=idx_dir, holdout=0.25, part="heldout", holdout_seed=1)
    assert len(tr) == 30 and len(he) == 10
    ids_tr, ids_he = set(tr[:, 0, 0, 0].tolist()), set(he[:, 0, 0, 0].tolist())
    assert not ids_tr & ids_he and len(ids_tr | ids_he) == 40
    held_ids = np.flatnonzero(split.holdout_mask(40, 0.25, 1))  # by index: image i holds value i (39: 255)
    np.testing.assert_array_equal(he[:, 0, 0, 0], np.where(held_ids == 39, 255, held_ids))
    np.testing.assert_array_equal(yhe % 255, he[:, 0, 0, 0] % 255)  # labels stay paired
    other = kgan.data.arrays("idx", data_dir=idx_dir, holdout=0.25, part="heldout", holdout_seed=2)[0]
    assert set(other[:, 0, 0, 0].tolist()) != ids_he
    ds = kgan.data.load("idx", data_dir=idx_dir, batch_size=10, shuffle=False, holdout=0.25, part="train",
                        holdout_seed=1)
    loaded = np.concatenate([b.numpy() for b in ds])
    assert len(loaded) == 30 and set(np.round((loaded[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist()) == ids_tr
    with pytest.raises(DataError, match="holdout must be a fraction"):
        kgan.data.arrays("idx", data_dir=idx_dir, holdout=1.5, part="train")


def test_the_plan_uses_a_test_split_when_there_is_one(idx_dir, tmp_path):
    split = kgan.data.split
    one = split.plan("idx", data_dir=idx_dir, metrics=True)
    assert one["heldout"] == {"split": None, "holdout": 0.2, "holdout_seed": 0, "part": "heldout"}
    assert split.plan("idx", data_dir=idx_dir)["heldout"] is None  # no metrics, no holdout: train on all
    import shutil

    both = tmp_path / "both"
    both.mkdir()
    for f in ("images-idx3", "labels-idx1"):
        shutil.copy(f"{idx_dir}/train-{f}-ubyte", both / f"t10k-{f}-ubyte")
        shutil.copy(f"{idx_dir}/train-{f}-ubyte", both / f"train-{f}-ubyte")
    two = split.plan("idx", data_dir=str(both), holdout=0.2)
    assert two["train"]["split"] == "train" and two["heldout"]["split"] == "test"
    assert two["heldout"]["part"] == "all" and "scored against split 'test'" in split.describe(two)


def test_held_out_parts_know_their_length_and_run_without_tf_data_autotuning(idx_dir):
    """`fit` needs the epoch's length (else it warns "ran out of data" every epoch), and an autotuned pipeline made
    every epoch's end wait for the autotune thread's sleep (kgan.data.pipeline.without_autotune)."""
    plan = kgan.data.split.plan("idx", data_dir=idx_dir, holdout=0.25)
    ds = kgan.data.load("idx", batch_size=4, data_dir=idx_dir, seed=0, **plan["train"])
    batches = sum(1 for _ in ds)
    assert int(ds.cardinality()) == batches > 0
    assert ds.options().autotune.enabled is False


def test_num_classes_of_each_source(idx_dir, tmp_path):
    """What a conditional network's num_classes must be: one more than an IDX folder's largest label, a folder's
    class subfolders, a TFDS dataset's label feature (known offline, from its builder's code)."""
    assert kgan.data.num_classes("idx", idx_dir) == 256  # labels 0-38 and 255
    for name in ("a", "b", "c"):
        (tmp_path / "images" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "images" / name / "0.png")
    assert kgan.data.num_classes("folder", str(tmp_path / "images")) == 3
    assert kgan.data.num_classes("mnist") == 10 and kgan.data.num_classes("cifar100") == 100


def _distinct_pngs(directory, n):
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), i * 7 % 256, np.uint8)).save(directory / f"{i:03d}.png")


def test_copies_of_an_image_stay_on_one_side_of_the_held_out_split(tmp_path, caplog):
    """Byte-identical files and links to one file were split independently: held-out images that the GAN trained on
    (an audit found 14 of 48 held-out images in a folder with 20 copies and 20 links)."""
    folder = tmp_path / "im"
    _distinct_pngs(folder, 30)
    for i in range(10):  # a copy and a link of each of the first ten
        (folder / f"copy{i}.png").write_bytes((folder / f"{i:03d}.png").read_bytes())
        os.symlink(folder / f"{i:03d}.png", folder / f"link{i}.png")
    with caplog.at_level("INFO", logger="kgan.data.folder"):
        plan = kgan.data.split.plan("folder", str(folder), holdout=0.4, holdout_seed=3)
        train = kgan.data.arrays("folder", data_dir=str(folder), with_labels=False, **plan["train"])[0]
        held = kgan.data.arrays("folder", data_dir=str(folder), with_labels=False, **plan["heldout"])[0]
    assert caplog.text.count("are byte-identical copies of others") == 1  # found once, not at every read
    assert len(train) + len(held) == 50 and 0 < len(held) <= 20
    assert not {h.tobytes() for h in held} & {t.tobytes() for t in train}
    groups, by_index = kgan.data.loader.identity("folder", str(folder))[1], kgan.data.split.holdout_mask(50, 0.4, 3)
    # Without the groups, this seed would have held out copies of training images:
    assert (np.isin(groups, groups[~by_index]) & by_index).any()


@pytest.mark.parametrize("change", ["add", "remove", "rename", "rewrite"])
def test_a_plan_notices_other_images_in_its_data_dir(tmp_path, change):
    folder = tmp_path / "im"
    _distinct_pngs(folder, 20)
    plan = kgan.data.split.plan("folder", str(folder), holdout=0.2)
    assert plan["data"]["images"] == 20
    kgan.data.split.check_data(plan, "folder", str(folder))  # unchanged: no error
    if change == "add":
        Image.fromarray(np.full((8, 8), 3, np.uint8)).save(folder / "new.png")
    elif change == "remove":
        os.remove(folder / "005.png")
    elif change == "rename":  # same images, other order: the same indices name other images
        os.rename(folder / "000.png", folder / "zzz.png")
    else:
        stat = os.stat(folder / "005.png")
        Image.fromarray(np.full((8, 8), 200, np.uint8)).save(folder / "005.png")
        os.utime(folder / "005.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # whatever the clock's grain
    counts = {"add": "20 images then, 21 now", "remove": "20 images then, 19 now"}
    with pytest.raises(DataError, match=r"^the images in \S+ are not those the run split into training and held-out "
                                        rf"images \({counts.get(change, 'the same 20 images in count, but other')}"):
        kgan.data.split.check_data(plan, "folder", str(folder))


def test_an_idx_plan_records_its_pixels_and_a_tfds_or_unsplit_plan_nothing(idx_dir):
    plan = kgan.data.split.plan("idx", data_dir=idx_dir, holdout=0.25)
    assert plan["data"]["images"] == 40 and len(plan["data"]["sha256"]) == 64
    assert "data" not in kgan.data.split.plan("idx", data_dir=idx_dir)  # nothing held out: nothing to check
    x = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None], 28, 1).repeat(28, 2)
    path = os.path.join(idx_dir, "train-images-idx3-ubyte")
    stat = os.stat(path)
    write(path, idx_bytes(x))  # image 39: 39, not 255
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="the same 40 images in count, but other files or contents"):
        kgan.data.split.check_data(plan, "idx", idx_dir)
