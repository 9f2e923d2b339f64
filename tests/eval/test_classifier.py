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


def test_the_augmentation_blurs_each_colour_channel_as_a_grey_image():
    """RGB images are blurred channel by channel, with the same strength and the same images picked as a grey
    image gets from the same draws (a [7, 1, 1, 1] kernel on RGB crashed `evaluate.py` on a labelled folder)."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (64, 16, 16, 3)).astype("float32"))
    tf.random.set_seed(3)
    rgb = classifier._random_blur(x).numpy()
    for c in range(3):
        tf.random.set_seed(3)
        np.testing.assert_array_equal(rgb[..., c:c + 1], classifier._random_blur(x[..., c:c + 1]).numpy())
    changed = np.abs(rgb - x.numpy()).max(axis=(1, 2, 3)) > 0
    assert 0 < changed.sum() < len(x)  # some images blurred (share 0.3), the others untouched


def test_a_labelled_rgb_set_trains_a_classifier_that_tells_its_classes_apart():
    """Labelled colour images (an image folder with class subfolders) train the augmented classifier: red,
    green and blue squares at random places, told apart held out."""
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 3
    images = rng.integers(0, 40, (300, 16, 16, 3)).astype("uint8")
    for image, label, (r, c) in zip(images, labels, rng.integers(0, 10, (300, 2))):
        image[r:r + 6, c:c + 6, label] = 255
    model, accuracy = classifier.train_classifier(images, labels, epochs=3, batch_size=32)
    assert model.output_shape == (None, 3) and accuracy > 0.9
