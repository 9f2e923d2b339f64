"""What the metrics take (fast): one value-range rule for every module (`kgan.eval._images.image_range`), and
one-line errors for sets they cannot score, before any classifier or SWD work.

An untrained classifier of the right shape stands in for the reference classifier: these tests check which
inputs are read how and refused, not what the numbers mean (`test_quality.py` does)."""

import logging

import keras
import numpy as np
import pytest

from kgan.errors import ConfigError
from kgan.eval import Evaluator, copying, swd
from kgan.eval._images import TOLERANCE, image_range
from kgan.eval.classifier import build_classifier, to_model_range
from kgan.eval.quality import _unit_range


@pytest.fixture(scope="module")
def digits():
    """Random 'digits': 60 real images, 60 training images and 40 samples, uint8 28x28x1, each with a 0 and a 255."""
    rng = np.random.default_rng(0)
    x = (rng.random((160, 28, 28, 1)) ** 4 * 255).astype("uint8")
    x[:, 0, :2, 0] = 0, 255
    return x[:60], x[60:120], x[120:]


@pytest.fixture(scope="module")
def evaluator(digits):
    keras.utils.set_random_seed(0)
    real, train, _ = digits
    return Evaluator(build_classifier(), real, train)


def _readers(x):
    """What each module makes of `x`: the classifier's input, the SWD's input and the copying test's pixels."""
    return to_model_range(x), swd._as_float(_unit_range(x)), copying.pixel_space(x)


def test_every_module_reads_a_set_by_the_same_rule(digits):
    """[0, 1] floats a rounding step outside [0, 1] are [0, 1] floats, clipped, in every module; [-1, 1] floats are
    [-1, 1] where the API takes them. Before one rule: one pixel at 1.001 made the classifier and the SWD read the
    set as [-1, 1] (FCD 783 instead of 2.8, precision and recall 0), and the copying test read -0.0005 as [-1, 1]."""
    u8 = digits[2]
    unit = u8.astype("float32") / 255.0
    for pixel in (1.001, 1 + TOLERANCE, -0.0005):
        off = unit.copy()
        off[0, 5, 5, 0] = pixel
        assert image_range(off)[1] == "unit"
        for got, want in zip(_readers(off), _readers(np.clip(off, 0, 1))):
            np.testing.assert_array_equal(got, want)
    for got, want in zip(_readers(unit), _readers(u8)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    signed = unit * 2 - 1
    assert image_range(signed)[1] == "signed"
    for got, want in zip(_readers(signed), _readers(u8)):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("values, found", [
    (lambda u8: u8.astype("float32"), "values in [0, 255] (float32)"),  # 0-255 floats: FCD 869,276 before
    (lambda u8: u8.astype("float32") / 255 * 1.01, "values in [0, 1.01] (float32)"),
    (lambda u8: u8.astype("float64") / 127.5 - 1.5, "values in [-1.5, 0.5] (float64)"),
    (lambda u8: u8.astype("int64"), "values in [0, 255] (int64)"),
])
def test_values_outside_every_range_are_one_error_in_every_module(digits, values, found):
    x = values(digits[2])
    for read in (to_model_range, _unit_range, copying.pixel_space):
        with pytest.raises(ConfigError) as e:
            read(x)
        assert str(e.value) == f"images hold {found}: allowed are uint8 in [0, 255], or floats in [0, 1] or [-1, 1]"


def test_nan_and_infinities_are_refused_by_name():
    x = np.full((4, 16, 16, 1), 0.5, "float32")
    x[0, 0, 0, 0], x[1, 0, 0, 0], x[2, 0, 0, 0] = np.nan, np.inf, -np.inf
    with pytest.raises(ConfigError) as e:
        to_model_range(x)
    assert str(e.value) == ("images hold 1 NaN and 2 infinite values (of 1,024): allowed are finite values, uint8 in "
                            "[0, 255], or floats in [0, 1] or [-1, 1]")


def test_the_swd_takes_uint8_and_unit_floats_only():
    """The SWD's documented inputs are uint8 and [0, 1] floats: [-1, 1] floats against a uint8 reference gave
    SWD 1,495 instead of ~0 for the same images; now they are refused."""
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (20, 16, 16, 1), dtype=np.uint8)
    metric = swd.SlicedWasserstein(real)
    assert metric.distance(real)["swd"] == pytest.approx(metric.distance(real / 255.0)["swd"], abs=1e-3)
    for x, found in ((real / 127.5 - 1, "[-1, 1] (float64)"), (real.astype("float32"), "[0, 255] (float32)")):
        with pytest.raises(ConfigError) as e:
            metric.distance(x)
        assert str(e.value) == f"images hold values in {found}: allowed are uint8 in [0, 255], or floats in [0, 1]"


def _bad_sets(samples):
    nan = samples.astype("float32") / 255
    nan[3, 3, 3, 0] = np.nan
    return {
        "nan": (nan, "the images to score hold 1 NaN and 0 infinite values (of 31,360): allowed are finite values, "
                     "uint8 in [0, 255], or floats in [0, 1] or [-1, 1]"),
        "0-255 floats": (samples.astype("float32"), "the images to score hold values in [0, 255] (float32): allowed "
                                                    "are uint8 in [0, 255], or floats in [0, 1] or [-1, 1]"),
        "rgb": (np.repeat(samples, 3, -1), "the images to score are 28x28x3 images, the real images 28x28x1: every "
                                           "set must have the real images' height, width and channels"),
        "no channel axis": (samples[..., 0], "the images to score are 28x28 images, the real images 28x28x1: every "
                                             "set must have the real images' height, width and channels"),
    }


@pytest.mark.parametrize("name", ["nan", "0-255 floats", "rgb", "no channel axis"])
def test_evaluate_refuses_what_it_cannot_score_in_one_line(evaluator, digits, name):
    """Before: NaN gave `LinAlgError: Eigenvalues did not converge`, 0-255 floats an FCD of 869,276, RGB samples
    against grey real images a Keras "Input 0 ... is incompatible" traceback (the classifier ran before the SWD's
    shape check)."""
    images, message = _bad_sets(digits[2])[name]
    with pytest.raises(ConfigError) as e:
        evaluator.evaluate(images)
    assert str(e.value) == message


@pytest.mark.parametrize("count", [0, 1, 3])
def test_too_few_samples_are_refused_and_four_are_scored(evaluator, digits, count, caplog):
    """Before: 3 samples gave `ValueError: kth(=3) out of bounds`, 1 a `LinAlgError`. 4 (precision/recall's k + 1)
    are scored; their C_T is NaN, with a warning saying why (no cell holds the 20 samples it needs)."""
    with pytest.raises(ConfigError) as e:
        evaluator.evaluate(digits[2][:count])
    assert str(e.value) == (f"too few images to score: {count}; the metrics need at least 4 (precision/recall's ball "
                            "around each image reaches its 3 nearest others; FCD's covariances need 2)")
    with caplog.at_level(logging.WARNING, logger="kgan.eval.copying"):
        details = {}
        out = evaluator.evaluate(digits[2][:4], details=details)
    assert np.isfinite(out["fcd"]) and 0 <= out["precision"] <= 1 and np.isfinite(out["swd"])
    assert np.isnan(out["ct_pixels"]) and np.isnan(out["ct_features"])
    assert "C_T is NaN: no cell holds the 20 samples it needs to count (4 samples in 2 cells" in caplog.text
    assert evaluator.copying_verdict(details["ct_pixels"]).startswith("inconclusive (no cell holds enough samples")


def test_labels_and_floors_of_the_wrong_size_are_refused(evaluator, digits):
    with pytest.raises(ConfigError, match=r"^10 labels for 40 images to score: give one requested label per image$"):
        evaluator.evaluate(digits[2], labels=np.zeros(10, int))
    with pytest.raises(ConfigError, match=r"^a floor of 2 training images \(num_samples=2, 60 training images\): the "
                                          r"metrics need at least 4$"):
        evaluator.real_floor(2)
    assert evaluator.real_floor(4)["num_images"] == 4
    with pytest.raises(ConfigError, match=r"^the half-against-half floor of 7 real images: the metrics need at least "
                                          r"4 per half \(8 real images\)$"):
        Evaluator(evaluator.classifier, digits[0][:7], copying=False, swd=False).real_floor()


def test_the_real_and_training_images_are_checked_too(evaluator, digits):
    real, train, _ = digits
    with pytest.raises(ConfigError, match=r"^the training images are 28x28x3 images, the real images 28x28x1"):
        Evaluator(None, real, np.repeat(train, 3, -1))
    with pytest.raises(ConfigError, match=r"^the real images hold values in \[0, 255\] \(float64\)"):
        Evaluator(None, real.astype("float64"))
    with pytest.raises(ConfigError, match=r"^too few real images: 3; the metrics need at least 4"):
        Evaluator(evaluator.classifier, real[:3], swd=False)
    label_free = Evaluator(None, real, train)
    assert label_free.min_images == 1 and set(label_free.evaluate(real[:1])) == {"swd", "swd_28", "swd_14",
                                                                                  "ct_pixels"}


def test_the_range_rule_examples_run():
    import doctest

    from kgan.eval import _images

    result = doctest.testmod(_images, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted == 3
