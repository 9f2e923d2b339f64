"""`MetricsLog`: Keras's `CSVLogger` without the `val_*` columns it adds to a `fit` that has no validation data.

Keras 3's CSVLogger fixes its columns at the first epoch and, when none of them starts with `val_`, adds a
`val_<name>` column for each (so that a later epoch's validation results fit); a GAN's `fit` has no validation
data, so they stayed "NA" in every row of `metrics.csv`. Appending to a file that has a header keeps that
header's columns, so a run written before still gets rows that line up with it.
"""

import csv
import logging

import keras

log = logging.getLogger(__name__)


class MetricsLog(keras.callbacks.CSVLogger):
    """Writes each epoch's logs as a CSV row: the columns of the first epoch's logs, or of the file appended to.

    Example:

    ```python
    gan.fit(ds, epochs=10, callbacks=[kgan.callbacks.MetricsLog("metrics.csv", append=True)])
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:  # set here, Keras's own code leaves the columns as they are
            header = self._header()
            if header:
                self._drop_rows_from(epoch)
            self.keys = header or sorted((logs or {}).keys())
            left_out = sorted(set(logs or {}) - set(self.keys))
            if left_out:  # e.g. a resumed run that now asks for quality metrics
                log.warning("%s keeps the columns it was started with: %s not recorded there (TensorBoard has "
                            "them; start a new --output_dir for a file with them)", self.filename, ", ".join(left_out))
        super().on_epoch_end(epoch, logs)

    def _drop_rows_from(self, epoch):
        """Removes the rows of `epoch` and later from the file appended to: an epoch run again after a stop
        mid-epoch (SIGTERM, --max_minutes) replaces its partial row instead of adding a second one."""
        from kgan.io import atomic_write

        with open(self.filename, newline="") as f:
            lines = f.readlines()
        kept = lines[:1] + [line for line in lines[1:] if not _epoch_at_least(line, epoch, self.sep)]
        if len(kept) == len(lines):
            return
        log.info("%s: replacing the rows of epoch %d and later, run again", self.filename, epoch)
        self.csv_file.close()
        atomic_write(self.filename, "".join(kept).encode())
        self.csv_file = open(self.filename, "a")  # the file Keras opened, reopened (a local path, as atomic_write's)
        self.writer = None

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


def _epoch_at_least(line, epoch, sep):
    first = line.split(sep, 1)[0].strip()
    return first.isdigit() and int(first) >= epoch
