"""`ProgbarLogger`: Keras's progress bar, ending an epoch stopped early at the step it stopped on."""

import keras


class ProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras's `ProgbarLogger`, except for an epoch a callback stops early.

    Keras's fills the bar to the epoch's full step count when the epoch ends
    (`125/125`), even when `TimeLimit`, `Preemption`, `TerminateOnNaN` or any
    callback setting `model.stop_training` ended it after 40 steps; this one
    ends it at `40/125`. `kgan.GAN.fit` adds it unless given a progress bar.

    Example:

    ```python
    gan.fit(ds, epochs=5, callbacks=[kgan.callbacks.TimeLimit(1.0), kgan.callbacks.ProgbarLogger()])
    ```
    """

    def _finalize_progbar(self, logs):
        stopped = self.model is not None and self.model.stop_training
        if stopped and self.progbar is not None and self.target and 0 < self.seen < self.target:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)
            return
        super()._finalize_progbar(logs)
