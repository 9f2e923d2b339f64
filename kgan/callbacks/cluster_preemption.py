"""`ClusterPreemption`: on a cluster, a SIGTERM to any worker makes every worker checkpoint at one step and stop.

One worker cannot checkpoint alone under `MultiWorkerMirroredStrategy`: the others would wait for
it in the next collective. TensorFlow's `tf.distribute.experimental.PreemptionCheckpointHandler`
agrees on the step through the cluster's coordination service: the signalled worker publishes
"save after step k+1", every worker acknowledges, trains up to that step, saves and exits. This
callback runs it inside Keras `fit`: `save_checkpoint_if_preempted()` after every step, kgan's own
`Checkpoint.save` as the handler's `save_fn` (the chief writes the run's checkpoints, the other
workers their temporary ones, as at every epoch end), and an `exit_fn` that stops `fit` cleanly
instead of TensorFlow's default `sys.exit(42)` (a restart code for cluster managers). The epoch is
recorded as unfinished, so the same command resumes at that step and redoes the rest of it.

The handler's own checkpoint (its step counter) is a throwaway in a temporary directory: every
worker of a (re)started job counts steps from 0 together, which is all the agreement needs.
"""

import logging
import shutil
import signal
import tempfile

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


class ClusterPreemption(keras.callbacks.Callback):
    """SIGTERM on any worker of a `MultiWorkerMirroredStrategy` job: all workers save at the same step, `fit` ends.

    `checkpoint` is the run's `kgan.callbacks.Checkpoint` (on every worker), `strategy` the job's strategy.
    `preempted` tells the caller the run stopped early.
    """

    def __init__(self, checkpoint, strategy):
        super().__init__()
        self.checkpoint = checkpoint
        self.strategy = strategy
        self.preempted = False
        self.saved = None
        self.handler = None
        self._epoch = 0
        self._tmp = None
        self._previous = None

    def on_train_begin(self, logs=None):
        self._tmp = tempfile.mkdtemp(prefix="kgan-preemption-")
        counter = tf.train.CheckpointManager(tf.train.Checkpoint(), self._tmp, max_to_keep=1)
        config = tf.distribute.experimental.TerminationConfig(exit_fn=self._exit, save_fn=self._save)
        self._previous = signal.getsignal(signal.SIGTERM)
        self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            self.strategy.cluster_resolver, counter, termination_config=config)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self.preempted:
            self._batch = batch
            self.handler.save_checkpoint_if_preempted()

    def _save(self, *args, **kwargs):
        self.saved = self.checkpoint.save(self._epoch)
        self.checkpoint.stopped_mid_epoch = True  # Keras still calls on_epoch_end: the epoch stays unfinished

    def _exit(self):
        self.preempted = True
        self.model.stop_training = True
        log.warning("SIGTERM on a worker of the cluster: every worker saved at generator step %d (step %d of epoch "
                    "%d; here %s); stopping (rerun the same command to resume)",
                    int(self.model.g_optimizer.iterations.numpy()), self._batch + 1, self._epoch + 1, self.saved)

    def on_train_end(self, logs=None):
        if self.handler is not None:
            # Releases the handler's watcher threads (what its __del__ would do, at a known time).
            self.handler._stop_cluster_wise_termination_watcher_thread()  # noqa: SLF001
            self.handler._stop_poll_termination_signal_thread()  # noqa: SLF001
            self.handler = None
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
