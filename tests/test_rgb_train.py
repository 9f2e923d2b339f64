"""Training on a folder of RGB images: --image_size resizes mixed sizes, flags/folder64.cfg, DiffAugment settings."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kgan import training, workdir
from kgan.config import TrainConfig
from kgan.errors import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mixed_folder(path, n=24):
    from PIL import Image

    rng = np.random.default_rng(0)
    os.makedirs(path, exist_ok=True)
    for i in range(n):
        h, w = [(40, 40), (80, 60), (64, 64)][i % 3]
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(os.path.join(path, f"{i:02d}.png"))
    return str(path)


def test_image_size_resizes_a_folder_of_mixed_sizes_and_trains_with_diff_augment(tmp_path):
    config = TrainConfig(dataset="folder", data_dir=_mixed_folder(tmp_path / "images"), image_size=(32, 32),
                               g_filters=(16, 8, 8), d_filters=(8, 8, 8), kernel_size=3, latent_dim=8, batch_size=8,
                               epochs=1, num_samples=4, verbose=0, diff_augment="color,translation,cutout")
    gan, history = training.train_and_evaluate(config, str(tmp_path / "run"))
    assert int(gan.g_optimizer.iterations.numpy()) == 3  # 24 images / batch 8
    assert json.load(open(tmp_path / "run" / "config.json"))["image_shape"] == [32, 32, 3]
    assert gan.diff_augment.policy == "color,translation,cutout"
    assert gan.generate(2).shape == (2, 32, 32, 3)
    restored, _ = workdir.load_run(str(tmp_path / "run"))
    assert restored.diff_augment.policy == "color,translation,cutout"


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_size=(32,)), "image_size must be two positive integers H,W"),
    (dict(image_size=(0, 32)), "image_size must be two positive integers H,W"),
    (dict(diff_augment="color,zoom"), "diff_augment must be comma-separated transforms"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs).validate()


def test_folder64_flagfile_from_the_command_line(tmp_path):
    """flags/folder64.cfg with --image_size on the command line, shrunk to a few steps of tiny networks."""
    out = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "train.py", "--flagfile=flags/folder64.cfg", f"--data_dir={_mixed_folder(tmp_path / 'im')}",
         "--image_size=32,32", "--g_filters=16,8,8", "--d_filters=8,8,8", "--batch_size=8", "--epochs=1",
         "--steps_per_epoch=2", "--num_samples=4", f"--output_dir={out}", "--progress=none"],
        cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    config = json.load(open(out / "config.json"))
    assert config["image_shape"] == [32, 32, 3] and config["image_size"] == [32, 32]
    assert config["diff_augment"] == "color,translation,cutout"
