"""train.py end to end, in subprocesses: outputs, resume after SIGKILL, one-line errors."""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import forkserver
from tests.conftest import REPO

TINY = ["--network=mlp", "--g_filters=32", "--d_filters=32", "--batch_size=32", "--latent_dim=16"]


def run(args, cwd=REPO, timeout=300):
    """`python train.py args` in a child forked with TensorFlow already imported (tests/forkserver.py)."""
    return forkserver.run(REPO / "train.py", args, cwd=cwd, timeout=timeout)


def run_fresh(args, timeout=300):
    """`python train.py args` in a new interpreter: what a user's shell starts (TensorFlow's import included)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def _assert_one_line_error(stderr, message):
    """The error is one line (the last), names the value, and no traceback; info logs may precede it."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    errors = [l for l in lines if "error:" in l]
    assert len(errors) == 1 and errors[0] == lines[-1], stderr
    assert errors[0].startswith("train.py: error: ") and message in errors[0], stderr
    assert "Traceback" not in stderr


def _csv_epochs(path):
    with open(path) as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def test_dcgan_flagfile_run_fills_the_output_dir(tmp_path, mnist_dir):
    out = tmp_path / "run"
    r = run(["--flagfile=flags/dcgan.cfg", f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=2",
             "--steps_per_epoch=3", "--batch_size=32", "--num_samples=16"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(os.listdir(out / "samples")) == ["epoch_0001.png", "epoch_0002.png"]
    for name in ("progress.gif", "losses.png", "losses.csv", "metrics.csv", "config.json", "flags.cfg",
                 "checkpoints/checkpoint"):
        assert (out / name).exists(), name
    assert _csv_epochs(out / "metrics.csv") == [0, 1]
    assert any(f.startswith("events") for _, _, fs in os.walk(out / "tensorboard") for f in fs)
    flags_text = (out / "flags.cfg").read_text()
    assert "--batch_size=32" in flags_text and "--clusters=100" in flags_text
    (entry,) = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert entry["flags"] == flags_text and entry["from_step"] == 0 and entry["config"]["batch_size"] == 32
    assert "10000 images" in r.stderr  # the loader says what it found
    # dcgan.cfg holds out a seeded 20% for the quality metrics: k-means, like training, sees the other 8,000.
    assert "the train part, 8000 images (holdout 0.2, seed 0)" in r.stderr
    assert "k-means: 100 clusters of 8000 images" in r.stderr
    assert "training cdcgan self-conditioned on 100 clusters" in r.stderr
    assert "Sharding callback duration" not in r.stderr  # TensorFlow's line per checkpoint write is dropped


def test_more_clusters_than_images_is_one_line_and_writes_nothing(tmp_path, mnist_dir):
    out = tmp_path / "run"
    r = run(["--flagfile=flags/dcgan.cfg", f"--data_dir={mnist_dir}", f"--output_dir={out}", "--clusters=20000"])
    assert r.returncode == 2, r.stderr[-2000:]
    _assert_one_line_error(r.stderr, "cannot make 20000 clusters from 8000 images")
    assert not out.exists()


def test_conditional_flagfile_trains_with_mode_seeking(tmp_path, mnist_dir):
    """flags/cdcgan.cfg builds on flags/dcgan.cfg: labels from the IDX folder, MSGAN term logged."""
    out = tmp_path / "run"
    r = run(["--flagfile=flags/cdcgan.cfg", f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=1",
             "--steps_per_epoch=3", "--num_samples=20"])
    assert r.returncode == 0, r.stderr[-3000:]
    with open(out / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["g_mode_seeking"]) > 0
    flags_text = (out / "flags.cfg").read_text()
    assert "--network=cdcgan" in flags_text and "--g_filters=128,64,32" in flags_text


def test_default_output_dir_is_named_after_the_flagfile(tmp_path, mnist_dir):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text("\n".join(TINY + ["--epochs=1", "--steps_per_epoch=2"]) + "\n")
    r = run([f"--flagfile={cfg}", f"--data_dir={mnist_dir}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "runs" / "tiny" / "config.json").exists()


@pytest.mark.parametrize("flag", ["-h", "--help", "--helpfull"])
def test_help_is_a_success(tmp_path, flag):
    r = run([flag], cwd=tmp_path)  # absl alone exits 1 after --help, and calls -h an unknown flag
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--output_dir:" in r.stdout + r.stderr and "error:" not in r.stderr


def test_two_replicas_log_each_line_once_without_reduction_chatter(tmp_path, mnist_dir):
    r = run([*TINY, f"--data_dir={mnist_dir}", f"--output_dir={tmp_path / 'run'}", "--epochs=1",
             "--steps_per_epoch=2", "--cpu_replicas=2", "--progress=none"])
    assert r.returncode == 0, r.stderr[-3000:]
    # TensorFlow's own handler printed each of its lines a second time, as "INFO:tensorflow:..." (until 2026-12-07).
    assert r.stderr.count("Using MirroredStrategy with devices") == 1, r.stderr[-3000:]
    assert "INFO:tensorflow:" not in r.stderr and "Reduce to /job:" not in r.stderr, r.stderr[-3000:]


def test_an_empty_output_dir_is_refused_not_read_as_the_default(tmp_path):
    r = run([*TINY, "--data_dir=/nonexistent/unused", "--output_dir="], cwd=tmp_path)  # was: a run in runs/run
    assert r.returncode == 2, r.stderr[-2000:]
    _assert_one_line_error(r.stderr, "--output_dir='' is empty: pass a folder, or leave the flag out")
    assert not (tmp_path / "runs").exists()


def test_resumes_after_sigkill(tmp_path, mnist_dir):
    out = tmp_path / "run"
    args = [*TINY, f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=8", "--steps_per_epoch=25",
            "--progress=epoch"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    metrics = out / "metrics.csv"
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(_csv_epochs(metrics)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed:\n" + proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _csv_epochs(metrics)
    assert 2 <= len(done_before) < 8

    r = run(args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr
    epochs = _csv_epochs(metrics)
    assert epochs[: len(done_before)] == done_before
    assert epochs == sorted(set(epochs)) and epochs[-1] == 7  # continued, did not start over
    # Step counters came back too: the last checkpoint is numbered by generator step.
    with open(out / "checkpoints" / "checkpoint") as f:
        assert 'model_checkpoint_path: "ckpt-200"' in f.read()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--loss=hinge2"], "unknown loss 'hinge2'"),
        (["--network=resnet"], "unknown network 'resnet'"),
        (["--gradient_penalty=-1"], "gradient_penalty weight must be a number >= 0, got -1.0"),
        (["--ema_decay=1.0"], "ema_decay must be in [0, 1)"),
        (["--dataset=no_such_dataset"], "no_such_dataset"),
        (["--batch_size=0"], "batch_size must be a positive integer, got 0"),
        (["--batch_size=-4"], "batch_size must be a positive integer, got -4"),
        (["--g_learning_rate=0"], "g_learning_rate must be a positive number, got 0.0"),
        (["--batch_size=33", "--cpu_replicas=2"], "batch_size=33 is not divisible"),
        (["--epochs=abc"], "--epochs"),
        (["--no_such_flag=1"], "no_such_flag"),
        (["--g_filters=a,b"], "g_filters"),
        (["--clusters=-3"], "clusters must be 0 (condition on labels, if at all) or an integer >= 2, got -3"),
        (["--seed=-1"], "seed must be an integer in [0, 4294967295], got -1"),  # was numpy's/sklearn's traceback
        (["--cpu_replicas=2", "--strategy=default"], "cpu_replicas=2 does not apply to strategy default"),  # 1 device
        (["--tpu=foo"], "tpu='foo' applies to strategy tpu only, not auto"),  # was ignored
        (["--holdout_seed=4294967296"], "holdout_seed must be an integer in [0, 4294967295], got 4294967296"),
        (["--flagfile=/nonexistent/x.cfg"], "error: Unable to open flagfile: "),  # was "error: ERROR:: Unable ..."
        (["--eval_every=1", "--eval_samples=3"], "eval_samples must be an integer >= 100, got 3"),  # after writing
        (["--cpu_replicas=2", "--steps_per_execution=2"], "steps_per_execution=2 on 2 replicas: Keras 3 cannot run "
         "several steps per call under a tf.distribute strategy"),  # a graph error inside fit (keras#19246)
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    r = run([*TINY, "--data_dir=/nonexistent/unused", f"--output_dir={tmp_path / 'run'}", *args])
    assert r.returncode == 2, r.stderr[-2000:]
    _assert_one_line_error(r.stderr, message)
    assert not (tmp_path / "run").exists()


def test_bad_input_from_a_fresh_interpreter_is_exactly_one_line(tmp_path):
    """As a user's shell runs it: TensorFlow's start-up notices (printed while it is imported, which the
    forked children above skip) stay off stderr; the error is its one error line, the last."""
    r = run_fresh([*TINY, "--data_dir=/nonexistent/unused", f"--output_dir={tmp_path / 'run'}", "--batch_size=0"])
    assert r.returncode == 2, r.stderr[-2000:]
    _assert_one_line_error(r.stderr, "batch_size must be a positive integer, got 0")
    for notice in ("oneDNN", "port.cc", "absl::InitializeLog", "cuda", "E0000"):
        assert notice not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "run").exists()


def test_bad_data_is_one_line_and_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    for data_dir, message in [(empty, "empty"), (bad, "train-images-idx3-ubyte")]:
        r = run([*TINY, "--dataset=idx", f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'run'}"])
        assert r.returncode == 2, r.stderr[-2000:]
        _assert_one_line_error(r.stderr, message)
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("num_classes", [5, 20])
def test_a_conditional_network_needs_as_many_classes_as_the_labels(tmp_path, mnist_dir, num_classes):
    """cdcgan on MNIST's 10 labels: 5 classes crashed the first step after writing config.json (and the fixed
    command was then refused: "holds a run with num_classes=5"); 20 trained 10 classes with no images."""
    out = tmp_path / "run"
    r = run([*TINY, "--network=cdcgan", f"--num_classes={num_classes}", f"--data_dir={mnist_dir}",
             f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=1"])
    assert r.returncode == 2, r.stderr[-3000:]
    _assert_one_line_error(r.stderr, f"num_classes={num_classes}, but the labels of {mnist_dir} are 0-9: pass "
                                     "num_classes=10")
    assert not out.exists() or not os.listdir(out)


def test_a_classifier_cache_that_is_a_file_is_one_line_before_anything_is_written(tmp_path, mnist_dir):
    """--eval_every with --classifier_cache naming a file: a FileExistsError traceback after config.json was
    written (and, in evaluate.py, after the classifier had trained) until 2026-12-07."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for cache in (a_file, a_file / "under"):
        r = run([*TINY, f"--data_dir={mnist_dir}", f"--output_dir={tmp_path / 'run'}", "--epochs=1",
                 "--steps_per_epoch=1", "--eval_every=1", "--eval_samples=100", f"--classifier_cache={cache}"])
        assert r.returncode == 2, r.stderr[-3000:]
        _assert_one_line_error(r.stderr, f"classifier cache {cache} cannot be a folder: {a_file} is a file")
        assert not (tmp_path / "run").exists() or not os.listdir(tmp_path / "run")
    assert a_file.read_text() == "x"


def test_incompatible_output_dir_is_refused_and_left_intact(tmp_path, mnist_dir):
    out = tmp_path / "run"
    r = run([*TINY, f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=2"])
    assert r.returncode == 0, r.stderr[-3000:]
    before = _hashes(out)
    r = run([*TINY, "--latent_dim=8", f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=2"])
    assert r.returncode == 2
    _assert_one_line_error(r.stderr, "latent_dim=16")
    assert "latent_dim=8" in r.stderr
    assert _hashes(out) == before


def test_same_seed_same_sample_grid_bytes(tmp_path, mnist_dir):
    grids = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = run([*TINY, f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=5",
                 "--seed=7"])
        assert r.returncode == 0, r.stderr[-2000:]
        grids.append((out / "samples" / "epoch_0001.png").read_bytes())
    assert grids[0] == grids[1]


def test_evaluate_refuses_a_data_dir_whose_images_are_not_the_runs(tmp_path, mnist_dir):
    """evaluate.py applied the run's recorded split to whatever --data_dir held: with images added, most of the
    "held-out" images had been trained on (an audit: 36 of 42), and it said "never trained on"."""
    import shutil

    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(mnist_dir, data)
    r = run([*TINY, f"--data_dir={data}", f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=1", "--holdout=0.2"])
    assert r.returncode == 0, r.stderr[-3000:]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(data / "t10k-images-idx3-ubyte.gz", other / "t10k-images-idx3-ubyte.gz")  # the run's digits,
    shutil.copy(data / "t10k-images-idx3-ubyte.gz", other / "train-images-idx3-ubyte.gz")  # and more beside them
    r = forkserver.run(REPO / "evaluate.py", [f"--run_dir={out}", f"--data_dir={other}", "--num_samples=100"],
                       timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    last = [line for line in r.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("evaluate.py: error: the images in ") and "(10000 images then, 20000 now)" in last, r.stderr
    assert "Traceback" not in r.stderr and not (out / "quality.json").exists()
