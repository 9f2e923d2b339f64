"""kgan.train: one epoch through the TFDS path under tfds.testing.mock_data, config checks."""

import json
import os

import pytest
import tensorflow_datasets as tfds

from kgan import train
from kgan.errors import ConfigError


def test_one_epoch_on_mocked_tfds_mnist(tmp_path):
    config = train.TrainConfig(dataset="mnist", network="mlp", g_filters=(32,), d_filters=(32,), latent_dim=8,
                               batch_size=16, epochs=1, num_samples=4, verbose=0)
    with tfds.testing.mock_data(num_examples=64):
        gan, history = train.train_and_evaluate(config, str(tmp_path))
    assert history.epoch == [0]
    assert int(gan.g_optimizer.iterations.numpy()) == 4  # 64 examples / batch 16
    assert json.load(open(tmp_path / "config.json"))["image_shape"] == [28, 28, 1]
    assert os.path.exists(tmp_path / "samples" / "epoch_0001.png")
    assert gan.generate(2).shape == (2, 28, 28, 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0), "epochs must be a positive integer, got 0"),
        (dict(d_learning_rate=-1.0), "d_learning_rate must be a positive number, got -1.0"),
        (dict(beta_1=1.0), r"beta_1 must be in \[0, 1\), got 1.0"),
        (dict(loss="hinge2"), "unknown loss 'hinge2'"),
        (dict(network="unet"), "unknown network 'unet'"),
        (dict(strategy="tpu2"), "unknown strategy 'tpu2'"),
        (dict(batch_size=10, cpu_replicas=4), "batch_size=10 is not divisible by cpu_replicas=4"),
        (dict(steps_per_epoch=0), "steps_per_epoch must be a positive integer, got 0"),
        (dict(network="cdcgan", clusters=1), "clusters must be 0 .* or an integer >= 2, got 1"),
        (dict(network="dcgan", clusters=10), "use --network=cdcgan, not 'dcgan'"),
    ],
)
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        train.TrainConfig(**kwargs).validate()
