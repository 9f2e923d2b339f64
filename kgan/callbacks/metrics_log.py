"""`MetricsLog`: Keras's `CSVLogger` without the `val_*` columns it adds to a `fit` that has no validation data.

Keras 3's CSVLogger fixes its columns at the first epoch and, when none of them starts with `val_`, adds a
`val_<name>` column for each (so that a later epoch's validation results fit); a GAN's `fit` has no validation
data, so they stayed "NA" in every row of `metrics.csv`. Appending to a file that has a header keeps that
header's columns, so a run written before still gets rows that line up with it.
"""

import csv

import keras


class MetricsLog(keras.callbacks.CSVLogger):
    """Writes each epoch's logs as a CSV row: the columns of the first epoch's logs, or of the file appended to.

    Example:

    ```python
    gan.fit(ds, epochs=10, callbacks=[kgan.callbacks.MetricsLog("metrics.csv", append=True)])
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:  # set here, Keras's own code leaves the columns as they are
            self.keys = self._header() or sorted((logs or {}).keys())
        super().on_epoch_end(epoch, logs)

    def _header(self):
        """The columns (after `epoch`) of the file this logger appends to, or None."""
        if not self.append:
            return None
        try:
            with open(self.filename, newline="") as f:
                names = next(csv.reader(f, delimiter=self.sep), [])
        except OSError:
            return None
        return names[1:] if names[:1] == ["epoch"] and len(names) > 1 else None
