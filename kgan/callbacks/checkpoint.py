"""`Checkpoint`: resumable training state written with `tf.train.CheckpointManager`.

A checkpoint holds what `GAN.checkpoint_state()` names (both networks, both
optimizers' slots and step counters, the noise generator's state, the EMA
generator) and the number of finished epochs. TensorFlow writes
the files first and then atomically replaces the `checkpoint` index, so a run
killed mid-write still resumes from the previous checkpoint.
"""

import logging
import math
import os

import keras
import tensorflow as tf

from kgan.errors import ConfigError, StorageError

log = logging.getLogger(__name__)


class Checkpoint(keras.callbacks.Callback):
    """Saves training state after every epoch and resumes from it in `fit`.

    On `on_train_begin` the latest checkpoint in `directory` (if any) is
    restored and `fit` continues from the epoch after it. A checkpoint is not
    written when the epoch's logged losses are NaN or infinite, so the last
    good state stays the resume point.

    Args:
        directory: where checkpoints go.
        max_to_keep: how many recent checkpoints to keep.
        save_every_steps: also save every that many generator steps (in the
            middle of an epoch; a resume then restarts that epoch).
        restore_directory: restore from here instead of `directory` (a
            non-chief worker saves into a temporary directory but resumes
            from the chief's checkpoints).

    Example:

    ```python
    ckpt = kgan.callbacks.Checkpoint("runs/dcgan/checkpoints")
    gan.fit(ds, epochs=20, callbacks=[ckpt])  # run again: continues where it stopped
    ```
    """

    def __init__(self, directory, max_to_keep=3, save_every_steps=None, restore_directory=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.restore_directory = os.fspath(restore_directory) if restore_directory else self.directory
        self.max_to_keep = int(max_to_keep)
        self.save_every_steps = save_every_steps
        self._manager = None
        self.restored_epoch = 0
        self.stopped_mid_epoch = False  # set by a preemption callback that saved the unfinished epoch

    def _state(self):
        if self._manager is None:
            self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            ckpt = tf.train.Checkpoint(**_with_epoch(self.model.checkpoint_state(), self._epoch))
            self._manager = tf.train.CheckpointManager(ckpt, self.directory, max_to_keep=self.max_to_keep)
        return self._manager

    def restore(self, log_resume=True):
        """Restores the latest checkpoint, if any; returns the number of finished epochs.

        `log_resume=False`: no "resumed from" line (a run loaded to sample or export, not to train on)."""
        from kgan import integrity

        # The newest checkpoint that reads back whole; damaged newer ones are moved aside (by the owner only).
        path, repaired = integrity.resume_point(self.restore_directory, repair=self.restore_directory == self.directory)
        if repaired and self._manager is not None:  # re-read the rewritten index
            self._manager = tf.train.CheckpointManager(self._manager.checkpoint, self.directory,
                                                       max_to_keep=self.max_to_keep)
        manager = self._state()
        if not path:
            return 0
        try:
            manager.checkpoint.restore(path).assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(
                f"checkpoint {path} does not match this model (a different network or size?): {first[:200]}"
            ) from e
        self.restored_epoch = int(self._epoch.numpy())
        if log_resume:
            log.info("resumed from %s: %d epoch(s) done, generator step %d", path, self.restored_epoch,
                     int(self.model.g_optimizer.iterations.numpy()))
        return self.restored_epoch

    def save(self, epoch):
        """Writes a checkpoint recording `epoch` finished epochs; returns its path."""
        manager = self._state()
        self._epoch.assign(epoch)
        number = int(self.model.g_optimizer.iterations.numpy())
        try:
            _unpublish(manager, number)
            path = manager.save(checkpoint_number=number)
        except (OSError, tf.errors.OpError) as e:
            reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[0]
            previous = tf.train.latest_checkpoint(self.directory)  # the index on disk, not memory
            raise StorageError(f"cannot write a checkpoint in {self.directory} ({reason}); "
                               f"the previous one ({previous or 'none yet'}) is intact: free space or fix "
                               "permissions, then rerun the same command to resume") from e
        log.debug("saved %s", path)
        return path

    def on_train_begin(self, logs=None):
        self.stopped_mid_epoch = False
        configured = _rates(self.model)
        epoch = self.restore()
        _keep_configured_rates(self.model, configured)
        if epoch:
            self.model._initial_epoch = epoch
            total = (self.params or {}).get("epochs")
            if total is not None and epoch >= total:  # fit() returns at once: say why instead of nothing
                log.info("nothing to train: the run's %d epoch(s) are done (epochs=%d); pass more epochs to train "
                         "on", epoch, total)
        if self.save_every_steps:
            self._last_block = int(self.model.g_optimizer.iterations.numpy()) // int(self.save_every_steps)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_every_steps and _finite(logs):
            # Saves when a multiple of save_every_steps was passed (with `steps_per_execution`, this hook
            # runs once per that many steps: the save lands on the first boundary after the multiple).
            step, every = int(self.model.g_optimizer.iterations.numpy()), int(self.save_every_steps)
            if step // every > self._last_block:
                self.save(self._current_epoch)
            self._last_block = step // every

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped_mid_epoch:  # a preemption saved this epoch as unfinished: keep it so (redo it on resume)
            return
        if not _finite(logs):
            log.warning("epoch %d: losses are not finite; keeping the last good checkpoint", epoch + 1)
            return
        self.save(epoch + 1)


def _unpublish(manager, number):
    """Takes `ckpt-<number>` out of the `checkpoint` index before it is written again.

    Two saves at one generator step (a step save, then the epoch-end or the SIGTERM save) write
    `ckpt-<step>` twice, and TensorFlow rewrites a checkpoint in place non-atomically: it renames
    the new data file over the old one, then truncates and rewrites the `.index`. A kill in between
    would leave the index naming a corrupt checkpoint (a checksum mismatch on restore). So the index
    names the previous checkpoint until the new one is complete (or none, if there is no other: the
    run would then start over). `tests/test_faults.py` kills a run at exactly that moment.
    """
    name = f"ckpt-{number}"  # CheckpointManager's default checkpoint_name
    kept = [p for p in manager.checkpoints if os.path.basename(p) != name]
    if len(kept) == len(manager.checkpoints):
        return
    if kept:
        # What CheckpointManager itself writes the index with (an atomic rename).
        from tensorflow.python.checkpoint import checkpoint_management

        checkpoint_management.update_checkpoint_state_internal(
            manager.directory, model_checkpoint_path=kept[-1], all_model_checkpoint_paths=kept,
            save_relative_paths=True)
    else:
        os.remove(os.path.join(manager.directory, "checkpoint"))


def check_restorable(model, directory):
    """Raises `ConfigError` unless the newest intact checkpoint in `directory` (if any) fits `model`: every variable
    `Checkpoint.restore` reads, with its shape. A resumed run calls it before it writes anything: `restore` runs in
    `fit`, after the run's files were rewritten for the model the checkpoint does not fit."""
    from kgan import integrity

    path, _ = integrity.resume_point(directory, repair=False, quiet=True)
    if not path:
        return
    saved = {key: tuple(shape) for key, shape in tf.train.list_variables(path)}
    wanted = {f"{name}/{i}/.ATTRIBUTES/VARIABLE_VALUE": (name, v)
              for name, variables in model.checkpoint_state().items() for i, v in enumerate(variables)}
    for key, (name, v) in wanted.items():
        if saved.get(key) != tuple(v.shape):
            held = "nothing" if key not in saved else f"shape {list(saved[key])}"
            what = getattr(v, "path", None) or getattr(v, "name", "")
            raise ConfigError(f"checkpoint {path} does not match this model (a different network or size?): "
                              f"{name} {what} is shape {list(v.shape)} here, {held} in the checkpoint")
    extra = sorted({key.split("/")[0] for key in saved} - {key.split("/")[0] for key in wanted}
                   - {"_CHECKPOINTABLE_OBJECT_GRAPH", "epoch", "save_counter"})
    if extra:
        raise ConfigError(f"checkpoint {path} does not match this model (a different network or size?): it holds "
                          f"{', '.join(extra)}, which this model has not")


def _with_epoch(state, epoch):
    """`state` with `epoch` after `noise_seed`: the key order checkpoints have always been written with."""
    out = {}
    for key, value in state.items():
        out[key] = value
        if key == "noise_seed":
            out["epoch"] = epoch
    out.setdefault("epoch", epoch)
    return out


def _finite(logs):
    return all(math.isfinite(float(v)) for k, v in (logs or {}).items() if "loss" in k)


def _rates(model):
    return tuple(float(opt.learning_rate.numpy()) for opt in (model.d_optimizer, model.g_optimizer))


def _keep_configured_rates(model, configured):
    """A checkpoint restores the learning rates saved in it (Keras keeps them as optimizer variables): the
    ones an `--on_nan=rollback` lowered, or those of an earlier command. A resumed run trains at the rates
    it is given now (so lowering them after a divergence works) and says so when they differ."""
    saved = _rates(model)
    if saved == configured:
        return
    for opt, rate in zip((model.d_optimizer, model.g_optimizer), configured):
        opt.learning_rate.assign(rate)
    log.warning("the checkpoint was saved with learning rates d=%.3g, g=%.3g (lowered by --on_nan=rollback, or "
                "set by an earlier command); going on with the configured d=%.3g, g=%.3g", *saved, *configured)
