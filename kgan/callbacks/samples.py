"""`SampleGrid`: a grid of samples from fixed latents after every epoch, as PNG, GIF and TensorBoard image."""

import glob
import os
import re

import keras
import numpy as np

from kgan import images as images_lib
from kgan.io import atomic_write


class SampleGrid(keras.callbacks.Callback):
    """Writes `directory/epoch_NNNN.png` after every `every_n_epochs` epochs.

    The grid is drawn from the same `num_images` latent vectors (from `seed`)
    every time (for a class-conditional GAN: one row per class, the same
    latents in each column), so the PNGs show one set of samples evolving. At the end of
    training `progress.gif` (beside the PNG folder, or `gif_path`) animates all
    grids in the folder, including those of earlier, resumed runs. With
    `tensorboard_dir`, each grid is also logged as a TensorBoard image.

    Example:

    ```python
    gan.fit(ds, epochs=20, callbacks=[kgan.callbacks.SampleGrid("runs/dcgan/samples")])
    ```
    """

    def __init__(self, directory, num_images=64, seed=1234, every_n_epochs=1, gif_path="auto", tensorboard_dir=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.every_n_epochs = int(every_n_epochs)
        if gif_path == "auto":
            gif_path = os.path.join(os.path.dirname(os.path.abspath(self.directory)), "progress.gif")
        self.gif_path = gif_path
        self.tensorboard_dir = tensorboard_dir
        self._latents = None
        self._writer = None

    def grid(self):
        """The current sample grid as a uint8 array (conditional GANs: one row per class)."""
        classes = getattr(self.model, "num_classes", None)
        if not classes:
            if self._latents is None:
                self._latents = self.model.latents(self.num_images, self.seed)
            return images_lib.make_grid(self.model.generate(self.num_images, latents=self._latents))
        cols = max(1, self.num_images // classes)
        if self._latents is None:
            self._latents = np.tile(self.model.latents(cols, self.seed), (classes, 1))
        labels = np.repeat(np.arange(classes), cols)
        return images_lib.make_grid(self.model.generate(len(labels), latents=self._latents, labels=labels),
                                    ncols=cols)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        grid = self.grid()
        atomic_write(os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png"), images_lib.png_bytes(grid))
        if self.tensorboard_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.tensorboard_dir, "samples"))
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if not self.gif_path:
            return
        paths = sorted(glob.glob(os.path.join(self.directory, "epoch_*.png")), key=_epoch_of)
        if not paths:
            return
        from PIL import Image

        grids = [np.asarray(Image.open(p)) for p in paths]
        grids = [g[..., None] if g.ndim == 2 else g for g in grids]
        atomic_write(self.gif_path, images_lib.gif_bytes(grids))


def _epoch_of(path):
    m = re.search(r"epoch_(\d+)\.png$", path)
    return int(m.group(1)) if m else -1
