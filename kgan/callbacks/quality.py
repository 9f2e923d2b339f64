"""`QualityMetrics`: kgan's sample-quality metrics every few epochs, into the logs (CSV, TensorBoard, plot)."""

import logging
import time

import keras

log = logging.getLogger(__name__)


def _fmt(metrics):
    return ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())


class QualityMetrics(keras.callbacks.Callback):
    """Scores `num_samples` generated images with a `kgan.eval.Evaluator` after every `every_n_epochs`-th epoch.

    The metrics (classifier_score, fcd, precision, recall, modes, class_kl,
    label_accuracy for conditional models; none of these from a label-free
    evaluator, `kgan.eval.Evaluator(None, ...)`), the label-free sliced Wasserstein
    distance swd and its levels swd_<size> for images of at least 16 px, and with
    held-out images the C_T copying statistics ct_pixels and ct_features) are added to the epoch's logs with
    `train_minutes`, the wall time spent training so far (scoring excluded,
    `scoring_seconds` holds the time spent scoring), so
    callbacks placed after this one record them: `CSVLogger`, `TensorBoard`,
    `kgan.callbacks.LossPlot`. The first and the last epoch (also one cut
    short by `TimeLimit`) are always scored (Keras's CSVLogger fixes its columns
    at the first). At the start the real floor at the same counts is logged
    once and kept in `floor`. A warning is logged when fewer classes
    than before are covered (mode collapse) or when C_T falls below the copying
    threshold (-3). `history` keeps every result.

    Example:

    ```python
    ev, _ = kgan.eval.run_evaluator("mnist", "../shared/data/mnist", data_split, "~/.cache/kgan")
    q = kgan.callbacks.QualityMetrics(ev, every_n_epochs=2)
    gan.fit(ds, epochs=10, callbacks=[q, keras.callbacks.CSVLogger("metrics.csv")])
    ```
    """

    def __init__(self, evaluator, every_n_epochs=1, num_samples=10_000, seed=0):
        super().__init__()
        self.evaluator = evaluator
        self.every_n_epochs = int(every_n_epochs)
        self.num_samples = int(num_samples)
        self.seed = seed
        self.history = []
        self.floor = None
        self._best_modes = None
        self.scoring_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.floor = self.evaluator.real_floor(self.num_samples)
        what = (f"{self.floor['num_images']} real training images against {self.evaluator.num_real} held-out ones"
                if getattr(self.evaluator, "held_out", False) else
                f"half of the {self.evaluator.num_real} real images against the other half (no held-out images)")
        log.info("quality: real floor (%s): %s", what, _fmt(self.floor))
        self._start = time.monotonic()
        self.scoring_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        last = self.model.stop_training or epoch + 1 == self.params.get("epochs")
        if epoch != 0 and (epoch + 1) % self.every_n_epochs and not last:
            return
        t0 = time.monotonic()
        train_minutes = (t0 - self._start - self.scoring_seconds) / 60.0
        gan = self.model
        labels = gan.check_labels(None, self.num_samples) if getattr(gan, "num_classes", None) else None
        images = gan.generate(self.num_samples, seed=self.seed, labels=labels)
        details = {}
        metrics = self.evaluator.evaluate(images, labels=labels, details=details)
        self.scoring_seconds += time.monotonic() - t0
        self.history.append({"epoch": epoch + 1, "train_minutes": train_minutes, **metrics})
        if logs is not None:
            logs.update(metrics, train_minutes=train_minutes)
        if "modes" in metrics:  # not from a label-free evaluator
            if self._best_modes is not None and metrics["modes"] < self._best_modes:
                log.warning("epoch %d: only %d of %d classes covered (was %d): mode collapse?", epoch + 1,
                            metrics["modes"], self.evaluator.num_classes, self._best_modes)
            self._best_modes = max(self._best_modes or 0, metrics["modes"])
        threshold = getattr(self.evaluator, "copying_threshold", -3.0)
        for name, result in details.items():  # the C_T results, ct_pixels and ct_features
            if self.evaluator.copying_verdict(result) == "copying":
                log.warning("epoch %d: %s = %.2f < %g: the samples sit closer to training images than new real "
                            "images do (data copying?)", epoch + 1, name, metrics[name], threshold)
        log.info("epoch %d quality: %s", epoch + 1, _fmt(metrics))
