"""Test setup: two logical CPU devices (for MirroredStrategy tests), paths to shared data."""

import contextlib
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist (pytest.ini: one worker per core) every worker process, and every process its tests
# start, runs TensorFlow's ops on one intra-op thread: two workers with a pool of two threads each (plus
# their subprocesses) oversubscribed the two cores, and tests made of many tiny ops slowed down up to 30x
# while another worker trained (test_train_step_pinned: 84 s beside test_distribute, 3 s alone).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import kgan_cli  # noqa: E402,F401  (its process default, oneDNN's kernels on x86-64: the suite runs what users run)
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = pathlib.Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.idle_watch"]  # the tests that sat off the CPU, and where, at the end of every run

# The files that take longest (pytest --durations, 2026-12-01), started first: pytest-xdist hands whole
# files to its workers in collection order (pytest.ini: --dist loadfile --no-loadscope-reorder; its default
# order, most tests first, left two-test files with a 2-minute fixture for the end, one core idle meanwhile).
SLOW_FIRST = ("tests/test_distribute.py", "tests/eval/test_quality.py", "tests/eval/test_unlabelled.py",
              "tests/test_faults.py", "tests/test_gan.py", "tests/test_train_cli.py", "tests/callbacks/test_guards.py",
              "tests/test_cli.py", "tests/test_rgb_train.py", "tests/test_augment.py", "tests/export/test_export_cli.py",
              "tests/test_cluster_preemption.py", "tests/test_learning.py", "tests/export/test_client.py")


def pytest_configure(config):
    """Test files (pytest's tmp_path and TMPDIR) go to RAM, /dev/shm, where the machine has it.

    kgan fsyncs every checkpoint, plot and run file it writes (kgan.io). On this VM's disk an fsync
    waited up to ~10 s while the other test worker wrote: in one suite run (2026-12-03) the loss-plot
    test spent 50 of its 53 s and the rollback test 39 of its 41 s off the CPU. On tmpfs an fsync returns
    at once. No test depends on the disk: the fault tests kill processes (the page cache survives them)
    and simulate a full disk. `--basetemp` given on the command line wins.
    """
    shm = "/dev/shm"
    if hasattr(config, "workerinput") or config.option.basetemp or not os.access(shm, os.W_OK):
        return  # pytest-xdist workers get the controller's basetemp and environment
    import tempfile

    config._kgan_basetemp = tempfile.mkdtemp(prefix="kgan-pytest-", dir=shm)
    config.option.basetemp = os.path.join(config._kgan_basetemp, "basetemp")
    os.environ["TMPDIR"] = config._kgan_basetemp
    tempfile.tempdir = None  # re-read TMPDIR


def pytest_unconfigure(config):
    base = getattr(config, "_kgan_basetemp", None)
    if base:  # RAM: not left behind
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest as collected
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_dir():
    """The real MNIST test split (10k images, IDX) beside the repo; skips if absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return str(MNIST_DIR)


_STRATEGIES = {}


@contextlib.contextmanager
def eagerly():
    """Runs `fit` (every `tf.function`) eagerly inside: the one-device reference of the N-replicas-equal-one-device
    tests. Eager execution skips tracing the step (~1 CPU-s of each reference run, 2026-12-04) and is a second
    way of running the same `train_step`, so the replicas' graph is compared with the step op by op."""
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)


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


class _Output:
    """What launch.py prints (its own lines and its workers', from several threads)."""

    def __init__(self):
        self.parts, self.lock = [], threading.Lock()

    def write(self, text):
        with self.lock:
            self.parts.append(text)

    def flush(self):
        pass

    def text(self):
        with self.lock:
            return "".join(self.parts)


def _launch_args(cmd):
    """(workers, args) of a `launch.py --workers=N -- args...` command."""
    if os.path.basename(cmd[1]) != "launch.py" or not cmd[2].startswith("--workers=") or cmd[3] != "--":
        raise ValueError(f"not a launch.py command: {cmd[:4]}")
    return int(cmd[2].split("=")[1]), cmd[4:]


class Launch(threading.Thread):
    """`launch.launch` in a thread of this process, its workers forked from the test process's fork server
    (tests/forkserver.py) instead of started with TensorFlow's ~5 CPU-s of imports each: what `python launch.py
    --workers=N -- args` does, with `poll`, `communicate` and `returncode` as on a `subprocess.Popen` of it."""

    def __init__(self, workers, args, script=None, env=None):
        super().__init__(daemon=True)
        self.workers, self.args, self.script, self.env = workers, list(map(str, args)), script, env
        self.out, self.returncode, self.read = _Output(), None, 0

    def run(self):
        sys.path.insert(0, str(REPO))
        import launch

        from tests import forkserver

        try:
            self.returncode = launch.launch(self.workers, self.args, script=self.script, env=self.env,
                                            out=self.out, spawn=forkserver.spawn)
        except BaseException as e:  # noqa: BLE001 - reported as the output and exit code of the launch
            self.out.write(f"[test] launch raised {e!r}\n")
            self.returncode = 1

    def poll(self):
        return None if self.is_alive() else self.returncode

    def communicate(self, timeout=None):
        """(the output not yet returned, None), after the launch ends."""
        self.join(timeout)
        if self.is_alive():
            raise subprocess.TimeoutExpired("launch", timeout)
        text = self.out.text()
        rest, self.read = text[self.read:], len(text)
        return rest, None


def run_launch(workers, args, script=None, env=None, timeout=300):
    """`subprocess.run([sys.executable, "launch.py", f"--workers={workers}", "--", *args], capture_output=True,
    text=True)` with the workers forked (`Launch`): its `returncode` and `stdout` (the workers' output)."""
    job = Launch(workers, args, script, env)
    job.start()
    out, _ = job.communicate(timeout)
    return subprocess.CompletedProcess(["launch.py", f"--workers={workers}", "--", *map(str, args)], job.returncode,
                                       out, "")


def start_workers(cmd, env):
    """Starts a `launch.py --workers=2 -- args` command (`Launch`); returns `(launch, {worker index: pid}, the
    output lines read so far)` once launch.py has named both workers' pids (its lines `[launch] worker I pid P`)."""
    job = Launch(*_launch_args(cmd), env=env)
    job.start()
    deadline = time.time() + 120
    while time.time() < deadline and job.is_alive():
        text = job.out.text()
        pids = {int(i): int(p) for i, p in re.findall(r"^\[launch\] worker (\d+) pid (\d+)$", text, re.M)}
        if len(pids) == 2:
            break
        time.sleep(0.01)
    job.read = len(text)
    return job, pids, text.splitlines(keepends=True)
