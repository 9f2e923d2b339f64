"""`export_generator`: writes one export version (SavedModel, TFLite variants, manifest); see `kgan.export`."""

import dataclasses
import datetime
import json
import logging
import os
import re
import shutil
import tempfile


from kgan import checks
from kgan.errors import ConfigError
from kgan.export import saved_model as saved_model_lib
from kgan.export import tflite as tflite_lib
from kgan.export.publish import MANIFEST, TMP_PREFIX, publish
from kgan.export.saved_model import MAX_IMAGES
from kgan.export.tflite import VARIANTS as TFLITE_VARIANTS

log = logging.getLogger(__name__)

FORMATS = ("saved_model", "tflite")
TFLITE_DIR = "tflite"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


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

    >>> gan = kgan.GAN(kgan.nets.mlp_generator(latent_dim=4), kgan.nets.mlp_discriminator())
    >>> inference_generator(gan) is gan.generator  # a GAN without EMA weights
    True
    """
    if hasattr(model, "generator") and hasattr(model, "discriminator"):
        for name in ("sampling_generator", "ema_generator", "generator"):
            net = getattr(model, name, None)
            if net is not None:
                return net
    return model


def run_metadata(run_dir, export_base, model_name):
    """What the manifest says about the run: its name, and where it is relative to the version directory
    when the export lies inside the run (the default). Never the trainer's absolute path: the artifact
    ships to servers.

    >>> run_metadata("runs/dcgan", "runs/dcgan/export", "kgan")
    {'run_name': 'dcgan', 'run_dir': '../../..'}
    """
    run_dir, export_base = os.path.abspath(run_dir), os.path.abspath(export_base)
    out = {"run_name": os.path.basename(run_dir.rstrip(os.sep))}
    if os.path.commonpath([run_dir, export_base]) == run_dir:
        out["run_dir"] = os.path.relpath(run_dir, os.path.join(export_base, model_name, "1"))
    return out


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


def _quantization_sensitive(net):
    """Why int8 activations would make `net` a different generator (not a rounded one), or None.

    A layer says so with a `quantization_sensitive` attribute holding the reason (e.g. the
    `LatentCluster` of a self-conditioned generator, whose cluster choice int8 cannot resolve).
    """
    for layer in net._flatten_layers() if hasattr(net, "_flatten_layers") else ():
        reason = getattr(layer, "quantization_sensitive", None)
        if reason:
            return str(reason)
    return None


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


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
            a layer of the generator is `quantization_sensitive` (e.g. the
            cluster choice of a self-conditioned generator needs float).
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
    sensitive = _quantization_sensitive(net) if "tflite" in formats else None
    if sensitive and set(variants) == {"int8_full"}:  # it would publish a version without the one file asked for
        raise ConfigError(f"tflite_variants=int8_full only, but this generator cannot take it: {sensitive}; "
                          f"ask for another variant too ({', '.join(v for v in TFLITE_VARIANTS if v != 'int8_full')})")
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
                if variant == "int8_full" and sensitive:
                    skipped[variant] = sensitive
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
        gen_inputs = {"num_images": f"int32 scalar in [1, {int(max_images)}]", "seed": "int64 scalar",
                      "truncation": "float32 scalar in [0, 1], optional (default 1.0: none)"}
        signatures = {
            "serving_default": {"inputs": {"latent": f"float32 [batch, {latent_dim}]"},
                                "outputs": {"images": "float32 [batch, H, W, C] in [0, 1]"}, "batchable": True},
            "generate": {"inputs": dict(gen_inputs),
                         "outputs": {"images": "float32 [num_images, H, W, C] in [0, 1]"}, "batchable": False},
            "generate_uint8": {"inputs": dict(gen_inputs),
                               "outputs": {"images": "uint8 [num_images, H, W, C] in [0, 255]"}, "batchable": False},
            "generate_png": {"inputs": dict(gen_inputs),
                             "outputs": {"png_bytes": "string [num_images]: one PNG file each"}, "batchable": False},
        }
        if num_classes is not None:
            signatures["serving_default"]["inputs"]["label"] = f"int32 [batch] in [0, {num_classes - 1}]"
            for name in ("generate", "generate_uint8", "generate_png"):
                signatures[name]["inputs"]["label"] = f"int32 scalar in [-1, {num_classes - 1}] (-1: cycle)"
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
        version, version_dir = publish(tmp, model_dir)
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
