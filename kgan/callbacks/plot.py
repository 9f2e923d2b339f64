"""`LossPlot`: losses and discriminator outputs against training step, as a PNG."""

import csv
import os
import time

import keras

from kgan.io import atomic_write

_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


class LossPlot(keras.callbacks.Callback):
    """Records the logged GAN metrics every `every_n_steps` steps and plots them.

    The values go to `path` with `.csv` (appended to, so a resumed run keeps its
    history) and the figure to `path` (PNG): losses on top, the mean
    discriminator outputs on real and generated images below.
    Drawing takes ~0.25 s on a 2-core CPU, so the figure is redrawn at an
    epoch's end only when `min_seconds` have passed since it was last drawn
    (epochs of a few seconds would otherwise spend ~4% of the run drawing), and
    when training ends if anything was recorded since (a run of one short epoch
    draws once, not twice); the CSV is written every `every_n_steps` regardless.
    Any other logged metric (e.g. from an evaluation callback) is plotted in
    panels of its own.

    Example:

    ```python
    gan.fit(ds, epochs=20, callbacks=[kgan.callbacks.LossPlot("runs/dcgan/losses.png")])
    ```
    """

    def __init__(self, path, every_n_steps=10, min_seconds=30.0):
        super().__init__()
        self.min_seconds = float(min_seconds)
        self._drawn = None
        self._undrawn = True  # rows appended (or a resumed CSV) not yet in the PNG
        self.path = os.fspath(path)
        self.csv_path = os.path.splitext(self.path)[0] + ".csv"
        self.every_n_steps = int(every_n_steps)
        self._step = 0
        self._epoch = 0
        self._epoch_start = 0

    def on_train_begin(self, logs=None):
        self._step = int(keras.ops.convert_to_numpy(self.model.g_optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the epoch's last step this call ran (several with `steps_per_execution`).
        previous, self._step = self._step, self._epoch_start + batch + 1
        self._pending = logs
        if self._step // self.every_n_steps > previous // self.every_n_steps:
            self._record(logs)

    def _record(self, logs):
        self._pending = None
        if logs:
            row = {"step": self._step, "epoch": self._epoch + 1}
            row.update({k: float(v) for k, v in logs.items() if k in _KEYS})
            self._append(row)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self, "_pending", None):
            self._record(self._pending)  # an epoch's last step is always recorded
        extra = {k: float(v) for k, v in (logs or {}).items() if k not in _KEYS}
        if extra:
            self._append({"step": self._step, "epoch": epoch + 1, **extra})
        if self._drawn is None or time.monotonic() - self._drawn >= self.min_seconds:
            self.draw()

    def on_train_end(self, logs=None):
        if self._undrawn:
            self.draw()

    def _append(self, row):
        self._undrawn = True
        os.makedirs(os.path.dirname(os.path.abspath(self.csv_path)), exist_ok=True)
        new = not os.path.exists(self.csv_path)
        with open(self.csv_path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", "epoch", "name", "value"])
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    w.writerow([row["step"], row["epoch"], k, v])

    def read(self):
        """The recorded series as {name: ([steps], [values])}."""
        series = {}
        if not os.path.exists(self.csv_path):
            return series
        with open(self.csv_path, newline="") as f:
            for r in csv.DictReader(f):
                s = series.setdefault(r["name"], ([], []))
                s[0].append(int(r["step"]))
                s[1].append(float(r["value"]))
        return series

    def draw(self):
        """Redraws the PNG from everything recorded so far."""
        series = self.read()
        if not series:
            return
        import io

        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        panels = [("loss", [k for k in ("d_loss", "g_loss") if k in series]),
                  ("D output", [k for k in ("d_real", "d_fake") if k in series])]
        panels += [(k, [k]) for k in sorted(series) if k not in _KEYS]
        panels = [p for p in panels if p[1]]
        fig = Figure(figsize=(8, 2.6 * len(panels)), tight_layout=True)
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (title, keys) in zip(axes, panels):
            for k in keys:
                steps, values = series[k]
                ax.plot(steps, values, label=k, marker="o" if len(steps) < 30 else None, ms=3)
            ax.set_ylabel(title)
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=8)
        axes[-1].set_xlabel("generator step")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        atomic_write(self.path, buf.getvalue())
        self._drawn = time.monotonic()
        self._undrawn = False
