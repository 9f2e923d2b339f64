"""Test setup: two logical CPU devices (for MirroredStrategy tests), paths to shared data."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist (pytest.ini: one worker per core) every worker process, and every process its tests
# start, runs TensorFlow's ops on one intra-op thread: two workers with a pool of two threads each (plus
# their subprocesses) oversubscribed the two cores, and tests made of many tiny ops slowed down up to 30x
# while another worker trained (test_train_step_pinned: 84 s beside test_distribute, 3 s alone).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = pathlib.Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_dir():
    """The real MNIST test split (10k images, IDX) beside the repo; skips if absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return str(MNIST_DIR)


_STRATEGIES = {}


@pytest.fixture
def two_replicas():
    """One MirroredStrategy over the 2 logical CPUs for the whole session.

    TensorFlow caches collective-op instances by key; a second MirroredStrategy
    over the same devices in one process reuses keys with other shapes, so the
    tests share one (as a program would).
    """
    if "two" not in _STRATEGIES:
        _STRATEGIES["two"] = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    return _STRATEGIES["two"]


def start_workers(cmd, env, cwd=REPO):
    """Starts a `launch.py` command; returns `(process, {worker index: pid}, the output lines read so far)`
    once launch.py has named both workers' pids (its lines `[launch] worker I pid P`)."""
    import subprocess

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids, lines = {}, []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[launch] worker"):
            parts = line.split()
            pids[int(parts[2])] = int(parts[4])
        if len(pids) == 2:
            break
    return proc, pids, lines
