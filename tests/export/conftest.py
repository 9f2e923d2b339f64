"""Shared fixtures for the export tests: one tiny DCGAN trained on real MNIST, and its export.

The run is trained for a few hundred steps, long enough that the generator
draws digit-like strokes (not flat grey noise): the int8 parity checks need
images with structure to mean anything. Everything is built once per session.
"""

import dataclasses
import gzip
import json

import numpy as np
import pytest

from .helpers import BATCH, LATENT_DIM, MNIST_DIR, TRAIN_STEPS


def tiny_config():
    from kgan.config import TrainConfig

    return TrainConfig(dataset="idx", data_dir=str(MNIST_DIR), network="dcgan", g_filters=(32, 16, 8),
                             d_filters=(8, 16), latent_dim=LATENT_DIM, batch_size=BATCH, epochs=1,
                             steps_per_epoch=TRAIN_STEPS, verbose=0, num_samples=4)


def _mnist_images():
    with gzip.open(MNIST_DIR / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    return x.astype("float32") / 127.5 - 1.0


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """`(run_dir, gan)`: a run directory as train.py leaves it (config.json + checkpoints/), and its GAN.

    Trained here with `build_gan` + `fit` + the `Checkpoint` callback (what
    `train_and_evaluate` does) on the real MNIST test split read directly, so it
    does not depend on the data pipeline.
    """
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    import keras
    import tensorflow as tf

    from kgan import callbacks, training

    run_dir = tmp_path_factory.mktemp("run")
    config = tiny_config()
    keras.utils.set_random_seed(0)
    gan = training.build_gan(config, (28, 28, 1))
    ds = tf.data.Dataset.from_tensor_slices(_mnist_images()).shuffle(10000, seed=0)
    ds = ds.batch(BATCH, drop_remainder=True).repeat()
    gan.fit(ds, epochs=1, steps_per_epoch=TRAIN_STEPS, verbose=0,
            callbacks=[callbacks.Checkpoint(run_dir / "checkpoints")])
    (run_dir / "config.json").write_text(
        json.dumps({**dataclasses.asdict(config), "image_shape": [28, 28, 1]}, default=list))
    return str(run_dir), gan


@pytest.fixture(scope="session")
def exported(trained_run, tmp_path_factory):
    """The `ExportResult` of exporting the trained GAN with every format and variant (version 1)."""
    from kgan import export

    _, gan = trained_run
    return export.export_generator(gan, tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="session")
def gan(trained_run):
    return trained_run[1]
