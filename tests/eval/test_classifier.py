"""kgan.eval.classifier: training the reference classifier is reproducible."""

import numpy as np
import pytest

from kgan.eval import classifier

from ..conftest import MNIST_DIR


def test_the_same_data_trains_the_same_classifier():
    """Two trainings on the same digits give identical weights. The augmentation's random shifts and blurs run
    in a serial map; in a parallel map their draws followed thread timing (weights differed by up to 0.07
    after one epoch), so the metrics' reference changed from one training to the next."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    from kgan.data.idx import load_idx

    images, labels = load_idx(str(MNIST_DIR), with_labels=True)
    weights = []
    for _ in range(2):
        model, _ = classifier.train_classifier(images[:1500], labels[:1500], epochs=1)
        weights.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    assert np.array_equal(weights[0], weights[1])
