"""kgan.training and kgan.config: one epoch through the TFDS path under tfds.testing.mock_data, config checks."""

import json
import os

import pytest
import tensorflow_datasets as tfds

from kgan import config as config_lib, training
from kgan.errors import ConfigError


def test_one_epoch_on_mocked_tfds_mnist(tmp_path):
    config = config_lib.TrainConfig(dataset="mnist", network="mlp", g_filters=(32,), d_filters=(32,), latent_dim=8,
                               batch_size=16, epochs=1, num_samples=4, verbose=0)
    with tfds.testing.mock_data(num_examples=64):
        gan, history = training.train_and_evaluate(config, str(tmp_path))
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
        (dict(steps_per_execution=0), "steps_per_execution must be an integer >= 1, got 0"),
        (dict(steps_per_epoch=3, steps_per_execution=4), "steps_per_epoch=3 must be a multiple of steps_per_execution=4"),
        (dict(network="cdcgan", clusters=1), "clusters must be 0 .* or an integer >= 2, got 1"),
        (dict(network="dcgan", clusters=10), "use --network=cdcgan, not 'dcgan'"),
        (dict(precision="bfloat16"), "precision .*'bfloat16'"),
    ],
)
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config_lib.TrainConfig(**kwargs).validate()


def _tiny(mnist_dir, **kwargs):
    return config_lib.TrainConfig(**{**dict(dataset="idx", data_dir=mnist_dir, network="cdcgan", g_filters=(16, 8, 4),
                                       d_filters=(8, 16), latent_dim=8, batch_size=16, epochs=1, steps_per_epoch=3,
                                       num_samples=4, verbose=0), **kwargs})


def test_a_resumed_clusters_run_labels_with_its_saved_centroids(tmp_path, mnist_dir, monkeypatch):
    """The embeddings learned cluster indices: a rerun (even with another seed) must not re-cluster."""
    import numpy as np

    from kgan import features

    gan, _ = training.train_and_evaluate(_tiny(mnist_dir, clusters=5), str(tmp_path))
    saved = (tmp_path / "clusters.npz").read_bytes()
    with np.load(tmp_path / "clusters.npz") as f:
        assert f["centroids"].shape == (5, 784) and abs(float(f["prior"].sum()) - 1) < 1e-5
        np.testing.assert_allclose(gan.fake_labels.layer.prior, f["prior"], atol=1e-6)

    def no_kmeans(*args, **kwargs):
        raise AssertionError("k-means ran again on resume")

    monkeypatch.setattr(features, "fit_clusters", no_kmeans)
    gan, history = training.train_and_evaluate(_tiny(mnist_dir, clusters=5, epochs=2, seed=7), str(tmp_path))
    assert history.epoch == [1]  # resumed, did not start over
    assert (tmp_path / "clusters.npz").read_bytes() == saved
    with np.load(tmp_path / "clusters.npz") as f:
        np.testing.assert_allclose(gan.fake_labels.layer.prior, f["prior"], atol=1e-6)


def test_a_run_from_before_a_setting_existed_resumes_with_its_default(tmp_path, mnist_dir):
    training.train_and_evaluate(_tiny(mnist_dir, network="dcgan"), str(tmp_path))
    config = json.load(open(tmp_path / "config.json"))
    del config["clusters"]  # config.json as runs wrote it before --clusters
    json.dump(config, open(tmp_path / "config.json", "w"))
    _, history = training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", epochs=2), str(tmp_path))
    assert history.epoch == [1]


def test_a_held_out_split_is_recorded_and_kept_on_resume(tmp_path, mnist_dir):
    training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", holdout=0.2, holdout_seed=3), str(tmp_path))
    recorded = json.load(open(tmp_path / "config.json"))["data_split"]
    assert recorded["train"] == {"split": None, "holdout": 0.2, "holdout_seed": 3, "part": "train"}
    assert recorded["heldout"]["part"] == "heldout"
    # resumed without --holdout: the recorded split, not the default (which is 0 without metrics)
    _, history = training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", epochs=2), str(tmp_path))
    assert history.epoch == [1] and json.load(open(tmp_path / "config.json"))["data_split"] == recorded
    with pytest.raises(ConfigError, match="used a seeded 20% of the images held out .* asks for"):
        training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", epochs=3, holdout=0.3), str(tmp_path))
    with pytest.raises(ConfigError, match=r"holdout must be in \[0, 1\)"):
        _tiny(mnist_dir, holdout=1.0).validate()


def test_a_run_whose_images_changed_is_refused_before_anything_is_written(tmp_path, mnist_dir):
    """Its held-out part is chosen by index: with another image set under the same data_dir, resuming (or scoring)
    would count images the GAN trained on as held out. An audit found 36 of 42 "held-out" images trained on."""
    import shutil

    from kgan.data import idx

    data = tmp_path / "data"
    shutil.copytree(mnist_dir, data)
    run = tmp_path / "run"
    training.train_and_evaluate(_tiny(str(data), network="dcgan", holdout=0.2), str(run))
    before = {f: (run / f).read_bytes() for f in ("config.json", "history.jsonl")}
    images = idx.read_idx(data / "t10k-images-idx3-ubyte.gz")[:9000]  # a thousand images fewer
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    import gzip

    with gzip.open(data / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + images.tobytes())
    with pytest.raises(ConfigError, match=r"^the images in \S+ are not those the run in \S+ split into training and "
                                          r"held-out images \(10000 images then, 9000 now\)"):
        training.train_and_evaluate(_tiny(str(data), network="dcgan", epochs=2), str(run))
    assert before == {f: (run / f).read_bytes() for f in before}


def test_a_checkpoint_that_does_not_fit_is_refused_before_the_run_files_are_rewritten(tmp_path, mnist_dir):
    """The checkpoint is restored inside `fit`: a resume it could not fit rewrote config.json (so the run no longer
    loaded for export or evaluate) and history.jsonl before failing. Now checked before anything is written."""
    import shutil

    training.train_and_evaluate(_tiny(mnist_dir, network="dcgan"), str(tmp_path / "a"))
    training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", d_filters=(8, 32)), str(tmp_path / "b"))
    shutil.rmtree(tmp_path / "a" / "checkpoints")
    shutil.copytree(tmp_path / "b" / "checkpoints", tmp_path / "a" / "checkpoints")  # another D's checkpoint
    before = {f: (tmp_path / "a" / f).read_bytes() for f in ("config.json", "history.jsonl")}
    with pytest.raises(ConfigError, match=r"^checkpoint \S+ckpt-3 does not match this model \(a different network or "
                                          r"size\?\): discriminator \S+ is shape \[\d+(, \d+)*\] here, shape"):
        training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", epochs=2), str(tmp_path / "a"))
    assert before == {f: (tmp_path / "a" / f).read_bytes() for f in before}


def test_a_bfloat16_run_trains_in_bfloat16_and_loads_in_float32(tmp_path, mnist_dir):
    """`precision` is the policy of the networks it trains, nothing built after them; a loaded run (export,
    generate.py) computes in float32 from the same float32 weights."""
    import keras
    import numpy as np

    from kgan import workdir

    gan, _ = training.train_and_evaluate(_tiny(mnist_dir, network="dcgan", precision="mixed_bfloat16"), str(tmp_path))
    assert {layer.dtype_policy.name for layer in gan.generator.layers[1:]} == {"mixed_bfloat16"}
    assert keras.mixed_precision.global_policy().name == "float32"  # not left behind for what is built next
    loaded, config = workdir.load_run(str(tmp_path))
    assert config.precision == "mixed_bfloat16"
    assert {layer.dtype_policy.name for layer in loaded.generator.layers[1:]} == {"float32"}
    z = gan.latents(8, seed=0)
    difference = np.abs(loaded.generate(8, latents=z) - gan.generate(8, latents=z)).max()
    assert 0 < difference < 0.05  # bfloat16 rounding, on the same weights


def test_a_config_json_of_before_precision_keeps_its_policy():
    from kgan.config import TrainConfig

    assert TrainConfig.from_dict({"mixed_precision": True}).precision == "mixed_float16"
    assert TrainConfig.from_dict({"mixed_precision": False}).precision == "float32"
    assert TrainConfig.from_dict({"precision": "mixed_bfloat16"}).precision == "mixed_bfloat16"
