import numpy as np
import pytest

from kgan.errors import ConfigError
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


def _gaussian_sets(rng, d, n):
    """Samples of two Gaussians in `d` dims with random SPD covariances (far from commuting) and close means (so
    the covariance terms dominate the distance)."""
    out = []
    for _ in range(2):
        a = rng.normal(size=(d, d))
        cov = a @ a.T / d + 0.1 * np.eye(d)
        out.append(rng.multivariate_normal(0.1 * rng.normal(size=d), cov, size=n))
    return out


def test_matches_scipy_sqrtm_for_covariances_that_do_not_commute():
    """The cross term is Tr((C1 C2)^½), checked against scipy's general matrix square root on covariances that do
    not commute (the tests above use equal or isotropic ones, where Tr(C1^½ C2^½) gives the same number)."""
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(2)
    for d in (16, 64):
        x, y = _gaussian_sets(rng, d, 8 * d)
        mu1, mu2 = x.mean(0), y.mean(0)
        c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        assert np.abs(c1 @ c2 - c2 @ c1).max() > 0.1 * np.abs(c1 @ c2).max()  # far from commuting
        base = ((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2)
        expected = base - 2 * np.trace(sqrtm(c1 @ c2)).real
        wrong = base - 2 * np.trace(sqrtm(c1) @ sqrtm(c2)).real  # Tr(C1^½ C2^½): the mistake this test catches
        assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
        assert frechet_distance(y, x) == pytest.approx(expected, rel=1e-6)
        assert abs(wrong - expected) > 0.01 * expected


def test_one_feature_and_two_rows_are_enough():
    """D = 1 (a covariance of one number) and N = 2 (the fewest rows a covariance needs) work: for one feature
    the distance is (m1 - m2)² + (s1 - s2)² with the sample means and standard deviations."""
    x, y = np.array([0.0, 1.0, 3.0]), np.array([[2.0], [5.0]])
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(x.reshape(-1, 1), y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("x, y, message", [
    (np.ones((1, 4)), np.ones((5, 4)), "the Fréchet distance needs at least 2 feature rows per set (covariances), "
                                       "got 1 (first) and 5 (second)"),
    (np.ones((5, 3)), np.ones((5, 4)), "feature sizes differ: 3 (first) and 4 (second)"),
    (np.r_[np.ones((4, 3)), [[0, np.nan, np.inf]]], np.ones((5, 3)),
     "the first set's features hold 2 NaN or infinite values (of 15): the Fréchet distance takes finite features"),
])
def test_bad_features_are_one_line_config_errors(x, y, message):
    with pytest.raises(ConfigError) as e:
        frechet_distance(x, y)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
