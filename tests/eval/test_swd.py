"""The multi-scale sliced Wasserstein distance ranks sanity sets like the labelled metrics do.

Real data sits at the floor; blurred, noisy and mode-collapsed sets score clearly worse, on
MNIST digits and on RGB crops of scikit-learn's two sample photographs (shipped in its wheel).
"""

import gzip

import numpy as np
import pytest
import scipy.ndimage

from kgan.eval import swd


def _photo_crops(n, size, seed):
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, p.shape[0] - 2 * size + 1), rng.integers(0, p.shape[1] - 2 * size + 1)
        out.append(p[y : y + 2 * size, x : x + 2 * size].reshape(size, 2, size, 2, 3).mean((1, 3)))
    return np.stack(out).astype(np.uint8)


def _sanity_sets(images, noise_std, seed=2):
    rng = np.random.default_rng(seed)
    return {
        "blurred": scipy.ndimage.uniform_filter(images.astype(np.float32), size=(1, 3, 3, 1)).astype(np.uint8),
        "noisy": np.clip(images + rng.normal(0, noise_std, images.shape), 0, 255).astype(np.uint8),
        "collapsed to 10 images": images[np.arange(len(images)) % 10],
    }


def _check_ranking(reference, real, noise_std):
    metric = swd.SlicedWasserstein(reference)
    floor = metric.real_floor()["swd"]
    real_score = metric.distance(real)["swd"]
    assert real_score < 1.5 * floor, (real_score, floor)
    for name, images in _sanity_sets(real, noise_std).items():
        score = metric.distance(images)["swd"]
        assert score > 3 * max(real_score, floor), f"{name}: {score:.1f} vs real {real_score:.1f}, floor {floor:.1f}"


def test_rgb_real_at_the_floor_and_broken_sets_worse():
    _check_ranking(_photo_crops(1000, 32, seed=0), _photo_crops(1000, 32, seed=1), noise_std=20)


def test_mnist_real_at_the_floor_and_broken_sets_worse(mnist_dir):
    with gzip.open(f"{mnist_dir}/t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    _check_ranking(x[:2000], x[2000:4000], noise_std=40)


def test_reference_normalization_sees_a_colour_shift_that_per_set_normalization_hides():
    a, b = _photo_crops(500, 32, seed=0), _photo_crops(500, 32, seed=1)
    dark = (b * 0.7).astype(np.uint8)
    ref = swd.SlicedWasserstein(a)
    each = swd.SlicedWasserstein(a, normalize="each")
    assert ref.distance(dark)["swd"] > 3 * ref.distance(b)["swd"]
    assert each.distance(dark)["swd"] < 1.2 * each.distance(b)["swd"]  # ProGAN's normalization is blind to it


def test_levels_names_seeding_and_input_ranges():
    a, b = _photo_crops(200, 32, seed=0), _photo_crops(200, 32, seed=1)
    r1 = swd.sliced_wasserstein_distance(a, b)
    assert set(r1) == {"swd_32", "swd_16", "swd"}
    assert r1 == swd.sliced_wasserstein_distance(a, b)  # seeded
    assert r1 != swd.sliced_wasserstein_distance(a, b, seed=1)
    # uint8 in [0, 255] and float in [0, 1] (what GAN.generate returns) are the same images.
    assert swd.sliced_wasserstein_distance(a, b / np.float32(255))["swd"] == pytest.approx(r1["swd"], rel=1e-4)
    assert [swd.num_levels(s, s) for s in (16, 28, 32, 64, 128)] == [1, 2, 2, 3, 4]
    assert set(swd.sliced_wasserstein_distance(a[:100], b[:50])) == set(r1)  # unequal sizes: equal subsets


def test_laplacian_pyramid_reconstructs_the_image():
    x = np.random.default_rng(0).random((3, 64, 48, 3), dtype=np.float32)
    pyramid = swd.laplacian_pyramid(x, 3)
    assert [p.shape[1:3] for p in pyramid] == [(64, 48), (32, 24), (16, 12)]
    image = pyramid[-1]
    for level in reversed(pyramid[:-1]):
        image = level + swd._up(image, level.shape)
    np.testing.assert_allclose(image, x, atol=1e-5)
