"""The C_T data-copying test (kgan.eval.copying) and the equal-N real floor, in pixel space (fast)."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

import kgan
from kgan.eval import copying
from kgan.eval.frechet import frechet_distance, pixel_features

from ..conftest import MNIST_DIR


@pytest.fixture(scope="module")
def parts():
    """The run split of the 10k local digits: 8,000 to train on, 2,000 held out, cut in two:
    at random into 1,000 as the reference and 1,000 as new real images the test has never seen (at random:
    the MNIST test file is ordered, its first half is the cleaner writers')."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    p = kgan.data.split.plan("idx", data_dir=str(MNIST_DIR), metrics=True)
    train, _ = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), with_labels=False, **p["train"])
    heldout, _ = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), with_labels=False, **p["heldout"])
    order = np.random.default_rng(0).permutation(len(heldout))
    return train, heldout[order[:1000]], heldout[order[1000:]]


@pytest.fixture(scope="module")
def pixel_test(parts):
    train, ref, _ = parts
    return copying.CopyingTest(copying.pixel_space(train), copying.pixel_space(ref), num_cells=10,
                               views=copying.shifted_views((28, 28, 1)))


def _ct(test, images):
    return test(copying.pixel_space(images))


def test_replayed_training_images_are_flagged_as_copies(parts, pixel_test):
    train, _, _ = parts
    replay = train[np.random.default_rng(0).choice(len(train), 1000, replace=False)]
    exact = _ct(pixel_test, replay)
    assert exact["ct"] < 3 * copying.THRESHOLD  # far below -3
    assert np.all(exact["distances"] < 1e-3) and exact["cells_used"] == 10
    for axis, step in ((1, 1), (2, -1)):  # moved by one pixel down, or left
        shifted = _ct(pixel_test, np.roll(replay, step, axis=axis))
        assert shifted["ct"] < 2 * copying.THRESHOLD, (axis, shifted["ct"])
    half = _ct(pixel_test, np.concatenate([replay[:500], parts[2][:500]]))
    assert half["ct"] < copying.THRESHOLD  # half copies are enough to be caught


def test_new_real_images_are_not_flagged(parts, pixel_test):
    _, _, new = parts
    r = _ct(pixel_test, new)
    print(f"C_T of new real digits: {r['ct']:.2f}")
    assert abs(r["ct"]) < 2.5
    # Samples farther from the data than real digits (noise) are not copies either: C_T >> 0.
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28, 1)).astype("uint8")
    assert _ct(pixel_test, noise)["ct"] > 5


def test_mann_whitney_z_matches_scipy_and_its_sign():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    m, n = len(x), len(y)
    u = mannwhitneyu(x, y, alternative="less").statistic
    expected = (u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12)
    assert copying.mann_whitney_z(x, y) == pytest.approx(expected)
    assert copying.mann_whitney_z(x, y) < -2  # x smaller: negative, like samples closer than real images


def test_cells_with_too_few_samples_are_left_out():
    rng = np.random.default_rng(1)
    train = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(20, 1, (300, 2))])
    held = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(20, 1, (100, 2))])
    test = copying.CopyingTest(train, held, num_cells=2)
    only_one = rng.normal(0, 1, (100, 2))  # every sample in one cell: the other is not judged
    r = test(only_one)
    assert r["cells_used"] == 1 and np.isnan(r["cell_z"]).sum() == 1 and abs(r["ct"]) < 3
    assert test(train[:300])["ct"] < 3 * copying.THRESHOLD


def test_nearest_pairs_grid_puts_each_sample_beside_its_neighbour(parts, pixel_test):
    train, _, new = parts
    r = _ct(pixel_test, new[:50])
    grid = copying.nearest_pairs_grid(new[:50], pixel_test.train, r["distances"], r["nearest"], num_pairs=8,
                                      pairs_per_row=4)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 30 + 2, 8 * 30 + 2, 1)
    first = np.argmin(r["distances"])
    np.testing.assert_array_equal(grid[2:30, 2:30, 0], new[first, :, :, 0])
    np.testing.assert_array_equal(grid[2:30, 32:60, 0], train[r["nearest"][first], :, :, 0])


def test_equal_n_floor_matches_new_real_images_and_the_unequal_floor_does_not(parts):
    """FD in pooled pixels: real training images against the reference at the samples' counts score what
    new real images score; the old floor (one half of the reference against the other) is biased upward."""
    train, ref, new = parts
    f = lambda x: pixel_features(x.astype("float32") / 255.0, pool=2)  # noqa: E731
    ref_f, new_f = f(ref), f(new)
    pick = np.random.default_rng(1).choice(len(train), len(new), replace=False)
    floor = frechet_distance(f(train[pick]), ref_f)  # N training images vs the same M held out
    scored = frechet_distance(new_f, ref_f)  # what N new real images get
    old = frechet_distance(ref_f[:500], ref_f[500:])
    print(f"FD: new real {scored:.3f}, equal-N floor {floor:.3f}, half-vs-half floor {old:.3f}")
    assert floor == pytest.approx(scored, rel=0.15)
    assert old > 1.5 * scored


def test_a_collapsed_generator_gets_no_copying_verdict(parts, pixel_test):
    """1,000 copies of the mean digit fill cells holding ~13% of the held-out digits: no verdict, whatever
    their C_T (a 10-step generator's grey blobs on 64 px photo crops got C_T -15 and were called copying
    before). Replayed training digits are "copying", new real digits "no copying"."""
    train, _, new = parts
    blob = np.repeat(np.round(train.astype("float32").mean(0, keepdims=True)).astype("uint8"), 1000, axis=0)
    collapsed = _ct(pixel_test, blob)
    assert collapsed["coverage"] < copying.MIN_COVERAGE and copying.verdict(collapsed).startswith("inconclusive")
    replay = _ct(pixel_test, train[:1000])
    assert replay["coverage"] > 0.9 and copying.verdict(replay) == "copying"
    fresh = _ct(pixel_test, new)
    assert fresh["coverage"] > 0.9 and copying.verdict(fresh) == "no copying"
