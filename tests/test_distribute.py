"""kgan.distribute and launch.py: TF_CONFIG checks, chief rules, and real multi-worker training on loopback.

The multi-worker tests start real worker processes on 127.0.0.1 (TF_CONFIG, gRPC, ring all-reduce),
exactly as on a cluster, with `launch.py`'s `launch`. Its workers fork from the test process's fork server
(tests/forkserver.py: TensorFlow imported once, not ~5 CPU-s per worker), except in
test_global_batch_not_divisible_by_all_replicas, which runs the `python launch.py` command itself.
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from kgan import distribute
from kgan.errors import ConfigError

from . import forkserver
from .conftest import MNIST_DIR, run_launch, start_workers
from .corruption import tiny_idx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(REPO, "tests", "multi_worker_job.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KGAN_MNIST_DIR": str(MNIST_DIR)}

needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason=f"real MNIST not found at {MNIST_DIR}")


@pytest.mark.parametrize("text, message", [
    ("", "needs the TF_CONFIG environment variable"),
    ('{"cluster": ', "TF_CONFIG is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG has no "cluster"'),
    ('{"cluster": {"worker": "127.0.0.1:2222"}, "task": {"type": "worker", "index": 0}}', "list of \"host:port\""),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}', "list of \"host:port\""),
    ('{"cluster": {"boss": ["a:1"]}, "task": {"type": "boss", "index": 0}}', "job 'boss' is unknown"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}', "parameter servers"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "must name a job"),
    ('{"cluster": {"worker": ["a:1"]}}', "must name a job"),
])
def test_malformed_tf_config_is_a_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        distribute.parse_tf_config(text)


def test_good_tf_config_parses():
    text = '{"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]}, "task": {"type": "worker", "index": 1}}'
    assert distribute.parse_tf_config(text)["task"] == {"type": "worker", "index": 1}


def _fake_strategy(task_type, task_id, jobs):
    spec = types.SimpleNamespace(as_dict=lambda: {j: ["h:1"] for j in jobs})
    resolver = types.SimpleNamespace(task_type=task_type, task_id=task_id, cluster_spec=lambda: spec)
    return types.SimpleNamespace(cluster_resolver=resolver)


@pytest.mark.parametrize("task_type, task_id, jobs, chief", [
    ("worker", 0, ["worker"], True),  # no chief task: worker 0 is the chief
    ("worker", 1, ["worker"], False),
    ("chief", 0, ["chief", "worker"], True),
    ("worker", 0, ["chief", "worker"], False),  # with a chief task, worker 0 is not it
])
def test_chief_and_worker_dirs(task_type, task_id, jobs, chief, tmp_path):
    s = _fake_strategy(task_type, task_id, jobs)
    assert distribute.is_chief(s) is chief
    expected = str(tmp_path) if chief else os.path.join(tmp_path, f".worker-{task_type}-{task_id}")
    assert distribute.worker_dir(str(tmp_path), s) == expected
    assert distribute.task_name(s) == f"{task_type}:{task_id}"
    single = types.SimpleNamespace(cluster_resolver=None)
    assert distribute.is_chief(single) and distribute.worker_dir("w", single) == "w"


def _launch(args, script=JOB, workers=2, timeout=300):
    """`launch.py`'s job: workers of `script` (None: kgan-train), forked from this process's fork server."""
    return run_launch(workers, args, script, env=ENV, timeout=timeout)


def _launch_cli(args, workers=2, timeout=300):
    """`python launch.py --workers=N -- args`, the command itself: every worker a fresh interpreter."""
    return subprocess.run([sys.executable, os.path.join(REPO, "launch.py"), f"--workers={workers}", "--", *args],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


class _Exits:
    """A worker process that exits with `code` at time `at` (launch's `spawn` result, without a process)."""

    def __init__(self, code, at):
        self.code, self.at, self.returncode = code, at, None
        self.pid = 2**22 + 1  # above any pid: a kill finds no such process
        self.stdout = io.StringIO(f"exiting with {code}\n")

    def poll(self):
        if time.time() >= self.at:
            self.returncode = self.code
        return self.returncode

    def wait(self, timeout=None):
        time.sleep(max(0.0, self.at - time.time()))
        return self.poll()


@pytest.mark.parametrize("exits, named, code, failed", [
    ([(1, 0), (-9, 0)], "worker 1 exited with code -9\n", -9, 2),  # the one killed by a signal, not its victim
    ([(2, 0), (1, 0)], "worker 0 exited with code 2\n", 2, 2),
    ([(0, 0), (3, 0)], "worker 1 exited with code 3\n", 3, 1),
    ([(-9, 0.2), (0, 0.6)], "worker 0 exited with code -9: stopping the others\n", -9, 1),  # seen while 1 ran
])
def test_launch_names_the_worker_to_blame(exits, named, code, failed):
    """launch.py names each failed worker and returns the code of the one to blame. Of workers found failed at
    once (e.g. all ended before its next look), one killed by a signal: the others' errors follow from losing
    it; else the lowest index."""
    sys.path.insert(0, REPO)
    import launch

    start = time.time()
    spawned = iter(exits)
    out = io.StringIO()
    returned = launch.launch(2, ["--epochs=1"], out=out,
                             spawn=lambda cmd, env: _Exits(*next((c, start + t) for c, t in spawned)))
    text = out.getvalue()
    assert named in text and returned == code, text
    assert "[worker 0] exiting with" in text and "[worker 1] exiting with" in text
    assert text.count("exited with code") == failed, text


KINDS = ("dcgan", "cdcgan", "clusters")


@needs_mnist
def test_two_workers_agree_with_each_other_and_with_one_process(tmp_path):
    """2 worker processes (1 replica each) == 1 process with the same global batch (16) and data order.

    For every kind of network the flagfiles ship: unconditional (`dcgan`), conditional on the digit labels
    with mode seeking (`cdcgan`), self-conditioned on k-means clusters with mode seeking (`clusters`, the
    default recipe's kind). Batches of the last two are `(images, labels)` tuples, which Keras's symbolic
    build could not reduce under MultiWorkerMirroredStrategy (issue 14, point 0). The three kinds train one
    after another in the same processes, on one strategy per process (three TensorFlow start-ups, not nine).
    """
    kinds = ",".join(KINDS)
    run = _launch([str(tmp_path / "run"), str(tmp_path / "w.npz"), "multi_worker", "2", "1", kinds])
    assert run.returncode == 0, run.stdout[-4000:]
    # The reference: one process, one replica. It goes through tf.distribute like the workers (a
    # MirroredStrategy of one device), because tf.data's distribution rewrite re-seeds the shuffle:
    # the default strategy (no distribution) sees the same examples in another seeded order.
    single = forkserver.run(JOB, [tmp_path / "single", tmp_path / "s.npz", "mirrored", "2", "1", kinds], env=ENV)
    assert single.returncode == 0, single.stderr[-4000:]
    for kind in KINDS:
        w0, w1, s = (np.load(tmp_path / f"{name}-{kind}-{i}.npz") for name, i in (("w", 0), ("w", 1), ("s", 0)))
        keys = [k for k in s.files if k.startswith("arr_")]
        assert int(w0["step"]) == int(w1["step"]) == int(s["step"]) == 6, kind
        moved = max(np.abs(s[k] - s["initial_" + k[4:]]).max() for k in keys)
        between_workers = max(np.abs(w0[k] - w1[k]).max() for k in keys)
        vs_single = max(np.abs(w0[k] - s[k]).max() for k in keys)
        assert moved > 1e-2, f"{kind}: training barely moved the weights ({moved}): the comparison would mean nothing"
        assert between_workers == 0.0, (kind, between_workers)
        assert vs_single < 1e-5, f"{kind}: 2 workers differ from one process by {vs_single} (weights moved {moved})"

        # Only the chief wrote the run; the other worker's temporary directory is gone.
        out = tmp_path / "run" / kind
        expected = [".lock", "checkpoints", "config.json", "history.jsonl", "losses.csv", "losses.png", "metrics.csv",
                    "progress.gif", "samples", "tensorboard"] + (["clusters.npz"] if kind == "clusters" else [])
        assert sorted(p.name for p in out.iterdir()) == sorted(expected), kind
        assert len(list((out / "samples").glob("*.png"))) == 2, kind
    assert not [p for p in (tmp_path / "run").rglob("*") if ".worker-" in str(p)]


def _train_args(out, epochs):
    return [f"--output_dir={out}", "--dataset=idx", f"--data_dir={MNIST_DIR}", "--network=dcgan",
            "--g_filters=16,8,4", "--d_filters=4,8", "--latent_dim=8", "--batch_size=16", f"--epochs={epochs}",
            "--steps_per_epoch=20", "--num_samples=4", "--progress=epoch", "--connect_timeout=60"]


def _epochs(out):
    """Finished epochs in the run's metrics.csv ([] before the first row is written)."""
    if not (out / "metrics.csv").exists():
        return []
    with open(out / "metrics.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f) if row.get("epoch")]


@needs_mnist
def test_killed_worker_job_resumes_from_the_checkpoint(tmp_path):
    """Kill worker 1 after the first epoch's checkpoint; the same command then resumes, not restarts."""
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(REPO, "launch.py"), "--workers=2", "--", *_train_args(out, 4)]
    proc, pids, _ = start_workers(cmd, ENV)
    deadline = time.time() + 240
    # The epoch-end checkpoint comes before the CSV row: wait for both, or the kill can land between.
    while not ((out / "checkpoints" / "checkpoint").exists() and _epochs(out)) \
            and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (out / "checkpoints" / "checkpoint").exists() and _epochs(out), "no finished epoch was recorded"
    os.kill(pids[1], signal.SIGKILL)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, rest[-3000:]
    assert "worker 1 exited with code -9" in rest  # ": stopping the others", unless worker 0 had already died
    done = _epochs(out)
    assert done and done[-1] < 3, f"the first run should have stopped early, finished epochs {done}"
    # The killed worker's temporary directory (removed when a run ends, not when it is killed): it kept the
    # checkpoints it must write with the chief, and no sample grids, plots or logs nobody would read.
    written = {p.relative_to(out / ".worker-worker-1").parts[0] for p in (out / ".worker-worker-1").rglob("*")}
    assert "checkpoints" in written, written
    assert not written & {"samples", "progress.gif", "losses.png", "losses.csv", "metrics.csv", "tensorboard"}, written

    again = run_launch(2, _train_args(out, 4), env=ENV)  # the same command
    assert again.returncode == 0, again.stdout[-4000:]
    epochs = _epochs(out)
    assert epochs == [0, 1, 2, 3], f"each epoch once, resumed after epoch {done[-1]}: {epochs}"
    assert "resumed from" in again.stdout
    assert not [p for p in out.rglob("*") if ".worker-" in str(p)]


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs the TF_CONFIG environment variable"),
    ('{"cluster": ', "TF_CONFIG is not valid JSON"),
])
def test_train_cli_bad_tf_config_is_one_line_exit_2(tf_config, message, tmp_path):
    env = {k: v for k, v in ENV.items() if k != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = tf_config
    r = forkserver.run("train.py", ["--strategy=multi_worker", *_train_args(tmp_path / "run", 1)], env=env,
                       timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr[-2000:]
    assert not (tmp_path / "run").exists()


@needs_mnist
def test_unreachable_chief_fails_in_one_line_within_the_timeout(tmp_path):
    """Worker 1 of a 2-worker cluster whose chief never starts: a clear error after --connect_timeout."""
    ports = _free_ports()
    env = {**ENV, "TF_CONFIG": json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                           "task": {"type": "worker", "index": 1}})}
    args = [a for a in _train_args(tmp_path / "run", 1) if not a.startswith("--connect_timeout")]
    start = time.time()
    r = forkserver.run("train.py", ["--strategy=multi_worker", "--connect_timeout=5", *args], env=env, timeout=120)
    assert time.time() - start < 60
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr[-2000:]
    assert "could not join the cluster" in lines[0] and "within 5 s" in lines[0] and "--connect_timeout" in lines[0]
    assert not (tmp_path / "run").exists()


def _free_ports():
    sys.path.insert(0, REPO)
    import launch

    return launch.free_ports(2)


@needs_mnist
def test_global_batch_not_divisible_by_all_replicas(tmp_path):
    """2 workers = 2 replicas: a global batch of 17 is refused on every worker, nothing is written."""
    args = [a for a in _train_args(tmp_path / "run", 1) if not a.startswith("--batch_size")]
    r = _launch_cli([*args, "--batch_size=17"])
    assert r.returncode == 2, r.stdout[-3000:]
    assert "batch_size=17 is not divisible by the 2 replicas: use a multiple of 2" in r.stdout, r.stdout[-3000:]
    assert not (tmp_path / "run").exists()
    r = _launch([*args, "--batch_size=16", "--cpu_replicas=2"], script=None)
    assert r.returncode == 2 and "does not apply to strategy multi_worker" in r.stdout, r.stdout[-3000:]


@needs_mnist
def test_every_flagfile_starts_under_two_workers(tmp_path):
    """Each flagfile in flags/ trains 2 steps on 2 loopback workers (launch.py), as the README's command does."""
    flagfiles = sorted(os.path.join("flags", f) for f in os.listdir(os.path.join(REPO, "flags")) if f.endswith(".cfg"))
    assert len(flagfiles) >= 9
    # Flagfiles for a folder of images (`--dataset=folder`) get one: 128 small RGB PNGs of mixed sizes.
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(128):
        size = (40, 40) if i % 2 else (72, 64)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    # The MNIST flagfiles get the first 1,000 real digits with their labels (what matters here is that each
    # starts; the k-means of dcgan.cfg's 100 clusters on 800 digits takes a second instead of ten).
    digits = tiny_idx(str(tmp_path / "digits"), str(MNIST_DIR), n=1000, labels=True)
    args = [f"{f}={folder}" if "--dataset=folder" in open(os.path.join(REPO, f)).read() else f"{f}={digits}"
            for f in flagfiles]
    run = _launch([str(tmp_path / "runs"), *args], script=os.path.join(REPO, "tests", "multi_worker_flagfiles.py"),
                  timeout=900)
    assert run.returncode == 0, run.stdout[-4000:]
    for worker in (0, 1):
        started = [line.split()[-1] for line in run.stdout.splitlines() if line.startswith(f"[worker {worker}] started")]
        assert started == [os.path.splitext(os.path.basename(f))[0] for f in flagfiles], run.stdout[-3000:]
    for f in flagfiles:
        name = os.path.splitext(os.path.basename(f))[0]
        assert (tmp_path / "runs" / name / "checkpoints" / "checkpoint").exists(), name
