"""Faults injected for real: SIGKILL at 26 moments of training and exporting; unwritable outputs; a full disk.

The SIGKILL loop kills one tiny run (real MNIST, a checkpoint after every step) 16 times: at chosen
moments inside a checkpoint write (tensors half written; written but not merged; data file renamed
but index not rewritten; index temp file not renamed; an old checkpoint half deleted), at staggered
delays, and whenever a checkpoint's temporary directory appears. After every kill the index must
name a checkpoint that restores, PNGs must be whole, and the next start of the same command must say
it resumed from exactly that checkpoint. Then `kgan_cli/export.py` (kgan-export) is killed 10 times while it writes
a version (variables written but not `saved_model.pb`, between TFLite files, before and right after
the publishing rename, at staggered delays): every integer version directory must always load and
serve, and never change once published.

Processes come from `tests/fault_server.py` (TensorFlow imported once, then fork: the 26 kills take
about 40 s on 2 cores); chosen moments are the child SIGKILLing itself from a hook there, the others
are SIGKILLs from this test. The moment inside TensorFlow's C++ MergeV2Checkpoints (data renamed,
index not yet rewritten) is emulated by the hook; `test_sigkill_inside_tensorflows_in_place_index_rewrite`
hits it for real with strace. The run is finished by a real `python train.py` with the same command.
"""

import csv
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from kgan import callbacks, export, workdir

from .conftest import MNIST_DIR, REPO
from . import forkserver
from .forkserver import _exited

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
STEPS, EPOCHS = 4, 16

needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason=f"real MNIST not found at {MNIST_DIR}")


def _train_args(out, epochs=EPOCHS):
    return [f"--output_dir={out}", "--dataset=idx", f"--data_dir={MNIST_DIR}", "--network=dcgan",
            "--g_filters=16,8,4", "--d_filters=4,8", "--latent_dim=8", "--batch_size=16", f"--epochs={epochs}",
            f"--steps_per_epoch={STEPS}", "--checkpoint_every_steps=1", "--num_samples=4", "--progress=none"]


@pytest.fixture(scope="module")
def server():
    """This test process's fork server (tests/forkserver.py), shared with its other tests: one TensorFlow start-up."""
    return forkserver.server()


def _index_target(ckpt_dir):
    """The checkpoint the `checkpoint` index names (read directly: cheap enough to poll)."""
    try:
        text = (ckpt_dir / "checkpoint").read_text()
    except FileNotFoundError:
        return None
    m = re.search(r'^model_checkpoint_path: "(.*)"$', text, re.M)
    return m.group(1) if m else None


def _step(path):
    return int(str(path).rsplit("-", 1)[1])


def _check_whole_images(out):
    from PIL import Image

    for d, _, files in os.walk(out):
        for name in files:
            if name.endswith((".png", ".gif")) and not name.startswith("."):
                with Image.open(os.path.join(d, name)) as im:
                    im.verify()  # raises on a truncated file


def _temp_dirs(ckpt_dir):
    try:
        return {n for n in os.listdir(ckpt_dir) if n.endswith("_temp")}
    except FileNotFoundError:
        return set()


def _kill_training(server, out, log, how, previous):
    """Starts the training command, kills it as `how` says; returns (exit code, note)."""
    ckpt_dir = out / "checkpoints"
    kind, arg = how
    pid = server.start("train.py", _train_args(out), log, kill=list(arg) if kind == "hook" else None)
    note = ""
    if kind in ("after", "watch"):
        deadline = time.time() + 60
        seen = False
        leftovers = _temp_dirs(ckpt_dir)  # of earlier kills: not being written now
        while time.time() < deadline and not _exited(pid):
            if kind == "after":
                target = _index_target(ckpt_dir)
                seen = target is not None and _step(target) > previous
            else:  # a checkpoint is being written right now
                seen = bool(_temp_dirs(ckpt_dir) - leftovers)
            if seen:
                break
            time.sleep(0.002 if kind == "after" else 0.0003)
        if seen:
            time.sleep(arg if kind == "after" else 0)
            os.kill(pid, signal.SIGKILL)
            if kind == "watch":
                note = "mid-write" if _temp_dirs(ckpt_dir) - leftovers else "just after a write"
    return server.wait(pid), note


# One restart per entry: ("hook", (kill point, n)) kills inside the child at the n-th occurrence (see
# tests/fault_server.py); ("after", s) kills s seconds after the restart's first new checkpoint;
# ("watch", None) kills the moment a checkpoint's temporary directory is seen. A restart begins an
# epoch, so save n is step n of it for n <= STEPS, save STEPS + 1 rewrites the epoch's last checkpoint
# under the same step number (now recording the finished epoch), and so on.
TRAIN_KILLS = [
    ("hook", ("shard_written", 2)),
    ("hook", ("merge_half_done", STEPS + 1)),  # mid-rewrite of the latest checkpoint, in place
    ("after", 0.0),
    ("hook", ("shard_half_written", 3)),
    ("hook", ("merged", STEPS + 2)),
    ("watch", None),
    ("hook", ("index_tmp_written", 7)),
    ("after", 0.15),
    ("hook", ("old_checkpoint_half_deleted", 1)),
    ("hook", ("merge_half_done", 2)),
    ("after", 0.4),
    ("watch", None),
    ("hook", ("merge_half_done", 2 * STEPS + 2)),  # the second epoch's rewrite
    ("after", 0.05),
    ("hook", ("shard_half_written", STEPS + 1)),
    ("after", 0.7),
]

EXPORT_KILLS = [
    ("hook", ("export_variables_written", 1)),  # the SavedModel's variables/ written, saved_model.pb not yet
    ("hook", ("export_saved_model_written", 1)),
    ("hook", ("export_tflite", 1)),
    ("hook", ("export_tflite", 3)),
    ("hook", ("export_manifest_final", 1)),
    ("hook", ("export_renamed", 1)),  # the version was just published: it must be complete
    ("after", 0.0),  # seconds after the export's temporary directory appears (the export takes ~2 s)
    ("after", 0.2),
    ("after", 0.45),
    ("after", 0.7),
]


def _tree_hash(root):
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            h.update(os.path.relpath(os.path.join(d, name), root).encode())
            h.update(open(os.path.join(d, name), "rb").read())
    return h.hexdigest()


def _check_versions(model_dir, verified):
    """Every entry of the model directory is an integer version holding a loadable, serving SavedModel.

    `verified` maps version -> tree hash of versions already loaded: they must never change.
    """
    names = os.listdir(model_dir) if model_dir.is_dir() else []
    assert all(n.isdigit() for n in names), f"not a version: {names}"
    for name in names:
        version_dir = model_dir / name
        digest = _tree_hash(version_dir)
        if int(name) in verified:
            assert verified[int(name)] == digest, f"version {name} changed after it was published"
            continue
        manifest = json.loads((version_dir / export.MANIFEST).read_text())
        assert manifest["version"] == int(name)
        loaded = tf.saved_model.load(str(version_dir))
        assert {"serving_default", "generate"} <= set(loaded.signatures)
        images = loaded.generate(num_images=tf.constant(2), seed=tf.constant(0, tf.int64))["images"]
        assert images.shape == (2, 28, 28, 1)
        for rel in manifest["tflite"].values():
            assert (version_dir / rel["file"]).stat().st_size == rel["bytes"]
        verified[int(name)] = digest


@needs_mnist
def test_sigkill_loop_training_and_export(tmp_path, server):
    out = tmp_path / "run"
    ckpt_dir = out / "checkpoints"
    kills, notes, resumed_epochs = 0, [], []
    gan = None
    previous = 0  # step of the checkpoint the index named after the last kill
    for i, how in enumerate(TRAIN_KILLS):
        log = tmp_path / f"train_{i}.log"
        code, note = _kill_training(server, out, log, how, previous)
        text = log.read_text()
        assert code == -signal.SIGKILL, f"kill {i} {how}: exit {code}\n{text[-3000:]}"
        if how[0] == "hook":
            assert "fault_server: SIGKILL at" in text, f"kill {i} {how}: the kill point was never reached"
        kills += 1
        notes.append(note)
        if i > 0:  # this start resumed from the checkpoint the last kill left, not from scratch
            m = re.search(rf"resumed from {re.escape(str(ckpt_dir))}/ckpt-(\d+): (\d+) epoch", text)
            assert m and int(m.group(1)) == previous, f"kill {i} {how}: did not resume from ckpt-{previous}"
            resumed_epochs.append(int(m.group(2)))
        # The index names a checkpoint that restores completely (every variable, checksums verified).
        latest = tf.train.latest_checkpoint(str(ckpt_dir))
        assert latest, f"kill {i} {how}: no checkpoint left"
        if gan is None:
            gan, _ = workdir.load_run(str(out))
        else:
            restorer = callbacks.Checkpoint(ckpt_dir)
            restorer.set_model(gan)
            restorer.restore()  # ConfigError if the latest checkpoint is corrupt
        assert int(gan.g_optimizer.iterations.numpy()) == _step(latest)
        assert _step(latest) >= previous
        previous = _step(latest)
        _check_whole_images(out)
        json.loads((out / "config.json").read_text())
    assert kills == len(TRAIN_KILLS) >= 15
    print("training kills:", [f"{how[0]} {how[1]} {note}".strip() for how, note in zip(TRAIN_KILLS, notes)])
    assert max(resumed_epochs) >= 2, f"the kills never got past the first epochs: {resumed_epochs}"

    # The same command, in a fresh interpreter, resumes from the last good checkpoint and finishes.
    r = subprocess.run([sys.executable, "train.py", *_train_args(out)], cwd=REPO, env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(rf"resumed from {re.escape(str(ckpt_dir))}/ckpt-{previous}: (\d+) epoch", r.stderr)
    assert m and int(m.group(1)) >= 2, r.stderr[-3000:]
    restorer = callbacks.Checkpoint(ckpt_dir)
    restorer.set_model(gan)
    assert restorer.restore() == EPOCHS
    with open(out / "metrics.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    # No finished epoch was trained twice. (An epoch killed after its checkpoint but before its CSV row
    # keeps no row: the checkpoint callback runs first.)
    assert epochs == sorted(set(epochs)) and epochs[-1] == EPOCHS - 1

    # Export: kill export.py while it writes; no half-written version is ever visible.
    base = tmp_path / "exports"
    model_dir = base / "kgan"
    argv = [f"--run_dir={out}", f"--export_base={base}"]
    verified = {}
    for i, how in enumerate(EXPORT_KILLS):
        log = tmp_path / f"export_{i}.log"
        kind, arg = how
        pid = server.start("kgan_cli/export.py", argv, log, kill=list(arg) if kind == "hook" else None)
        if kind == "after":  # s seconds after the export's temporary directory appears
            deadline = time.time() + 60
            before = set(os.listdir(base)) if base.is_dir() else set()
            while time.time() < deadline and not _exited(pid):
                if base.is_dir() and any(n.startswith(export.TMP_PREFIX) for n in set(os.listdir(base)) - before):
                    time.sleep(arg)
                    os.kill(pid, signal.SIGKILL)
                    break
                time.sleep(0.002)
        code = server.wait(pid)
        text = log.read_text()
        assert code == -signal.SIGKILL, f"export kill {i} {how}: exit {code}\n{text[-3000:]}"
        if kind == "hook":
            assert "fault_server: SIGKILL at" in text, f"export kill {i} {how}: the kill point was never reached"
        kills += 1
        _check_versions(model_dir, verified)
        if how == ("hook", ("export_renamed", 1)):
            assert sorted(verified) == [1], "the export killed right after publishing left no version 1"
    assert kills >= 25

    # A clean export adds the next version; leftovers of killed exports are hidden and never versions.
    pid = server.start("kgan_cli/export.py", argv, tmp_path / "export_done.log")
    assert server.wait(pid) == 0, (tmp_path / "export_done.log").read_text()[-3000:]
    _check_versions(model_dir, verified)
    assert sorted(verified) == list(range(1, max(verified) + 1)) and len(verified) >= 2
    assert all(n == "kgan" or n.startswith(export.TMP_PREFIX) for n in os.listdir(base))


@needs_mnist
def test_unwritable_output_dir_is_one_line_and_exit_2_before_training(tmp_path, server):
    """An --output_dir that cannot be created (its parent is a file; root ignores chmod) fails in one line."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    r = server.run("train.py", _train_args(blocker / "run"), env=ENV)
    assert r.returncode == 2, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr
    errors = [ln for ln in lines if ln.startswith("train.py: error: ")]
    assert errors == lines[-1:] and str(blocker / "run") in errors[0], r.stderr[-3000:]
    assert "training dcgan" not in r.stderr  # failed before training started
    assert blocker.read_text() == "not a directory"


@needs_mnist
def test_disk_full_mid_training_is_one_line_exit_2_and_the_rerun_resumes(tmp_path, server):
    """train.py: ENOSPC while the 3rd checkpoint's tensors are written ends in one line and exit 2; ckpt-2 is kept."""
    out = tmp_path / "run"
    log = tmp_path / "full.log"
    pid = server.start("train.py", _train_args(out, epochs=2), log, kill=["enospc_tensors", 3])
    assert server.wait(pid) == 2, log.read_text()[-3000:]
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert lines[-1].startswith("train.py: error: ") and "No space left on device" in lines[-1], lines[-5:]
    assert str(out / "checkpoints") in lines[-1] and "Traceback" not in log.read_text()
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-2")
    gan, _ = workdir.load_run(str(out))
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    pid = server.start("train.py", _train_args(out, epochs=2), tmp_path / "rerun.log")
    assert server.wait(pid) == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    assert f"resumed from {out / 'checkpoints'}/ckpt-2: 0 epoch(s) done" in (tmp_path / "rerun.log").read_text()
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith(f"ckpt-{2 + 2 * STEPS}")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to inject a kill inside TensorFlow")
@needs_mnist
def test_sigkill_inside_tensorflows_in_place_index_rewrite(tmp_path):
    """No emulation: strace SIGKILLs train.py as TensorFlow's MergeV2Checkpoints opens ckpt-4.index for the
    second time (the epoch-end save rewriting the step-4 checkpoint, after the new data file was renamed in)."""
    out = tmp_path / "run"
    index = out / "checkpoints" / f"ckpt-{STEPS}.index"
    r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-P", str(index), "-e", "trace=openat",
                        "-e", "inject=openat:signal=KILL:when=2", sys.executable, "train.py", *_train_args(out)],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    if r.returncode != -signal.SIGKILL and "strace:" in r.stderr:
        pytest.skip(f"strace cannot trace here: {r.stderr.strip().splitlines()[0]}")
    assert r.returncode == -signal.SIGKILL, r.stderr[-3000:]
    assert (out / "checkpoints" / f"ckpt-{STEPS}_temp").is_dir()  # killed inside the merge
    # The index names the previous checkpoint, which restores; the half-rewritten one is not named.
    assert _index_target(out / "checkpoints") == f"ckpt-{STEPS - 1}"
    gan, _ = workdir.load_run(str(out))
    assert int(gan.g_optimizer.iterations.numpy()) == STEPS - 1


def _tiny_gan():
    import keras

    import kgan
    from kgan import nets

    keras.utils.set_random_seed(0)
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(16,)), nets.mlp_discriminator(units=(16,)), seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return gan


def _dataset():
    import numpy as np

    from kgan.data.pipeline import without_autotune

    x = np.random.RandomState(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    # Without tf.data's autotuning, as kgan's pipelines: the disk-full fits stop mid-epoch, which leaves their
    # iterator in Keras's reference cycle, and an autotuned one's destructor waits for its thread (README).
    return without_autotune(tf.data.Dataset.from_tensor_slices(x).batch(8).repeat())


@pytest.mark.parametrize("where", ["tensor data", "checkpoint index"])
def test_disk_full_mid_training_keeps_the_previous_checkpoint(tmp_path, monkeypatch, where):
    """ENOSPC at a real write of the checkpoint path: a clear error, and the last good checkpoint restores."""
    from tensorflow.python.lib.io import file_io
    from tensorflow.python.ops import io_ops

    from kgan.errors import ConfigError

    gan = _tiny_gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt", save_every_steps=1)
    gan.fit(_dataset(), epochs=1, steps_per_epoch=3, verbose=0, callbacks=[ckpt])
    good = tf.train.latest_checkpoint(str(tmp_path / "ckpt"))
    assert good.endswith("ckpt-3")
    good_weights = [v.numpy().copy() for v in gan.generator.weights]
    files_before = {p: open(os.path.join(tmp_path / "ckpt", p), "rb").read() for p in os.listdir(tmp_path / "ckpt")}

    if where == "tensor data":  # the disk fills while the tensors go to <ckpt>_temp/ (TF's error for ENOSPC)
        def save_v2(prefix, *args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, f"{prefix.numpy().decode()}.data-00000-of-00001; "
                                                   f"{os.strerror(errno.ENOSPC)}")

        monkeypatch.setattr(io_ops, "save_v2", save_v2)
    else:  # the tensors fit, the `checkpoint` index does not
        def write_string_to_file(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(file_io, "write_string_to_file", write_string_to_file)
    with pytest.raises(ConfigError) as e:
        gan.fit(_dataset(), epochs=2, steps_per_epoch=3, verbose=0, callbacks=[ckpt])
    message = str(e.value)
    assert "\n" not in message and "No space left on device" in message and str(tmp_path / "ckpt") in message
    monkeypatch.undo()

    # The index still names the good checkpoint, whose files are byte for byte unchanged, and it restores.
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")) == good
    for p, data in files_before.items():
        if p.startswith("ckpt-3."):
            assert open(os.path.join(tmp_path / "ckpt", p), "rb").read() == data
    fresh = _tiny_gan()
    restorer = callbacks.Checkpoint(tmp_path / "ckpt")
    restorer.set_model(fresh)
    assert restorer.restore() == 1
    assert int(fresh.g_optimizer.iterations.numpy()) == 3
    for a, b in zip(good_weights, fresh.generator.weights):
        assert (a == b.numpy()).all()
    # And training goes on from it once there is space again.
    fresh.fit(_dataset(), epochs=2, steps_per_epoch=3, verbose=0, callbacks=[restorer])
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-6")


def test_rewriting_the_latest_checkpoint_in_place_never_leaves_it_corrupt(tmp_path):
    """Two saves at one step (step save, then the epoch-end save): during the second, the index names another."""
    from tensorflow.python.ops import gen_io_ops

    gan = _tiny_gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt", save_every_steps=1)
    gan.fit(_dataset(), epochs=1, steps_per_epoch=2, verbose=0, callbacks=[ckpt])
    seen = []
    real_merge = gen_io_ops.merge_v2_checkpoints

    def merge(*args, **kwargs):  # what the index names while ckpt-N's files are replaced
        seen.append(_index_target(tmp_path / "ckpt"))
        return real_merge(*args, **kwargs)

    gen_io_ops.merge_v2_checkpoints = merge
    try:
        ckpt.save(epoch=1)  # same step (2) as the step save just made: ckpt-2 is rewritten
    finally:
        gen_io_ops.merge_v2_checkpoints = real_merge
    assert seen == ["ckpt-1"]
    assert _index_target(tmp_path / "ckpt") == "ckpt-2"
