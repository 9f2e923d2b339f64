"""Training on a folder of RGB images: --image_size resizes mixed sizes, flags/folder64.cfg, DiffAugment settings."""

import csv
import json
import os

import numpy as np
import pytest

from kgan import training, workdir
from kgan.config import TrainConfig
from kgan.errors import ConfigError
from tests import forkserver

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


def test_one_image_size_is_a_square():
    assert TrainConfig(image_size=(48,)).image_size == TrainConfig(image_size=48).image_size == (48, 48)
    assert TrainConfig(image_size=(64, 32)).image_size == (64, 32)


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_size=(32, 32, 3)), "image_size must be two positive integers H,W \\(or one, for a square\\), "
                                   "got 32,32,3"),
    (dict(image_size=(0, 32)), "image_size must be two positive integers H,W"),
    (dict(diff_augment="color,zoom"), "diff_augment must be comma-separated transforms"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs).validate()


@pytest.mark.parametrize("num_classes", [2, 4])
def test_a_labelled_folder_needs_as_many_classes_as_the_network(tmp_path, num_classes):
    """cdcgan on a folder with 3 class subfolders: num_classes 4 would leave a class without images, 2 crashed the
    first step (label 2 outside the embedding) after writing the run's files; both are one error, nothing written."""
    for name in ("cat", "dog", "fox"):
        _mixed_folder(tmp_path / "images" / name, n=4)
    config = TrainConfig(dataset="folder", data_dir=str(tmp_path / "images"), network="cdcgan",
                         num_classes=num_classes, image_size=(32, 32), batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=rf"num_classes={num_classes}, but .*images holds 3 class subfolders "
                                          r"\(cat, dog, fox\): pass num_classes=3$"):
        training.train_and_evaluate(config, str(tmp_path / "run"))
    assert not os.listdir(tmp_path / "run") if (tmp_path / "run").exists() else True


def _cache_a_classifier(folder, cache, image_size=(32, 32)):
    """Trains the run's reference classifier (k-means clusters of its training part) into `cache` beforehand,
    without the accuracy gate: 19 noise images cannot teach it anything, and the test is about what is printed
    and logged. train.py and evaluate.py then load it from the cache (same images, same checksum)."""
    from kgan import data, eval as eval_lib

    split = data.split.plan("folder", folder, metrics=True)
    train, labels, _ = eval_lib.run_images("folder", folder, split, image_size=image_size)
    eval_lib.reference_classifier(train, labels, cache, min_accuracy=0.0)
    return split


def test_folder64_flagfile_from_the_command_line(tmp_path):
    """flags/folder64.cfg with --image_size on the command line, shrunk to a few steps of tiny networks, with
    --eval_every: the callback logs the label-free SWD into metrics.csv; then evaluate.py says which metrics
    apply (k-means clusters as classes, the SWD) and prints the SWD beside its equal-N real floor."""
    out, folder, cache = tmp_path / "run", _mixed_folder(tmp_path / "im"), tmp_path / "classifier_cache"
    split = _cache_a_classifier(folder, cache)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = forkserver.run(
        "train.py", ["--flagfile=flags/folder64.cfg", f"--data_dir={folder}",
         "--image_size=32,32", "--g_filters=16,8,8", "--d_filters=8,8,8", "--clusters=4", "--batch_size=8", "--epochs=1",
         "--steps_per_epoch=2", "--num_samples=4", f"--output_dir={out}", "--progress=none", "--eval_every=1",
         "--eval_samples=100", f"--classifier_cache={cache}"],
        env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    config = json.load(open(out / "config.json"))
    assert config["image_shape"] == [32, 32, 3] and config["image_size"] == [32, 32]
    assert config["diff_augment"] == "color,translation,cutout" and config["network"] == "cdcgan"
    assert config["mode_seeking"] == 0.1 and config["clusters"] == 4
    assert config["data_split"] == split  # the cached classifier is the run's
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert float(rows[-1]["swd"]) > 0 and float(rows[-1]["swd_32"]) > 0 and float(rows[-1]["swd_16"]) > 0

    r = forkserver.run("evaluate.py", [f"--run_dir={out}", "--num_samples=100", f"--classifier_cache={cache}"], env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    print(r.stdout)
    assert "metrics: classifier-feature metrics with no labels: the classifier's" in r.stdout
    assert "k-means clusters" in r.stdout and "label-free: swd" in r.stdout
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
             for line in r.stdout.splitlines() if line.startswith("| swd")}
    assert set(table) == {"swd", "swd_32", "swd_16"}
    quality = json.load(open(out / "quality.json"))
    for name, (samples, floor) in table.items():
        assert float(samples) == pytest.approx(quality["samples"][name], rel=1e-3)
        assert float(floor) == pytest.approx(quality["real_floor"][name], rel=1e-3)
    # The floor: the run's 19 training images against its 5 held-out ones, as many as the samples (all 19).
    assert quality["real_floor"]["num_images"] == 19 and quality["real_floor"]["swd"] > 0

    # A data set whose cluster classifier stayed below its gate (its verdict cached, as reference_classifier
    # records it; tests/eval/test_unlabelled.py makes a real one): evaluate.py falls back to the label-free
    # metrics, says so and why, and scores the SWD and the pixel copying test against the same floor.
    below = tmp_path / "below_gate_cache"
    below.mkdir()
    for meta in cache.glob("*.keras.json"):
        record = {**json.load(open(meta)), "accuracy": 0.31, "gate": 0.9, "passed": False}
        (below / meta.name).write_text(json.dumps(record))
    r = forkserver.run("evaluate.py", [f"--run_dir={out}", "--num_samples=100", f"--classifier_cache={below}"], env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    print(r.stdout)
    assert "reference classifier: none (the k-means-cluster classifier reached only 0.3100 held-out accuracy " \
           "(needs >= 0.9000" in r.stdout
    assert "metrics: label-free only" in r.stdout and "no FCD" in r.stdout
    rows = {line.split("|")[1].strip() for line in r.stdout.splitlines() if line.startswith("| ")}
    assert {"swd", "swd_32", "swd_16", "C_T (pixels, shift-tolerant by 1 px)"} <= rows and "fcd" not in rows
    quality = json.load(open(out / "quality.json"))
    assert quality["classifier_labels"] == "none" and "fcd" not in quality["samples"]
    assert quality["samples"]["swd"] == pytest.approx(float(table["swd"][0]), rel=1e-3)  # the same samples
