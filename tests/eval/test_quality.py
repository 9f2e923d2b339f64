"""kgan.eval quality metrics: the reference classifier, the metrics' behaviour on known sets against held-out
images, the equal-N floor, the C_T copying test in the classifier's features, the callback.

The 10k local digits are split as a run splits them (kgan.data.split.plan): the classifier trains on the
8,000 training images, the metrics compare with the 2,000 held-out ones."""

import csv
import os

import keras
import numpy as np
import pytest

import kgan
from kgan import eval as ev
from kgan import nets

from ..conftest import MNIST_DIR


@pytest.fixture(scope="session")
def split():
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return kgan.data.split.plan("idx", data_dir=str(MNIST_DIR), metrics=True)


@pytest.fixture(scope="session")
def real(split):
    """The training part: (8,000 images, their labels)."""
    return kgan.data.arrays("idx", data_dir=str(MNIST_DIR), **split["train"])


@pytest.fixture(scope="session")
def heldout(split):
    """The 2,000 held-out images, in random order (the MNIST test file is ordered by writer group)."""
    images, _ = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), with_labels=False, **split["heldout"])
    return images[np.random.default_rng(0).permutation(len(images))]


@pytest.fixture(scope="session")
def classifier(real, tmp_path_factory):
    """Trained once per session on all 8,000 training digits, as a run trains it on all its training images.

    Not on a subset: the equal-N floor draws its 1,000 digits from the training part, and a classifier that saw
    only half of them (4,000, 2026-12-07) scored new real digits 0.15 under that floor on an AVX-512 host."""
    model, info = ev.reference_classifier(*real, tmp_path_factory.mktemp("classifier_cache"))
    return model, info


@pytest.fixture(scope="session")
def evaluator(classifier, real, heldout):
    """Against all 2,000 held-out digits, without the copying test and the SWD (the classifier metrics' sanity
    sets at 5,000 images; the SWD is checked on `half_evaluator`, at 1,000)."""
    return ev.Evaluator(classifier[0], heldout, real[0], copying=False, swd=False)


@pytest.fixture(scope="session")
def half_evaluator(classifier, real, heldout):
    """Against 1,000 of the held-out digits, with the copying test and the SWD; the other 1,000 are new real
    digits."""
    return ev.Evaluator(classifier[0], heldout[:1000], real[0])


@pytest.fixture(scope="session")
def new_scores(half_evaluator, heldout):
    """`half_evaluator`'s scores of the other 1,000 held-out digits: new real digits (evaluated once, for the
    three tests that compare them with the floor, copies and the SWD)."""
    return half_evaluator.evaluate(heldout[1000:])


def test_classifier_is_accurate_and_cached_by_data_checksum(classifier, real):
    model, info = classifier
    assert info["trained"] and info["labels"] == "classes"
    assert info["accuracy"] >= 0.98 and info["accuracy"] >= info["gate"] > 0.85  # gate: half nearest-mean's error
    images, labels = real
    again, info2 = ev.reference_classifier(images, labels, os.path.dirname(info["path"]))
    assert not info2["trained"] and info2["checksum"] == info["checksum"]
    x = images[:64]
    np.testing.assert_allclose(again.predict(ev.classifier.to_model_range(x), verbose=0),
                               model.predict(ev.classifier.to_model_range(x), verbose=0), atol=1e-6)
    flipped = labels.copy()
    flipped[0] = (flipped[0] + 1) % 10
    assert ev.data_checksum(images, flipped) != info["checksum"]  # other data never reuses the cache


def test_new_real_images_score_at_the_equal_n_floor(half_evaluator, heldout, new_scores):
    """1,000 new real digits against 1,000 held-out ones score what 1,000 training digits do: the floor at
    equal N. The old floor (one half of the reference against the other, 500 vs 500) is worse."""
    new = new_scores
    floor = half_evaluator.real_floor(1000)
    old = ev.Evaluator(half_evaluator.classifier, heldout[:1000]).real_floor()
    print(f"new real {new}\nequal-N floor {floor}\nhalf-vs-half floor {old}")
    assert floor["num_images"] == 1000 and floor["modes"] == 10 and floor["class_kl"] < 0.02
    assert floor["classifier_score"] > 9.3 and floor["precision"] > 0.8 and floor["recall"] > 0.8
    assert new["classifier_score"] == pytest.approx(floor["classifier_score"], abs=0.15)
    assert new["fcd"] == pytest.approx(floor["fcd"], rel=0.35) and floor["fcd"] < 1.0
    assert abs(new["precision"] - floor["precision"]) < 0.05 and abs(new["recall"] - floor["recall"]) < 0.05
    assert old["fcd"] > 1.3 * floor["fcd"]
    assert old["swd"] > 1.3 * floor["swd"]  # 500 against 500 images: fewer descriptors, a higher SWD


def test_swd_new_real_digits_at_the_floor_noise_and_blur_far_above(half_evaluator, heldout, new_scores):
    """The label-free SWD in the evaluator, against the same 1,000 held-out digits as the other metrics: 1,000
    new real digits score what 1,000 training digits do (the equal-N floor); uniform noise and the new digits
    blurred (sigma = 1) score far above it."""
    new_digits, new = heldout[1000:], new_scores
    floor = half_evaluator.real_floor(1000)
    noise = half_evaluator.evaluate(np.random.default_rng(0).integers(0, 256, (1000, 28, 28, 1)).astype("uint8"))
    blurred = half_evaluator.evaluate(_blur(new_digits))
    print({name: {k: round(v, 2) for k, v in r.items() if k.startswith("swd")}
           for name, r in (("new", new), ("floor", floor), ("noise", noise), ("blurred", blurred))})
    assert {"swd_28", "swd_14", "swd"} <= set(new) and {"swd_28", "swd_14", "swd"} <= set(floor)
    assert new["swd"] < 1.5 * floor["swd"] and floor["swd"] < 1.5 * new["swd"]
    assert noise["swd"] > 20 * floor["swd"] and blurred["swd"] > 5 * floor["swd"]
    assert half_evaluator.swd.distance(new_digits)["swd"] == new["swd"]  # seeded: the same number again


def test_copies_are_flagged_in_both_spaces_and_new_images_are_not(half_evaluator, real, new_scores):
    replay = real[0][np.random.default_rng(5).choice(len(real[0]), 1000, replace=False)]
    new = new_scores
    exact = half_evaluator.evaluate(replay)
    shifted = half_evaluator.evaluate(np.roll(replay, 1, axis=2))
    print(f"C_T new {new['ct_pixels']:.2f} {new['ct_features']:.2f}, copies {exact['ct_pixels']:.2f} "
          f"{exact['ct_features']:.2f}, shifted copies {shifted['ct_pixels']:.2f} {shifted['ct_features']:.2f}")
    assert abs(new["ct_pixels"]) < 2.5 and abs(new["ct_features"]) < 2.5
    assert exact["ct_pixels"] < 3 * ev.copying.THRESHOLD and exact["ct_features"] < 3 * ev.copying.THRESHOLD
    assert shifted["ct_pixels"] < 2 * ev.copying.THRESHOLD and shifted["ct_features"] < ev.copying.THRESHOLD


def test_noise_and_mode_collapse_score_clearly_worse(evaluator, real):
    images, labels = real
    floor = evaluator.real_floor(5000)
    noise = evaluator.evaluate(np.random.default_rng(0).integers(0, 256, (5000, 28, 28, 1)).astype("uint8"))
    collapsed = evaluator.evaluate(images[labels < 5])
    assert noise["classifier_score"] < 3 and noise["precision"] < 0.05 and noise["fcd"] > 100 * floor["fcd"]
    assert collapsed["modes"] == 5 and collapsed["class_kl"] > 0.5
    assert collapsed["classifier_score"] < 6 and collapsed["recall"] < 0.7
    assert collapsed["precision"] > 0.85  # real digits, just too few kinds
    assert collapsed["fcd"] > 20 * floor["fcd"]


def _blur(images, sigma=1.0):
    r = 3
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma**2))
    k /= k.sum()
    x = images[..., 0].astype("float64")
    x = np.apply_along_axis(lambda m: np.convolve(m, k, mode="same"), 1, x)
    x = np.apply_along_axis(lambda m: np.convolve(m, k, mode="same"), 2, x)
    return np.clip(x, 0, 255).astype("uint8")[..., None]


def test_blurred_digits_lose_recall_and_fcd_but_keep_the_score(evaluator, real):
    images, _ = real
    sample = images[np.random.default_rng(4).permutation(len(images))[:5000]]
    sharp = evaluator.evaluate(sample)
    blurred = evaluator.evaluate(_blur(sample))
    print(f"sharp {sharp}\nblurred {blurred}")
    assert blurred["classifier_score"] > 8.5  # still clearly digits of every class
    assert blurred["recall"] < sharp["recall"] - 0.15
    assert blurred["fcd"] > 10 * max(sharp["fcd"], 0.05)


def test_fcd_of_a_set_with_itself_is_zero_and_symmetric(evaluator, real):
    images, _ = real
    a, _ = evaluator.features(images[:3000])
    b, _ = evaluator.features(_blur(images[3000:6000]))
    assert ev.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert ev.frechet_distance(a, b) == pytest.approx(ev.frechet_distance(b, a), rel=1e-6)
    assert ev.frechet_distance(a, b) > 1.0


def test_metric_helpers_on_known_inputs():
    assert ev.classifier_score(np.eye(10)[np.arange(1000) % 10]) == pytest.approx(10.0, rel=1e-6)
    assert ev.classifier_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)
    assert ev.modes_covered(np.r_[np.zeros(98, int), [1, 2]], 10) == 1  # 1% each is under the 2% bar
    assert ev.class_histogram_kl(np.arange(1000) % 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert ev.class_histogram_kl(np.zeros(10, int), 10) == pytest.approx(np.log(10))
    x = np.random.default_rng(0).normal(size=(400, 8)).astype("float32")
    assert ev.precision_recall(x, x) == (1.0, 1.0)
    p, r = ev.precision_recall(x, x + 100.0)
    assert p == 0.0 and r == 0.0


def test_precision_is_the_fake_share_in_the_real_manifold_and_recall_the_reverse():
    """A narrow fake cloud inside a wide real one: every fake is where real data is (precision ~1), but the fakes
    cover little of the real data (recall small); the reverse sets swap the two. Pins which is which."""
    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(0, 1, (500, 2)), rng.normal(0, 0.05, (500, 2))
    p, r = ev.precision_recall(wide, narrow)  # real, fake
    assert p > 0.95 and r < 0.1, (p, r)
    p, r = ev.precision_recall(narrow, wide)
    assert p < 0.1 and r > 0.95, (p, r)


def test_precision_recall_on_a_hand_made_set_pin_k():
    """1-D real points 0, 1, 2, 3 and fakes 0.5, 1.5, 5.5, 7.5 (every boundary at least 0.5 away).

    k = 3: the real balls reach 3, 2, 2, 3 (real manifold [-3, 6]): fakes 0.5, 1.5 and 5.5 are inside,
    precision 3/4; the fake balls reach 7, 6, 5, 7 (0.5's 3rd neighbour is 7.5): [-6.5, 7.5] holds every real
    point, recall 1. k = 1: the real balls reach 1 ([-1, 4]): precision 2/4; the fake balls reach 1, 1, 2, 2
    ([-0.5, 2.5] and [3.5, 9.5]): real 3 is outside, recall 3/4. The default is k = 3 (`K`)."""
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [1.5], [5.5], [7.5]])
    assert ev.precision_recall(real, fake) == (0.75, 1.0)
    assert ev.precision_recall(real, fake, k=3) == (0.75, 1.0)
    assert ev.precision_recall(real, fake, k=1) == (0.5, 0.75)
    assert ev.precision_recall(fake, real) == (1.0, 0.75)  # the sets swapped: precision and recall swap
    assert ev.precision_recall(real.ravel(), fake.ravel()) == (0.75, 1.0)  # [N]: N rows of one feature


@pytest.mark.parametrize("args, message", [
    ((np.ones((3, 2)), np.ones((3, 2))), "precision/recall with k=3 needs at least 4 feature rows per set (each "
                                         "row's ball reaches its 3 nearest others), got 3 (real) and 3 (fake)"),
    ((np.ones((4, 2)), np.r_[np.ones((3, 2)), [[np.nan, 1]]]),
     "the fake set's features hold 1 NaN or infinite values (of 8): precision/recall with k=3 takes finite features"),
    ((np.ones((4, 2)), np.ones((4, 2)), 0), "k must be a whole number >= 1, got 0"),
])
def test_bad_precision_recall_inputs_are_one_line_config_errors(args, message):
    with pytest.raises(kgan.errors.ConfigError) as e:
        ev.precision_recall(*args)
    assert str(e.value) == message


def test_label_accuracy_is_high_for_the_requested_digits_and_low_for_wrong_requests(evaluator, split):
    """Held-out digits (the classifier never saw them) with their own labels as the requested classes score
    ~1; the same digits with every requested label wrong score ~0, and with half of them wrong about half."""
    images, labels = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), **split["heldout"])
    images, labels = images[:1000], labels[:1000].astype("int64")
    wrong = (labels + 1 + np.arange(len(labels)) % 9) % 10  # every label another class
    half = np.where(np.arange(len(labels)) % 2 == 0, labels, wrong)
    good, bad, mixed = (evaluator.evaluate(images, labels=y)["label_accuracy"] for y in (labels, wrong, half))
    print(f"label accuracy: requested {good:.3f}, half wrong {mixed:.3f}, all wrong {bad:.3f}")
    assert good > 0.97 and bad < 0.03 and 0.45 < mixed < 0.55
    assert bad < mixed < good


def test_training_raises_the_classifier_score_and_the_callback_logs_it(real, evaluator, mnist_dir, split, tmp_path):
    """The recipe's direction, quickly: 150 steps of flags/dcgan.cfg's settings (self-conditioned on 100
    k-means clusters, mode seeking 0.1) on real digits lift the score well above its start (300 steps: 1.0 to 7.4)."""
    keras.utils.set_random_seed(0)
    centroids, prior = kgan.features.fit_clusters(real[0], 100, seed=0)
    ds = kgan.features.label_batches(kgan.data.load("mnist", data_dir=mnist_dir, batch_size=64, seed=0,
                                                    **split["train"]), centroids).repeat()
    G = kgan.features.self_conditioned(
        nets.cdcgan_generator(latent_dim=100, num_classes=100, filters=(128, 64, 32), kernel_size=4), 100, prior)
    gan = kgan.GAN(G, nets.cdcgan_discriminator(num_classes=100, filters=(32, 64), kernel_size=4), seed=0,
                   ema_decay=0.999)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5), mode_seeking=0.1)
    before = evaluator.evaluate(gan.generate(2000, seed=1))
    quality = kgan.callbacks.QualityMetrics(evaluator, every_n_epochs=1, num_samples=2000, seed=1)
    history = gan.fit(ds, epochs=2, steps_per_epoch=75, verbose=0,
                      callbacks=[quality, keras.callbacks.CSVLogger(str(tmp_path / "m.csv"))])
    after = quality.history[-1]
    print(f"classifier score {before['classifier_score']:.2f} -> {after['classifier_score']:.2f}")
    assert after["classifier_score"] > before["classifier_score"] + 0.8
    assert after["fcd"] < 0.5 * before["fcd"]
    assert [h["epoch"] for h in quality.history] == [1, 2]
    assert quality.floor["num_images"] == 2000 and quality.floor["fcd"] < 0.2 * after["fcd"]
    assert history.history["classifier_score"][-1] == pytest.approx(after["classifier_score"])
    with open(tmp_path / "m.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["recall"]) == pytest.approx(after["recall"])
