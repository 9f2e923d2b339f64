"""Runs an exported TFLite generator with `ai_edge_litert.interpreter.Interpreter` (TF's own
`tf.lite.Interpreter` is deprecated). The files come from `kgan.export.export_generator`
(the converter is `kgan.export.tflite`): every variant keeps a float32 interface, input
`latent` float32 `[batch, latent_dim]` (and `label` int32 `[batch]` for a conditional
generator), output `images` float32 `[batch, H, W, C]` in [0, 1].
"""

import json
import os

import numpy as np

from kgan.errors import ConfigError
from kgan.export.publish import MANIFEST
from kgan.export.saved_model import latents


def export_manifest(path):
    """The manifest (`kgan_export.json`) of the export version that holds the `.tflite` file `path` and lists it,
    else `{}` (a file copied elsewhere, or one kgan-export did not write)."""
    version_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    try:
        with open(os.path.join(version_dir, MANIFEST)) as f:
            manifest = json.load(f)
        files = {os.path.normpath(v["file"]) for v in manifest["tflite"].values()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return manifest if os.path.relpath(os.path.abspath(path), version_dir) in files else {}


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("running TFLite models needs ai-edge-litert: pip install 'kgan[tflite]'") from e
    return Interpreter


class TFLiteGenerator:
    """Runs an exported TFLite generator: `TFLiteGenerator(path)(latents) -> images`.

    Latents are float32 `[batch, latent_dim]`; images come back as float32
    numpy `[batch, H, W, C]` in [0, 1]. A fixed-batch model is fed in chunks of
    its batch size (the last one zero-padded), so any batch works.

    Args:
        path: a `.tflite` file written by `kgan.export.export_generator`.
        num_threads: interpreter threads (None: the runtime's default).

    Raises `ConfigError` if the file is missing or not a kgan generator, and
    when called with latents of the wrong shape.

    Where the file sits in the export version that wrote it (beside its
    `kgan_export.json`), the manifest supplies what the file does not record:
    `num_classes` of a conditional generator (labels are checked against it,
    and `generate` cycles them by default) and the export's `max_images`.

    Example:

    ```python
    run = TFLiteGenerator("exports/kgan/1/tflite/generator_float32.tflite")
    images = run(np.random.randn(16, run.latent_dim).astype("float32"))  # [16, 28, 28, 1]
    images = run.generate(16, seed=0)  # the same images as GAN.generate(16, seed=0)
    ```
    """

    def __init__(self, path, num_threads=None):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ConfigError(f"TFLite model {path} does not exist: pass a .tflite file written by kgan-export")
        try:
            self.interpreter = _interpreter_class()(model_path=path, num_threads=num_threads)
        except ValueError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"{path} is not a valid TFLite model: {first}") from e
        self.path = path
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        latent = [d for d in inputs if d["dtype"] == np.float32 and len(d["shape_signature"]) == 2]
        label = [d for d in inputs if d["dtype"] == np.int32 and len(d["shape_signature"]) == 1]
        if len(latent) != 1 or len(label) > 1 or len(inputs) != len(latent) + len(label) or len(outputs) != 1 \
                or len(outputs[0]["shape"]) != 4:
            raise ConfigError(f"{path} is not a kgan generator (one float32 [batch, latent_dim] input, an optional "
                              "int32 [batch] label input, one [batch, H, W, C] output)")
        self._input, self._output = latent[0]["index"], outputs[0]["index"]
        self._label = label[0]["index"] if label else None
        self.conditional = bool(label)
        batch, self.latent_dim = (int(d) for d in latent[0]["shape_signature"])
        self.fixed_batch = batch if batch > 0 else None
        self.image_shape = tuple(int(d) for d in outputs[0]["shape"][1:])
        self._batch = None
        manifest = export_manifest(path)
        self.num_classes = manifest.get("num_classes") if self.conditional else None
        self.max_images = manifest.get("max_images")

    def _run(self, z, y):
        if self._batch != len(z):
            if self.fixed_batch is None:
                self.interpreter.resize_tensor_input(self._input, [len(z), self.latent_dim])
                if self._label is not None:
                    self.interpreter.resize_tensor_input(self._label, [len(z)])
            self.interpreter.allocate_tensors()
            self._batch = len(z)
        self.interpreter.set_tensor(self._input, z)
        if self._label is not None:
            self.interpreter.set_tensor(self._label, y)
        try:
            self.interpreter.invoke()
        except RuntimeError as e:
            if self._label is None or "index out of bounds" not in str(e):
                raise
            # The label embedding's lookup: the file does not record num_classes, the runtime finds the bad label.
            raise ConfigError(f"labels {sorted(set(y.tolist()))} include a class {self.path} does not have "
                              "(its label lookup is out of bounds)") from e
        return self.interpreter.get_tensor(self._output)

    def __call__(self, latents, labels=None):
        """Images for `latents` `[batch, latent_dim]` (and, for a conditional model, int `labels` `[batch]`)."""
        z = np.asarray(latents, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim or z.shape[0] == 0:
            raise ConfigError(f"latents must have shape [batch >= 1, {self.latent_dim}] for {self.path}, "
                              f"got {list(z.shape)}")
        z = np.ascontiguousarray(z)
        y = None
        if self.conditional:
            if labels is None:
                raise ConfigError(f"{self.path} is a conditional generator: pass labels, one int per latent")
            y = np.broadcast_to(np.asarray(labels), (len(z),)) if np.ndim(labels) == 0 else np.asarray(labels)
            if y.shape != (len(z),) or not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
                raise ConfigError(f"labels must be {len(z)} non-negative integers (one per latent), "
                                  f"got {y.dtype} {list(y.shape)}")
            if self.num_classes is not None and (y >= self.num_classes).any():
                raise ConfigError(f"labels {sorted(set(y[y >= self.num_classes].tolist()))} are not classes of "
                                  f"{self.path}: expected labels in [0, {self.num_classes - 1}]")
            y = np.ascontiguousarray(y, dtype=np.int32)
        elif labels is not None:
            raise ConfigError(f"{self.path} is not a conditional generator: it takes no labels")
        if self.fixed_batch is None:
            return self._run(z, y)
        b = self.fixed_batch
        out = []
        for i in range(0, len(z), b):
            chunk = z[i : i + b]
            ychunk = None if y is None else y[i : i + b]
            if len(chunk) < b:
                pad = b - len(chunk)
                chunk = np.concatenate([chunk, np.zeros((pad, self.latent_dim), np.float32)])
                if ychunk is not None:
                    ychunk = np.concatenate([ychunk, np.zeros(pad, np.int32)])
            out.append(self._run(chunk, ychunk)[: len(z) - i])
        return np.concatenate(out, axis=0)

    def generate(self, num_images, seed=0, max_images=None, labels=None, num_classes=None):
        """Images from the latents `GAN.generate(num_images, seed)` uses (see `kgan.export.latents`).

        A conditional model needs `labels` (one per image, or one for all) or
        `num_classes`, to cycle 0, 1, ..., num_classes - 1 as `GAN.generate` does
        (default: the export's, when its manifest is beside the file).
        `max_images`: the cap of `num_images` (default: the export's, else 1024).
        """
        z = latents(num_images, self.latent_dim, seed, max_images=max_images or self.max_images)
        num_classes = num_classes or self.num_classes
        if self.conditional and labels is None:
            if not num_classes:
                raise ConfigError(f"{self.path} is a conditional generator: pass labels or num_classes")
            labels = np.arange(num_images) % int(num_classes)
        return self(z, labels)
