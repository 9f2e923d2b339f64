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
    train, _, heldout = data
    clf, info = ev.reference_classifier(train, None, tmp_path_factory.mktemp("cache"))
    return ev.Evaluator(clf, heldout[:1000], train, copying=False, swd=False), info  # SWD: test_quality.py


def test_the_classifier_learns_clusters_above_its_data_dependent_gate(unlabelled):
    _, info = unlabelled
    print(info)
    assert info["labels"] == "clusters" and info["accuracy"] >= info["gate"] > 0.5


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
        assert bad["fcd"] > 5 * floor["fcd"]  # measured: 17x, 28x, 22x
    for bad in (blurred, noisy):
        assert bad["recall"] < floor["recall"] - 0.15  # measured: 0.52, 0.14 against 0.94
    # Digits 0-4 still fill many of the pixel clusters: fewer modes, a lopsided histogram, some recall lost.
    assert collapsed["modes"] < 10 and collapsed["class_kl"] > 5 * floor["class_kl"] + 0.05
    assert collapsed["recall"] < floor["recall"] - 0.08
