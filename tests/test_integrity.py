"""Damaged checkpoints (kgan.integrity), one trainer per run directory (kgan.runlock), reading a live run."""

import hashlib
import logging
import os
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import callbacks, integrity, nets, runlock
from kgan.errors import ConfigError


def _gan(units=16):
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(units,)), nets.mlp_discriminator(units=(16,)), seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return gan


def _dataset():
    x = np.random.RandomState(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(8).repeat()


@pytest.fixture
def three_checkpoints(tmp_path):
    """ckpt-1, ckpt-2, ckpt-3 of a tiny GAN (a checkpoint after every step)."""
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt", save_every_steps=1)
    gan.fit(_dataset(), epochs=1, steps_per_epoch=3, verbose=0, callbacks=[ckpt])
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-3")
    return tmp_path / "ckpt"


def _data_file(ckpt_dir, n):
    (path,) = [p for p in ckpt_dir.iterdir() if p.name.startswith(f"ckpt-{n}.data-")]
    return path


def _restore(ckpt_dir, gan=None):
    gan = gan or _gan()
    restorer = callbacks.Checkpoint(ckpt_dir)
    restorer.set_model(gan)
    restorer.restore()
    return int(gan.g_optimizer.iterations.numpy())


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("how", ["truncated data", "bit flip in data", "garbage index", "empty index",
                                 "missing data", "missing index"])
def test_damaged_newest_checkpoint_is_set_aside_and_the_newest_intact_one_restores(three_checkpoints, caplog, how):
    d = three_checkpoints
    data, index = _data_file(d, 3), d / "ckpt-3.index"
    if how == "truncated data":  # today: IndexError: Read less bytes than requested
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif how == "bit flip in data":
        b = bytearray(data.read_bytes())
        b[len(b) // 2] ^= 0x04
        data.write_bytes(bytes(b))
    elif how == "garbage index":  # today: "does not match this model (a different network or size?)"
        index.write_bytes(os.urandom(index.stat().st_size))
    elif how == "empty index":
        index.write_bytes(b"")
    elif how == "missing data":
        data.unlink()
    else:
        index.unlink()
    damaged = {p.name: _sha(p) for p in d.iterdir() if p.name.startswith("ckpt-3.")}
    with caplog.at_level(logging.WARNING):
        assert _restore(d) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "ckpt-3 is damaged" in warnings[0] and "resuming from ckpt-2" in warnings[0]
    assert "does not match this model" not in caplog.text
    # Set aside byte for byte, never deleted; the index names the intact one.
    assert {p.name: _sha(p) for p in (d / "damaged" / "ckpt-3").iterdir()} == damaged
    assert not any(p.name.startswith("ckpt-3.") for p in d.iterdir())
    assert tf.train.latest_checkpoint(str(d)).endswith("ckpt-2")
    # Training goes on from it and writes a new ckpt-3 beside the set-aside one.
    gan = _gan()
    ckpt = callbacks.Checkpoint(d, save_every_steps=1)
    gan.fit(_dataset(), epochs=1, steps_per_epoch=2, verbose=0, callbacks=[ckpt])
    assert tf.train.latest_checkpoint(str(d)).endswith("ckpt-4") and integrity.damage(str(d / "ckpt-3")) is None
    assert {p.name: _sha(p) for p in (d / "damaged" / "ckpt-3").iterdir()} == damaged


def test_no_intact_checkpoint_is_one_line_naming_the_files_and_nothing_moves(three_checkpoints):
    d = three_checkpoints
    for n in (1, 2, 3):
        data = _data_file(d, n)
        data.write_bytes(data.read_bytes()[:10])
    before = {p.name: _sha(p) for p in d.iterdir()}
    with pytest.raises(ConfigError) as e:
        _restore(d)
    message = str(e.value)
    assert "\n" not in message and f"no intact checkpoint in {d}" in message
    assert all(f"ckpt-{n} (" in message for n in (1, 2, 3)), message
    assert {p.name: _sha(p) for p in d.iterdir()} == before


def test_garbage_checkpoint_index_file_is_rebuilt_from_the_files_on_disk(three_checkpoints, caplog):
    d = three_checkpoints
    (d / "checkpoint").write_bytes(b"\x00garbage\xff{{")
    with caplog.at_level(logging.WARNING):
        assert _restore(d) == 3
    assert "unreadable: resuming from ckpt-3, found on disk" in caplog.text
    assert (d / "damaged" / "checkpoint" / "checkpoint").read_bytes() == b"\x00garbage\xff{{"
    assert tf.train.latest_checkpoint(str(d)).endswith("ckpt-3")
    (d / "checkpoint").unlink()  # missing: the same
    assert _restore(d) == 3


def test_another_architecture_stays_a_mismatch_error(three_checkpoints):
    with pytest.raises(ConfigError, match="does not match this model"):
        _restore(three_checkpoints, _gan(units=8))
    assert not (three_checkpoints / "damaged").exists()


def test_a_reader_skips_a_damaged_checkpoint_and_changes_nothing(three_checkpoints, tmp_path):
    d = three_checkpoints
    data = _data_file(d, 3)
    data.write_bytes(data.read_bytes()[:-4])
    before = {p.name: _sha(p) for p in d.iterdir()}
    copy = integrity.snapshot(d, tmp_path / "copy")
    assert os.path.basename(copy) == "ckpt-2" and integrity.damage(copy) is None
    assert integrity.resume_point(d, repair=False) == (str(d / "ckpt-2"), False)
    assert {p.name: _sha(p) for p in d.iterdir()} == before


def test_snapshot_of_a_run_being_written_is_always_complete(tmp_path):
    """A trainer saves every step and keeps one checkpoint (each save deletes the previous one) while
    snapshots are taken: every snapshot reads back whole and restores."""
    gan = _gan()
    ckpt_dir = tmp_path / "ckpt"
    ckpt = callbacks.Checkpoint(ckpt_dir, save_every_steps=1, max_to_keep=1)
    gan.fit(_dataset(), epochs=1, steps_per_epoch=1, verbose=0, callbacks=[ckpt])
    stop = threading.Event()

    def train():
        epochs = 1
        while not stop.is_set():
            epochs += 1  # each fit resumes after the epochs done
            gan.fit(_dataset(), epochs=epochs, steps_per_epoch=5, verbose=0, callbacks=[ckpt])

    reader = _gan()
    trainer = threading.Thread(target=train)
    trainer.start()
    steps = []
    try:
        deadline = time.monotonic() + 60
        while len(set(steps)) < 6 and time.monotonic() < deadline:  # no timing assertion: a bound on the loop
            copy = integrity.snapshot(ckpt_dir, tmp_path / "copy")
            assert integrity.damage(copy) is None
            steps.append(_restore(os.path.dirname(copy), reader))
    finally:
        stop.set()
        trainer.join()
    assert steps == sorted(steps) and len(set(steps)) >= 6, steps  # it really read a moving run


def test_run_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path):
    import subprocess
    import sys

    run = tmp_path / "run"
    with runlock.RunLock(run):
        with pytest.raises(runlock.RunLocked, match=rf"{run} is in use by another trainer \(pid {os.getpid()} on "):
            runlock.RunLock(run).acquire()
    runlock.RunLock(run).acquire().release()  # released
    # A SIGKILLed holder leaves the file but no lock.
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; f = open(sys.argv[1], 'r+'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); f.write(f'{os.getpid()} here'); f.flush(); "
                               "print('held', flush=True); time.sleep(60)", str(run / ".lock")],
                              stdout=subprocess.PIPE, text=True)  # as RunLock does, without importing TensorFlow
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(runlock.RunLocked, match=f"pid {holder.pid} on here holds"):
        runlock.RunLock(run).acquire()
    holder.kill()
    holder.wait()
    assert (run / ".lock").exists()
    runlock.RunLock(run).acquire().release()
    # A refused fresh directory is removed again when the run fails on bad input before writing.
    fresh = tmp_path / "fresh"
    with pytest.raises(ConfigError):
        with runlock.held(fresh):
            raise ConfigError("bad input")
    assert not fresh.exists()


def test_a_run_refused_on_bad_input_leaves_the_lock_file_as_it_was(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("4242 elsewhere\n")
    with pytest.raises(ConfigError):
        with runlock.held(run):
            assert (run / ".lock").read_text().startswith(f"{os.getpid()} ")
            raise ConfigError("bad input")
    assert (run / ".lock").read_text() == "4242 elsewhere\n"
    (run / ".lock").unlink()
    with pytest.raises(ConfigError):
        with runlock.held(run):
            raise ConfigError("bad input")
    assert run.is_dir() and not (run / ".lock").exists()
