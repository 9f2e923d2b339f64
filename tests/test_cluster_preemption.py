"""Preemption on a cluster: SIGTERM to one loopback worker mid-epoch -> every worker saves at one step and
exits 0 -> the same command resumes at that step (kgan.callbacks.ClusterPreemption, TensorFlow's
PreemptionCheckpointHandler)."""

import os
import re
import signal
import sys
import time

import tensorflow as tf

from . import corruption
from .conftest import MNIST_DIR, REPO, run_launch, start_workers
from .test_faults import needs_mnist

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
STEPS = 150


@needs_mnist
def test_sigterm_to_one_worker_saves_all_at_one_step_and_the_same_command_resumes_there(tmp_path):
    data = corruption.tiny_idx(str(tmp_path / "data"), str(MNIST_DIR))
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(REPO, "launch.py"), "--workers=2", "--", f"--output_dir={out}",
           "--dataset=idx", f"--data_dir={data}", *corruption.RUNS["mlp"], "--batch_size=8", "--epochs=1",
           f"--steps_per_epoch={STEPS}", "--checkpoint_every_steps=5", "--num_samples=4", "--progress=epoch",
           "--connect_timeout=60"]
    proc, pids, lines = start_workers(cmd, ENV)
    deadline = time.time() + 240
    while not tf.train.latest_checkpoint(str(out / "checkpoints")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert tf.train.latest_checkpoint(str(out / "checkpoints")), "".join(lines) + proc.stdout.read()[-3000:]
    os.kill(pids[1], signal.SIGTERM)  # the non-chief: it cannot save alone, the chief must join
    rest, _ = proc.communicate(timeout=180)
    text = "".join(lines) + rest
    assert proc.returncode == 0, text[-4000:]
    saved = {int(w): int(s) for w, s in re.findall(
        r"\[worker (\d)\] .*SIGTERM on a worker of the cluster: every worker saved at generator step (\d+)", text)}
    assert sorted(saved) == [0, 1] and len(set(saved.values())) == 1, text[-4000:]
    step = saved[0]
    assert 5 <= step < STEPS, f"not mid-epoch: step {step}"
    assert tf.train.latest_checkpoint(str(out / "checkpoints")) == str(out / "checkpoints" / f"ckpt-{step}")
    assert "Traceback" not in text
    assert not [p for p in out.iterdir() if p.name.startswith(".worker-")]

    again = run_launch(2, cmd[4:], env=ENV)  # the same command
    assert again.returncode == 0, again.stdout[-4000:]
    for w in (0, 1):  # both resume from the chief's checkpoint at that step, the epoch still unfinished
        assert re.search(rf"\[worker {w}\] .*resumed from {re.escape(str(out))}/checkpoints/ckpt-{step}: "
                         rf"0 epoch\(s\) done, generator step {step}", again.stdout), again.stdout[-4000:]
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith(f"ckpt-{step + STEPS}")
