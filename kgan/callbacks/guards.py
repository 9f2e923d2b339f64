"""Callbacks that keep a run safe: stop cleanly on SIGTERM, stop (or roll back) on divergence."""

import logging
import math
import signal

import keras

from kgan import checks
from kgan.errors import TrainingDiverged

log = logging.getLogger(__name__)


class Preemption(keras.callbacks.Callback):
    """On SIGTERM (cloud preemption), checkpoint at the next step boundary and stop `fit` cleanly.

    `checkpoint` is the run's `kgan.callbacks.Checkpoint`; the save records the
    current epoch as unfinished, so a restart with the same command redoes it
    from its first step with all state restored. `preempted` tells the caller
    that the run stopped early (the CLI then exits 0).

    Example:

    ```python
    ckpt = kgan.callbacks.Checkpoint("runs/x/checkpoints")
    gan.fit(ds, epochs=20, callbacks=[ckpt, kgan.callbacks.Preemption(ckpt)])
    ```
    """

    def __init__(self, checkpoint, signals=(signal.SIGTERM,)):
        super().__init__()
        self.checkpoint = checkpoint
        self.signals = signals
        self.preempted = False
        self._requested = False
        self._previous = {}
        self._epoch = 0

    def _handler(self, signum, frame):
        self._requested = True

    def on_train_begin(self, logs=None):
        for s in self.signals:
            try:
                self._previous[s] = signal.signal(s, self._handler)
            except ValueError:  # not the main thread: cannot install handlers
                log.warning("Preemption: signal handlers need the main thread; SIGTERM is not caught")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._requested and not self.preempted:
            self.preempted = True
            path = self.checkpoint.save(self._epoch)
            self.checkpoint.stopped_mid_epoch = True  # Keras still calls on_epoch_end: don't mark the epoch done
            log.warning("SIGTERM: saved %s at step %d of epoch %d; stopping (rerun the same command to resume)",
                        path, batch + 1, self._epoch + 1)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when a logged loss becomes NaN or infinite, naming the step.

    The run's last good checkpoint stays the resume point (`Checkpoint` never
    saves non-finite epochs). With `rollback=True` and a `checkpoint`, it
    instead restores the last good checkpoint, multiplies both learning rates
    by `lr_factor` and goes on (at most `max_rollbacks` times).

    Example:

    ```python
    gan.fit(ds, epochs=20, callbacks=[ckpt, kgan.callbacks.DivergenceGuard(ckpt, rollback=True)])
    ```
    """

    def __init__(self, checkpoint=None, rollback=False, lr_factor=0.5, max_rollbacks=3):
        super().__init__()
        self.checkpoint = checkpoint
        self.rollback = rollback
        self.lr_factor = float(lr_factor)
        self.max_rollbacks = int(max_rollbacks)
        self.rollbacks = 0
        self.diverged_at = None
        # Restoring a checkpoint restores the learning rates saved in it (Keras keeps them as optimizer
        # variables), so the rates in force are recomputed after every restore from the rates at the
        # start and a cumulative factor kept here: rollback k trains at lr_factor ** k of them.
        self.lr_scale = 1.0
        self.base_rates = None  # (d, g) at the first on_train_begin, after the checkpoint is restored
        self.rates = []  # (d, g) in force after each rollback

    def _optimizers(self):
        return (self.model.d_optimizer, self.model.g_optimizer)

    def on_train_begin(self, logs=None):
        if self.base_rates is None:
            self.base_rates = tuple(float(opt.learning_rate.numpy()) for opt in self._optimizers())

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if "loss" in k and not math.isfinite(float(v))}
        if not bad:
            return
        step = int(self.model.g_optimizer.iterations.numpy())
        what = ", ".join(f"{k}={float(v)}" for k, v in bad.items())
        if self.rollback and self.checkpoint is not None and self.rollbacks < self.max_rollbacks:
            if self.checkpoint._state().latest_checkpoint:
                self.rollbacks += 1
                self.checkpoint.restore()
                self.lr_scale *= self.lr_factor
                for opt, base in zip(self._optimizers(), self.base_rates):
                    opt.learning_rate.assign(base * self.lr_scale)
                self.rates.append(tuple(float(opt.learning_rate.numpy()) for opt in self._optimizers()))
                self.model.reset_metrics()
                log.warning("%s at generator step %d: rolled back to the last good checkpoint (generator step %d); "
                            "learning rates now d=%.3g, g=%.3g (%gx the rates at the start; rollback %d of %d)",
                            what, step, int(self.model.g_optimizer.iterations.numpy()), *self.rates[-1],
                            self.lr_scale, self.rollbacks, self.max_rollbacks)
                return
        self.diverged_at = step
        self.model.stop_training = True
        raise TrainingDiverged(
            f"training diverged at generator step {step} ({what}); the last good checkpoint is kept: "
            "lower the learning rates or use rollback"
        )


class TimeLimit(keras.callbacks.Callback):
    """Stops training after `minutes` of training wall time (checked after every step).

    The epoch in progress ends early and is recorded like any other (callbacks
    after it still see `on_epoch_end`, so the checkpoint and plots are
    written); `fit` then returns. For comparisons at an equal time budget.
    Time that the callbacks in `exclude` report as their `scoring_seconds`
    (e.g. `QualityMetrics` scoring samples) does not count as training.

    Example:

    ```python
    quality = kgan.callbacks.QualityMetrics(evaluator, every_n_epochs=5)
    gan.fit(ds, epochs=1000, callbacks=[quality, kgan.callbacks.TimeLimit(15, exclude=[quality])])
    ```
    """

    def __init__(self, minutes, exclude=()):
        super().__init__()
        self.minutes = checks.positive("minutes", minutes)
        self.exclude = list(exclude)
        self.stopped = False

    def _excluded_seconds(self):
        return sum(float(getattr(cb, "scoring_seconds", 0.0)) for cb in self.exclude)

    def on_train_begin(self, logs=None):
        import time

        self._deadline = time.monotonic() + 60.0 * self.minutes - self._excluded_seconds()  # only time excluded from now on

    def on_train_batch_end(self, batch, logs=None):
        import time

        if time.monotonic() >= self._deadline + self._excluded_seconds():
            self.model.stop_training = True
            if not self.stopped:
                log.info("time limit of %g minutes reached: stopping after this step", self.minutes)
            self.stopped = True
