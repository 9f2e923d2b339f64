"""Preemption (SIGTERM) and divergence (NaN) handling, with the fault injected."""

import os
import signal
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import callbacks, nets
from kgan.data.pipeline import without_autotune
from kgan.errors import TrainingDiverged
from tests import forkserver
from tests.conftest import REPO


def _gan():
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(16,)), nets.mlp_discriminator(units=(16,)), seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return gan


def _data_with_nan_batch(bad_batch, batches=6, batch=8):
    x = np.random.RandomState(0).uniform(-1, 1, (batches * batch, 28, 28, 1)).astype("float32")
    if bad_batch is not None:
        x[bad_batch * batch : (bad_batch + 1) * batch] = np.nan
    return without_autotune(tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True))


def _repeated():
    """One batch of 8 random images, repeated, fed as kgan's pipelines feed it: without tf.data's autotuning.

    These tests stop `fit` mid-epoch, which leaves its iterator in Keras's reference cycle, and an autotuned
    iterator's destructor waits for its autotuning thread (up to a minute) in whichever later test collects it
    (README "Two commands")."""
    x = np.random.RandomState(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    return without_autotune(tf.data.Dataset.from_tensor_slices(x).batch(8).repeat())


def _finite(gan):
    return all(np.isfinite(v.numpy()).all() for v in gan.generator.weights + gan.discriminator.weights)


def test_nan_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    gan.fit(_data_with_nan_batch(None), epochs=1, verbose=0, callbacks=[ckpt])  # one good epoch: ckpt-6
    with pytest.raises(TrainingDiverged, match="diverged at generator step 9 .*d_loss=nan"):
        gan.fit(_data_with_nan_batch(2), epochs=3, verbose=0, callbacks=[ckpt, callbacks.DivergenceGuard(ckpt)])
    assert not _finite(gan)
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-6")
    fresh = _gan()
    restore = callbacks.Checkpoint(tmp_path / "ckpt")
    restore.set_model(fresh)
    assert restore.restore() == 1 and _finite(fresh)


def test_rollback_restores_and_lowers_learning_rates(tmp_path):
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    gan.fit(_data_with_nan_batch(None), epochs=1, verbose=0, callbacks=[ckpt])
    poisoned_once = _data_with_nan_batch(2).take(3).concatenate(_data_with_nan_batch(None).take(3))
    guard = callbacks.DivergenceGuard(ckpt, rollback=True, lr_factor=0.5)
    gan.fit(poisoned_once, epochs=2, initial_epoch=1, verbose=0, callbacks=[guard])
    assert guard.rollbacks == 1 and _finite(gan)
    assert float(gan.d_optimizer.learning_rate.numpy()) == pytest.approx(5e-4)


def test_sigterm_checkpoints_exits_0_and_resumes(tmp_path, mnist_dir):
    """train.py in a child process (forked with TensorFlow imported: tests/forkserver.py) gets SIGTERM mid-epoch:
    it saves, exits 0 within seconds, and the same command resumes."""
    out = tmp_path / "run"
    args = ["--network=mlp", "--g_filters=32", "--d_filters=32", "--latent_dim=16", "--batch_size=32",
            f"--data_dir={mnist_dir}", f"--output_dir={out}", "--epochs=50", "--steps_per_epoch=40", "--progress=epoch"]
    server = forkserver.server()
    pid = server.start(REPO / "train.py", args, stdout=os.devnull, stderr=str(tmp_path / "stderr"),
                       env=dict(forkserver.ENV))
    deadline = time.time() + 180
    while time.time() < deadline and not (out / "metrics.csv").exists():
        time.sleep(0.1)
    time.sleep(0.5)  # somewhere in the middle of epoch 2
    os.kill(pid, signal.SIGTERM)
    sent = time.time()
    code = server.wait(pid, timeout=60)
    stderr = (tmp_path / "stderr").read_text()
    assert code == 0, stderr[-2000:]
    assert time.time() - sent < 10
    assert "SIGTERM: saved" in stderr
    # Restarted with the same command (fewer epochs so the test ends), it resumes.
    r = forkserver.run(REPO / "train.py", args[:-3] + ["--epochs=3", "--steps_per_epoch=40", "--progress=epoch"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from" in r.stderr


def test_time_limit_ends_the_epoch_early_and_checkpoints_it(tmp_path):
    gan = _gan()
    ds = _repeated()
    limit = callbacks.TimeLimit(0.5 / 60)  # half a second
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    start = time.monotonic()
    history = gan.fit(ds, epochs=50, steps_per_epoch=100_000, verbose=0, callbacks=[limit, ckpt])
    assert time.monotonic() - start < 30
    assert limit.stopped and len(history.history["d_loss"]) == 1  # one (shortened) epoch, recorded
    steps = int(gan.g_optimizer.iterations.numpy())
    assert 0 < steps < 100_000
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith(f"ckpt-{steps}")
    resumed = callbacks.Checkpoint(tmp_path / "ckpt")  # a rerun goes on with the next epoch (SIGTERM's reruns it)
    resumed.set_model(gan)
    assert resumed.restore() == 1
    with pytest.raises(ValueError, match="minutes must be a positive number"):
        callbacks.TimeLimit(0)


class _SlowScorer(keras.callbacks.Callback):
    """Stands in for QualityMetrics: spends 0.05 s per epoch end (more than an epoch of 5 tiny steps, ~20 ms
    here) and reports it as scoring_seconds."""

    scoring_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.05)
        self.scoring_seconds += 0.05


@pytest.mark.parametrize("excluded", [True, False])
def test_time_limit_does_not_count_excluded_scoring_time(excluded):
    gan = _gan()
    ds = _repeated()
    scorer = _SlowScorer()
    limit = callbacks.TimeLimit(1.0 / 60, exclude=[scorer] if excluded else [])
    gan.fit(ds, epochs=10_000, steps_per_epoch=5, verbose=0, callbacks=[limit, scorer])
    # A second fit with the same callbacks: scoring done before it must not shorten it.
    before, start = scorer.scoring_seconds, time.monotonic()
    gan.fit(ds, epochs=10_000, steps_per_epoch=5, verbose=0, callbacks=[limit, scorer])
    training = time.monotonic() - start - (scorer.scoring_seconds - before)
    if excluded:
        assert training >= 1.0
    else:  # the sleeps ate most of the second
        assert training < 0.9


def test_two_rollbacks_to_one_checkpoint_compound_the_rate_and_a_resume_uses_the_configured_rate(tmp_path, caplog):
    """Restoring a checkpoint restores the learning rate saved in it: the guard reapplies its cumulative
    factor after each restore, so a second rollback to the same checkpoint trains at 0.25x, not 0.5x again."""
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    gan.fit(_data_with_nan_batch(None), epochs=1, verbose=0, callbacks=[ckpt])  # ckpt-6 at rate 1e-3
    good = _data_with_nan_batch(None)
    poisoned_twice = _data_with_nan_batch(1).take(2).concatenate(good.take(1)).concatenate(
        _data_with_nan_batch(0).take(1)).concatenate(good.take(3))
    guard = callbacks.DivergenceGuard(ckpt, rollback=True, lr_factor=0.5)
    seen = []

    class Rates(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.g_optimizer.learning_rate.numpy()))

    with caplog.at_level("WARNING"):
        gan.fit(poisoned_twice, epochs=2, initial_epoch=1, verbose=0, callbacks=[guard, Rates()])
    assert guard.rollbacks == 2 and _finite(gan)
    assert guard.rates == [pytest.approx((5e-4, 5e-4)), pytest.approx((2.5e-4, 2.5e-4))]
    assert seen[-1] == pytest.approx(2.5e-4)
    assert "learning rates now d=0.0005, g=0.0005 (0.5x" in caplog.text
    assert "learning rates now d=0.00025, g=0.00025 (0.25x" in caplog.text
    # Both rolled back to ckpt-6 (no checkpoint in between); a checkpoint saved now carries 0.25x.
    ckpt.save(epoch=2)
    # A resumed run trains at the rates it is given (so lowering them after a divergence works) and says so.
    fresh = _gan()
    caplog.clear()
    with caplog.at_level("WARNING"):
        fresh.fit(_data_with_nan_batch(None).take(1), epochs=3, initial_epoch=2, verbose=0,
                  callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])
    assert float(fresh.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    assert "saved with learning rates d=0.00025, g=0.00025" in caplog.text


def test_sigterm_mid_epoch_records_the_epoch_as_unfinished(tmp_path):
    """Keras calls on_epoch_end after a mid-epoch stop: the checkpoint must still record the epoch as unfinished,
    so the resumed run redoes it (before the fix the epoch-end save marked 2 of 5 steps a finished epoch)."""
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")

    class Term(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGTERM)

    gan.fit(_repeated(), epochs=3, steps_per_epoch=5, verbose=0,
            callbacks=[ckpt, Term(), callbacks.Preemption(ckpt)])
    fresh = _gan()
    restore = callbacks.Checkpoint(tmp_path / "ckpt")
    restore.set_model(fresh)
    assert restore.restore() == 0 and int(fresh.g_optimizer.iterations.numpy()) == 2
