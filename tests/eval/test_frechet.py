import numpy as np

from kgan.eval import frechet_distance, pixel_features


def test_identical_sets_are_at_zero_and_distance_is_symmetric():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 10))
    y = rng.normal(loc=0.5, scale=2.0, size=(300, 10))
    assert frechet_distance(x, x) < 1e-8
    assert abs(frechet_distance(x, y) - frechet_distance(y, x)) < 1e-8


def test_matches_closed_form_for_gaussians():
    # For N(m1, s1² I) vs N(m2, s2² I) in d dims: |m1-m2|² + d (s1 - s2)².
    rng = np.random.default_rng(1)
    d = 4
    x = rng.normal(0.0, 1.0, size=(200_000, d))
    y = rng.normal(1.0, 3.0, size=(200_000, d))
    expected = d * 1.0 + d * (1.0 - 3.0) ** 2
    assert abs(frechet_distance(x, y) - expected) < 0.1


def test_pixel_features_pool():
    images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype("float32")
    f = pixel_features(images, pool=2)
    assert f.shape == (2, 4)
    assert f[0, 0] == np.mean([0, 1, 4, 5])
