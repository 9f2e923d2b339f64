"""Ship the generator: a TF Serving SavedModel and TFLite variants, written atomically.

`export_generator(gan, "exports")` writes one new *version* in TF Serving's
layout and returns what it wrote:

    exports/                          export base (TF Serving --model_base_path is exports/kgan)
      kgan/                           model name
        1/                            version: max existing integer + 1
          saved_model.pb              signatures serving_default and generate
          variables/
          kgan_export.json            manifest: shapes, signatures, files and sizes
          tflite/                     TFLite variants, converted from this SavedModel
            generator_float32.tflite
            generator_float16.tflite
            generator_int8_dynamic.tflite
            generator_int8_full.tflite
        2/ ...

The TFLite files live inside the version directory so that a version is one
self-consistent unit (same weights, published by the same rename); TF Serving
reads only `saved_model.pb` and `variables/` and ignores the rest. Every
version directory holds the SavedModel, even with `formats=("tflite",)`: TF
Serving serves the highest version it finds, and a version it cannot load
would take the model down.

A version is built in a hidden temporary directory inside the export base
(`.kgan-export-*`, same filesystem) and published with one `os.rename`, so a
server polling the base never sees half a version, and a failed export leaves
no version behind. An existing version is never overwritten. (A process killed
mid-export can leave a `.kgan-export-*` directory behind; it is never served
and can be deleted.)

Signatures (see `kgan.export.saved_model`): `serving_default` maps `latent`
float32 `[batch, latent_dim]` to `images` float32 `[batch, H, W, C]` in
[0, 1]; `generate` maps scalars `num_images` (int32, 1..1024) and `seed`
(int64) to `images`, drawing the same latents as `GAN.generate(n, seed)`.

Which weights: a `GAN` exports the network `GAN.generate` samples with
(`gan.sampling_generator`: the EMA copy `gan.ema_generator` when the run keeps
one, else `gan.generator`); pass a generator model (or `generator=`) to choose. The exported
graph is inference-only (`training=False`: BatchNorm moving averages, no
dropout).

Example:

```python
gan, _ = kgan.workdir.load_run("runs/dcgan")
result = kgan.export.export_generator(gan, "runs/dcgan/export")
result.version_dir   # 'runs/dcgan/export/kgan/1'
run = kgan.export.TFLiteGenerator(result.tflite["float32"])
images = run.generate(16, seed=0)
```
"""

import dataclasses
import datetime
import json
import logging
import os
import re
import shutil
import tempfile

import numpy as np

from kgan import checks
from kgan.errors import ConfigError
from kgan.features.clusters import find_latent_cluster
from kgan.export import saved_model as saved_model_lib
from kgan.export import tflite as tflite_lib
from kgan.export.saved_model import MAX_IMAGES, SIGNATURES
from kgan.export.tflite import VARIANTS as TFLITE_VARIANTS
from kgan.export.tflite import TFLiteGenerator

log = logging.getLogger(__name__)

FORMATS = ("saved_model", "tflite")
MANIFEST = "kgan_export.json"
TFLITE_DIR = "tflite"
TMP_PREFIX = ".kgan-export-"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

__all__ = ["ExportResult", "FORMATS", "check_export_args", "MANIFEST", "MAX_IMAGES", "SIGNATURES", "TFLITE_VARIANTS", "TFLiteGenerator",
           "export_generator", "inference_generator", "latents", "versions"]


@dataclasses.dataclass
class ExportResult:
    """What `export_generator` wrote (paths are inside `version_dir`)."""

    version_dir: str
    model_name: str
    version: int
    latent_dim: int
    image_shape: tuple
    saved_model: str
    num_classes: int | None  # set for a conditional generator (inputs latent and label)
    tflite: dict  # variant -> path of the .tflite file
    tflite_skipped: dict  # variant -> why it did not convert
    sizes: dict  # "saved_model" and each TFLite variant -> bytes on disk

    def to_dict(self):
        return dataclasses.asdict(self)


def inference_generator(model):
    """The network `export_generator` exports for `model` (a `GAN` or a generator).

    For a `GAN` that is `gan.sampling_generator` (the network `GAN.generate`
    uses: the EMA copy when the run keeps one), falling back to
    `gan.ema_generator` (if not None) and then `gan.generator`; a generator is
    returned as is.

    Example:

    >>> inference_generator(gan) is gan.generator  # a GAN without EMA weights
    True
    """
    if hasattr(model, "generator") and hasattr(model, "discriminator"):
        for name in ("sampling_generator", "ema_generator", "generator"):
            net = getattr(model, name, None)
            if net is not None:
                return net
    return model


def latents(num_images, latent_dim, seed=0, max_images=None):
    """Latent vectors float32 `[num_images, latent_dim]`, the same `GAN.latents(num_images, seed)` draws.

    Raises `ConfigError` unless 1 <= num_images <= max_images (default 1024).

    Example:

    >>> latents(4, 100, seed=0).shape
    (4, 100)
    """
    max_images = MAX_IMAGES if max_images is None else int(max_images)
    checks.integer("num_images", num_images, min=1, max=max_images)
    checks.integer("seed", seed)
    return saved_model_lib.stateless_latents(int(num_images), int(latent_dim), int(seed)).numpy()


def versions(model_dir):
    """The integer version numbers present in `model_dir`, sorted (TF Serving ignores other names).

    Example:

    >>> versions("exports/kgan")
    [1, 2]
    """
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if name.isascii() and name.isdigit() and os.path.isdir(os.path.join(model_dir, name)))


def check_export_args(export_base, model_name="kgan", formats=FORMATS, fixed_batch=None,
                      tflite_variants=TFLITE_VARIANTS, max_images=MAX_IMAGES):
    """Raises `ConfigError` for arguments `export_generator` would refuse (so a CLI can fail before loading a run).

    Example:

    >>> check_export_args("exports", formats=["onnx"])
    Traceback (most recent call last):
    kgan.errors.ConfigError: unknown export format 'onnx': expected one or more of saved_model, tflite
    """
    _check_args(export_base, model_name, formats, fixed_batch, tflite_variants, max_images)


def _check_args(export_base, model_name, formats, fixed_batch, tflite_variants, max_images):
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f]
    formats = tuple(formats)
    if not formats:
        raise ConfigError(f"formats is empty: expected some of {', '.join(FORMATS)}")
    for f in formats:
        if f not in FORMATS:
            raise ConfigError(f"unknown export format {f!r}: expected one or more of {', '.join(FORMATS)}")
    variants = tflite_lib.check_variants(tflite_variants)
    if not isinstance(model_name, str) or not _MODEL_NAME.match(model_name):
        raise ConfigError(f"model_name must be a directory name of letters, digits, '_', '-', '.', got {model_name!r}")
    if fixed_batch is not None:
        checks.positive_int("fixed_batch", fixed_batch, hint=" (or None for any batch)")
    checks.positive_int("max_images", max_images)
    export_base = os.fspath(export_base)
    if os.path.exists(export_base) and not os.path.isdir(export_base):
        raise ConfigError(f"export base {export_base} is a file: pass a directory (it is created if missing)")
    model_dir = os.path.join(export_base, model_name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ConfigError(f"{model_dir} is a file: the model directory must be a directory or not exist")
    return export_base, model_dir, formats, variants


def _latent_dim(model, generator):
    dim = getattr(model, "latent_dim", None)
    if dim is None:
        try:
            dim = generator.inputs[0].shape[-1]
        except (AttributeError, IndexError, TypeError, ValueError) as e:
            raise ConfigError("the generator must be a functional keras.Model with one [batch, latent_dim] input") \
                from e
    return int(dim)


def _num_classes(model, generator):
    """num_classes of a conditional generator (from the GAN, else its label Embedding); None otherwise."""
    if not saved_model_lib.is_conditional(generator):
        return None
    n = getattr(model, "num_classes", None)
    if n is None:
        import keras

        embeddings = [layer for layer in generator.layers if isinstance(layer, keras.layers.Embedding)]
        if len(embeddings) != 1:
            raise ConfigError("cannot tell num_classes of this conditional generator: export its kgan.GAN instead")
        n = embeddings[0].input_dim
    return int(n)


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _publish(tmp, model_dir):
    """Renames `tmp` to the next free version in `model_dir`; returns (version, path)."""
    os.makedirs(model_dir, exist_ok=True)
    for _ in range(100):
        # Any entry named like a version counts (even a stray file): never reuse its name.
        version = max((int(n) for n in os.listdir(model_dir) if n.isascii() and n.isdigit()), default=0) + 1
        target = os.path.join(model_dir, str(version))
        _write_manifest(tmp, version)
        try:
            # rename(2) never replaces a non-empty directory, so a concurrent
            # export that took this number makes us retry with the next one.
            os.rename(tmp, target)
        except OSError:
            if os.path.isdir(target) and os.listdir(target):
                continue
            raise
        return version, target
    raise RuntimeError(f"could not find a free version number in {model_dir}")


def _write_manifest(tmp, version):
    path = os.path.join(tmp, MANIFEST)
    with open(path) as f:
        manifest = json.load(f)
    manifest["version"] = version
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)


def export_generator(model, export_base, model_name="kgan", formats=FORMATS, fixed_batch=None,
                     tflite_variants=TFLITE_VARIANTS, max_images=MAX_IMAGES, generator=None, metadata=None):
    """Exports the generator as a new version `<export_base>/<model_name>/<N>/`; returns an `ExportResult`.

    Args:
        model: a `kgan.GAN` (its `inference_generator`) or a generator `keras.Model`.
        export_base: the directory TF Serving watches the model in (created if missing).
        model_name: the model's name in TF Serving (and its subdirectory).
        formats: some of `FORMATS`. The SavedModel is always written (every
            version must be servable and TFLite is converted from it);
            "tflite" adds the TFLite variants in `<N>/tflite/`.
        fixed_batch: None for TFLite models that take any batch, or a batch
            size to convert for (GPU delegates need a fixed batch).
        tflite_variants: some of `TFLITE_VARIANTS`. `int8_full` is skipped
            (and recorded in `tflite_skipped`) if the converter rejects it or
            the generator is self-conditioned (its cluster choice needs float).
        max_images: the cap of the `generate` signature's `num_images`.
        generator: export this network instead of `inference_generator(model)`.
        metadata: extra JSON-able facts for the manifest (e.g. the run directory).

    Raises `ConfigError` (with nothing written) for an unknown format or
    variant, a bad model name or batch, or an export base that is a file.

    Example:

    ```python
    result = export_generator(gan, "exports", formats=("saved_model", "tflite"))
    result.version, result.saved_model, result.tflite["int8_dynamic"]
    ```
    """
    export_base, model_dir, formats, variants = _check_args(export_base, model_name, formats, fixed_batch,
                                                            tflite_variants, max_images)
    net = generator if generator is not None else inference_generator(model)
    latent_dim = _latent_dim(model if generator is None else generator, net)
    image_shape = tuple(int(d) for d in net.outputs[0].shape[1:]) if getattr(net, "outputs", None) else None
    num_classes = _num_classes(model if generator is None else generator, net)
    try:
        os.makedirs(export_base, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=export_base)
    except OSError as e:
        raise ConfigError(f"cannot create a directory in export base {export_base}: {e.strerror or e}") from e
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; a server may run as another user
        saved_model_lib.write(net, tmp, max_images=max_images, num_classes=num_classes)
        written, skipped = {}, {}
        if "tflite" in formats:
            os.makedirs(os.path.join(tmp, TFLITE_DIR))
            for variant in variants:
                if variant == "int8_full" and find_latent_cluster(net) is not None:
                    # int8 steps of z_0 and of the cumulative shares (1/255 against shares of ~1/K) move
                    # latents into other clusters: a different generator, not a rounded one.
                    skipped[variant] = ("a self-conditioned generator picks its cluster from the latent, which "
                                        "int8 activations cannot resolve; use int8_dynamic")
                    log.warning("int8_full skipped: %s", skipped[variant])
                    continue
                try:
                    data = tflite_lib.convert(tmp, variant, fixed_batch=fixed_batch, num_classes=num_classes)
                except Exception as e:  # noqa: BLE001 - the converter raises many types
                    if variant != "int8_full":
                        raise
                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    log.warning("full-integer int8 did not convert, skipping it: %s", reason)
                    skipped[variant] = reason
                    continue
                rel = os.path.join(TFLITE_DIR, tflite_lib.filename(variant))
                with open(os.path.join(tmp, rel), "wb") as f:
                    f.write(data)
                written[variant] = rel
        sizes = {"saved_model": _dir_bytes(tmp) - sum(os.path.getsize(os.path.join(tmp, r)) for r in written.values())}
        sizes.update({v: os.path.getsize(os.path.join(tmp, r)) for v, r in written.items()})
        signatures = {
            "serving_default": {"inputs": {"latent": f"float32 [batch, {latent_dim}]"},
                                "outputs": {"images": "float32 [batch, H, W, C] in [0, 1]"}},
            "generate": {"inputs": {"num_images": f"int32 scalar in [1, {int(max_images)}]",
                                    "seed": "int64 scalar"},
                         "outputs": {"images": "float32 [num_images, H, W, C] in [0, 1]"}},
        }
        if num_classes is not None:
            signatures["serving_default"]["inputs"]["label"] = f"int32 [batch] in [0, {num_classes - 1}]"
            signatures["generate"]["inputs"]["label"] = f"int32 scalar in [-1, {num_classes - 1}] (-1: cycle)"
        manifest = {
            "model_name": model_name,
            "version": None,
            "latent_dim": latent_dim,
            "num_classes": num_classes,
            "image_shape": list(image_shape) if image_shape else None,
            "max_images": int(max_images),
            "signatures": signatures,
            "tflite": {v: {"file": r, "bytes": sizes[v], "batch": fixed_batch} for v, r in written.items()},
            "tflite_skipped": skipped,
            "sizes": sizes,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "metadata": metadata or {},
        }
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        version, version_dir = _publish(tmp, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s version %d to %s", model_name, version, version_dir)
    return ExportResult(
        version_dir=version_dir,
        model_name=model_name,
        version=version,
        latent_dim=latent_dim,
        image_shape=image_shape,
        saved_model=version_dir,
        num_classes=num_classes,
        tflite={v: os.path.join(version_dir, r) for v, r in written.items()},
        tflite_skipped=skipped,
        sizes=sizes,
    )
