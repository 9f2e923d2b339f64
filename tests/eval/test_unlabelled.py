"""Metrics without labels (issue 17): the reference classifier learns k-means clusters of the training
images, and its features rank the same sanity sets as the labelled metrics: real digits at the floor;
blurred, noisy and mode-collapsed sets clearly worse. On MNIST with its labels withheld."""

import numpy as np
import pytest

import kgan
from kgan import eval as ev

from ..conftest import MNIST_DIR
from .test_quality import _blur


@pytest.fixture(scope="module")
def data():
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    split = kgan.data.split.plan("idx", data_dir=str(MNIST_DIR), metrics=True)
    train, labels = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), **split["train"])  # labels: sanity sets only
    heldout, _ = kgan.data.arrays("idx", data_dir=str(MNIST_DIR), with_labels=False, **split["heldout"])
    return train, labels, heldout[np.random.default_rng(0).permutation(len(heldout))]


@pytest.fixture(scope="module")
def unlabelled(data, tmp_path_factory):
    """The cluster classifier of 4,000 of the training digits (a seeded half: "a few thousand" unlabelled images,
    the size of set it is for, at half the cost of all 8,000), with their evaluator."""
    train, _, heldout = data
    few = train[np.random.default_rng(1).choice(len(train), 4000, replace=False)]
    clf, info = ev.reference_classifier(few, None, tmp_path_factory.mktemp("cache"))
    return ev.Evaluator(clf, heldout[:1000], train, copying=False, swd=False), info  # SWD: test_quality.py


def test_the_classifier_learns_clusters_above_its_data_dependent_gate(unlabelled):
    _, info = unlabelled
    print(info)
    assert info["labels"] == "clusters" and info["accuracy"] >= info["gate"] > 0.5
    # its features rank blurred, noisy and collapsed sets far above the real floor on its own held-out digits
    assert set(info["ranking"]) == {"blurred", "noisy", "collapsed"}
    assert min(info["ranking"].values()) >= ev.classifier.RANKING_FACTOR


def test_features_blind_to_blur_fail_the_ranking(data):
    """The ranking check rejects a feature space that cannot tell a sanity set from real digits: an image's mean
    brightness (spread over 128 features) does not change when the image is blurred. (Pooled pixels would pass on
    MNIST, where even they separate blur, noise and collapse by 2-40x; on photo crops they do not: ~1x.)"""
    import keras

    train = data[0][:2000]
    clusters = ev.classifier.cluster_labels(train)
    x = keras.Input((28, 28, 1))
    mean = keras.layers.GlobalAveragePooling2D()(x)
    features = keras.layers.Dense(128, name=ev.classifier.FEATURES_LAYER)(mean)
    blind = keras.Model(x, keras.layers.Dense(10, activation="softmax", name="probs")(features))
    ratios = ev.classifier.feature_ranking(blind, train, clusters)
    print(ratios)
    assert ratios["blurred"] < ev.classifier.RANKING_FACTOR <= ratios["collapsed"]  # darker and lighter clusters
    assert ev.classifier.feature_ranking(blind, train[:400], clusters[:400]) is None  # 80 held out: too few to judge


def test_sanity_sets_rank_as_with_labels(unlabelled, data):
    evaluator, _ = unlabelled
    train, labels, heldout = data
    rng = np.random.default_rng(0)
    sample = train[rng.choice(len(train), 1000, replace=False)]
    floor = evaluator.real_floor(1000)
    new = evaluator.evaluate(heldout[1000:])
    blurred = evaluator.evaluate(_blur(sample))
    noisy = evaluator.evaluate(np.clip(sample + rng.normal(0, 64, sample.shape), 0, 255).astype("uint8"))
    collapsed = evaluator.evaluate(train[labels < 5][:1000])
    for name, r in (("floor", floor), ("new", new), ("blurred", blurred), ("noisy", noisy), ("collapsed", collapsed)):
        print(name, {k: round(v, 3) for k, v in r.items()})
    assert floor["modes"] == new["modes"] == 10 and "swd" not in new and "swd" not in floor  # swd=False
    assert new["fcd"] == pytest.approx(floor["fcd"], rel=0.35)
    assert abs(new["precision"] - floor["precision"]) < 0.06 and abs(new["recall"] - floor["recall"]) < 0.06
    for bad in (blurred, noisy, collapsed):
        assert bad["fcd"] > 5 * floor["fcd"]  # measured: 36x, 53x, 20x (learning all 8,000 digits: 17x, 28x, 22x)
    for bad in (blurred, noisy):
        assert bad["recall"] < floor["recall"] - 0.15  # measured: 0.10, 0.06 against 0.94 (8,000: 0.52, 0.14)
    # Digits 0-4 still fill many of the pixel clusters: fewer modes, a lopsided histogram, some recall lost.
    assert collapsed["modes"] < 10 and collapsed["class_kl"] > 5 * floor["class_kl"] + 0.05
    assert collapsed["recall"] < floor["recall"] - 0.08


def _blocky_folder(root, n=200, size=16, seed=0):
    """An unlabelled folder of RGB images made of random 4x4 colour blocks: their pixel k-means clusters
    are set by the block colours, which nearest-mean on 4x4-pooled pixels (the gate) reads exactly,
    and which a CNN trained for a few steps on 80 images does not learn as well (like photo crops,
    whose clusters follow their coarse colour layout): the cluster classifier stays below its gate."""
    from PIL import Image

    root.mkdir()
    for i, image in enumerate(_blocks(n, size, seed)):
        Image.fromarray(image).save(root / f"{i:03d}.png")
    return root


def _blocks(n, size=16, seed=0):
    blocks = np.random.default_rng(seed).integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, size // 4, axis=1), size // 4, axis=2)


def test_below_its_gate_the_evaluator_falls_back_to_label_free_metrics_and_remembers(tmp_path, monkeypatch):
    folder = _blocky_folder(tmp_path / "blocks")
    split = kgan.data.split.plan("folder", data_dir=str(folder), holdout=0.5)
    cache = tmp_path / "cache"
    evaluator, info = ev.run_evaluator("folder", str(folder), split, cache)
    print(info)
    assert info["labels"] == "none" and info["accuracy"] < info["gate"] and "held-out accuracy" in info["reason"]
    assert evaluator.label_free and evaluator.held_out and evaluator.num_classes is None
    train, _ = kgan.data.arrays("folder", data_dir=str(folder), with_labels=False, **split["train"])
    heldout, _ = kgan.data.arrays("folder", data_dir=str(folder), with_labels=False, **split["heldout"])
    floor = evaluator.real_floor(100)
    new = evaluator.evaluate(_blocks(100, seed=1))  # new images from the same distribution
    copies = evaluator.evaluate(train)
    flat = evaluator.evaluate(np.full_like(heldout, 128))
    assert set(new) == {"swd", "swd_16", "ct_pixels"}, new  # no classifier metrics
    assert floor["num_images"] == 100 and "ct_pixels" not in floor
    assert new["swd"] < 2 * floor["swd"] < flat["swd"]  # new noise at the floor, flat grey far above
    assert copies["ct_pixels"] < evaluator.copying_threshold < new["ct_pixels"]
    # The verdict is cached with the data's checksum: the next call says it again without training.
    monkeypatch.setattr(ev.classifier, "train_classifier", lambda *a, **k: pytest.fail("trained again"))
    with pytest.raises(kgan.errors.ClassifierBelowGate, match="below|only"):
        ev.reference_classifier(train, None, cache)
    assert ev.run_evaluator("folder", str(folder), split, cache)[1]["labels"] == "none"


def test_labelled_data_below_its_gate_is_still_an_error(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (100, 16, 16, 1), dtype=np.uint8)
    labels = np.arange(100) % 10  # labels that have nothing to do with the images
    with pytest.raises(kgan.errors.ClassifierBelowGate, match="held-out accuracy"):
        ev.reference_classifier(images, labels, tmp_path)


def test_a_label_free_evaluator_needs_something_to_score(tmp_path):
    small = np.zeros((10, 8, 8, 3), np.uint8)
    with pytest.raises(kgan.errors.ConfigError, match="16 px"):
        ev.Evaluator(None, small)
