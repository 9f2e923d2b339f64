"""Corruption fuzzing (seeded): damaged run files -> resume from an intact point, or one line and exit 2.

See `tests/corruption.py` for what a case does and asserts; `bench/corruption.py` runs many more
and prints the table the README quotes.
"""

import pytest

from . import corruption
from .conftest import MNIST_DIR
from .test_faults import needs_mnist, server  # noqa: F401  (the fork server fixture)


@pytest.fixture(scope="module")
def pristine(server, tmp_path_factory):  # noqa: F811
    root = str(tmp_path_factory.mktemp("corruption"))
    runs = {}

    def get(name):
        if name not in runs:
            runs[name] = corruption.make_pristine(server, root, str(MNIST_DIR), name, export=name == "mlp")
        return root, runs[name]

    return get


@needs_mnist
@pytest.mark.parametrize("seed", range(16))
def test_damaged_run_files_resume_or_refuse_in_one_line(seed, server, pristine):  # noqa: F811
    root, run = pristine("mlp")
    print(corruption.run_case(server, run, root, seed))


@needs_mnist
@pytest.mark.parametrize("seed", range(4))
def test_damaged_clusters_file_is_one_line_and_exit_2(seed, server, pristine):  # noqa: F811
    root, run = pristine("clusters")
    result = corruption.run_case(server, run, root, seed, focus="clusters.npz")
    print(result)
    if result["op"] == "train" and result["outcome"] == "refused":
        assert "clusters.npz" in result["detail"], result


@needs_mnist
def test_second_trainer_is_refused_while_the_first_runs_and_export_reads_the_live_run(tmp_path, server):  # noqa: F811
    """One trainer per run directory: the same command started again while the first runs is refused in one
    line naming the directory and the first one's pid (exit 2, training never starts); kgan_cli/export.py reads the
    live run (a checkpoint every step, 2 kept: files rotate under it) from a complete checkpoint; a SIGKILLed
    trainer leaves no stale lock: the same command resumes."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    import tensorflow as tf

    from .conftest import REPO
    from .test_faults import ENV

    data = corruption.tiny_idx(str(tmp_path / "data"), str(MNIST_DIR))
    out = tmp_path / "run"
    args = [f"--output_dir={out}", "--dataset=idx", f"--data_dir={data}", *corruption.RUNS["mlp"], "--batch_size=8",
            "--epochs=100000", "--steps_per_epoch=5", "--checkpoint_every_steps=1", "--keep_checkpoints=2",
            "--num_samples=4", "--sample_every=1000", "--progress=none"]
    first = subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not tf.train.latest_checkpoint(str(out / "checkpoints")) and time.time() < deadline:
            assert first.poll() is None, first.stderr.read()[-3000:]
            time.sleep(0.1)
        log = tmp_path / "second.log"
        assert server.wait(server.start("train.py", args, log)) == 2
        lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
        assert lines[-1] == (f"train.py: error: {out} is in use by another trainer (pid {first.pid} on "
                             f"{os.uname().nodename} holds {out}/.lock): wait for it to finish or stop it, or use "
                             "another --output_dir"), lines[-3:]
        assert not any("error:" in ln for ln in lines[:-1]) and "training mlp" not in log.read_text()
        assert first.poll() is None  # the first one goes on
        log = tmp_path / "export.log"
        assert server.wait(server.start("kgan_cli/export.py", [f"--run_dir={out}", "--formats=saved_model"],
                                        log)) == 0, log.read_text()[-3000:]
        assert "exported kgan version 1 " in log.read_text()
        assert first.poll() is None, "the trainer stopped before the exports were done"
        loaded = tf.saved_model.load(str(out / "export" / "kgan" / "1"))
        assert loaded.signatures["generate"](num_images=tf.constant(2), seed=tf.constant(0, tf.int64),
                                              truncation=tf.constant(1.0))[
            "images"].shape == (2, 28, 28, 1)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    step = int(tf.train.latest_checkpoint(str(out / "checkpoints")).rsplit("-", 1)[1])
    log = tmp_path / "rerun.log"
    same = [a if not a.startswith("--epochs=") else "--epochs=1" for a in args]  # (1: done already, ends at once)
    assert server.wait(server.start("train.py", same, log)) == 0, \
        log.read_text()[-3000:]
    assert f"resumed from {out}/checkpoints/ckpt-{step}:" in log.read_text()
