"""`export_generator`: writes one export version (its formats, then the manifest); see `kgan.export`.

Each export format is one entry of `FORMAT_SPECS` (a `FormatSpec`): its `write(job)` writes the format's files
into `job.dir` (the version being built; the `ExportJob` holds the network and the options) and returns a
`FormatOutput` naming them. From that entry alone the format is accepted by `formats=` (and listed by
`kgan-export --help`), sized from its own files (`sizes`), listed in the manifest (under its name unless its
output gives other manifest entries), in `ExportResult.files` and in kgan-export's summary. Each TFLite
variant is one entry of `kgan.export.tflite.VARIANT_SPECS`.
"""

import copy
import dataclasses
import datetime
import functools
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping

from kgan import checks
from kgan.errors import ConfigError
from kgan.export import saved_model as saved_model_lib
from kgan.export import tflite as tflite_lib
from kgan.export.publish import MANIFEST, TMP_PREFIX, publish
from kgan.export.saved_model import MAX_IMAGES
from kgan.export.tflite import VARIANTS as TFLITE_VARIANTS

log = logging.getLogger(__name__)

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
    sizes: dict  # each part ("saved_model", each TFLite variant, ...) -> bytes of its files
    formats: tuple = ()  # the formats written, in `FORMAT_SPECS` order ("saved_model" always)
    files: dict = dataclasses.field(default_factory=dict)  # each part of `sizes` -> its path (file or directory)
    skipped: dict = dataclasses.field(default_factory=dict)  # each part not written -> why (`tflite_skipped` too)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ExportJob:
    """What a format's `write` and `check` get: the network, facts about it, and the export's options."""

    net: object  # the generator keras.Model being exported
    latent_dim: int
    image_shape: tuple | None
    num_classes: int | None
    max_images: int
    fixed_batch: int | None
    tflite_variants: tuple
    dir: str | None = None  # the version directory being built (temporary until published); None in `check`

    @functools.cached_property
    def quantization_sensitive(self):
        """Why integer activations would make `net` another generator (see `_quantization_sensitive`), or None."""
        return _quantization_sensitive(self.net)

    def size(self, rel):
        """Bytes on disk of `rel` inside `dir`: a file, or every file under a directory."""
        return _path_bytes(os.path.join(self.dir, rel))


@dataclasses.dataclass
class FormatOutput:
    """What a format's `write` returns.

    Attributes:
        files: part -> what the format wrote for it, relative to the version directory: a path (a file or a
            directory) or a tuple of paths. Each part is a key of `sizes` (the bytes of exactly those files) and
            of `ExportResult.files` (its path, or for a tuple the directory holding the paths). Part names are
            unique across formats.
        manifest: the format's top-level manifest entries; None for the default
            `{format name: {part: {"file": path (or "files": [paths]), "bytes": n}}}`.
        skipped: part -> why it was not written (`ExportResult.skipped`).
    """

    files: dict
    manifest: dict | None = None
    skipped: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FormatSpec:
    """One export format: an entry of `FORMAT_SPECS`.

    Attributes:
        write: `write(job) -> FormatOutput`: writes the format's files into `job.dir`. Formats are written in
            `FORMAT_SPECS` order (TFLite is converted from the SavedModel written before it).
        check: `check(job)`, or None: raises `ConfigError` before anything is written.
        always: written in every version, asked for or not.
        absent_manifest: the manifest entries of a version without this format.
    """

    write: Callable
    check: Callable | None = None
    always: bool = False
    absent_manifest: Mapping = dataclasses.field(default_factory=dict)


def _path_bytes(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def _signatures(job):
    """The manifest's description of the SavedModel's signatures."""
    gen_inputs = {"num_images": f"int32 scalar in [1, {int(job.max_images)}]", "seed": "int64 scalar",
                  "truncation": "float32 scalar in [0, 1], optional (default 1.0: none)"}
    signatures = {
        "serving_default": {"inputs": {"latent": f"float32 [batch, {job.latent_dim}]"},
                            "outputs": {"images": "float32 [batch, H, W, C] in [0, 1]"}, "batchable": True},
        "generate": {"inputs": dict(gen_inputs),
                     "outputs": {"images": "float32 [num_images, H, W, C] in [0, 1]"}, "batchable": False},
        "generate_uint8": {"inputs": dict(gen_inputs),
                           "outputs": {"images": "uint8 [num_images, H, W, C] in [0, 255]"}, "batchable": False},
        "generate_png": {"inputs": dict(gen_inputs),
                         "outputs": {"png_bytes": "string [num_images]: one PNG file each"}, "batchable": False},
    }
    if job.num_classes is not None:
        signatures["serving_default"]["inputs"]["label"] = f"int32 [batch] in [0, {job.num_classes - 1}]"
        for name in ("generate", "generate_uint8", "generate_png"):
            signatures[name]["inputs"]["label"] = f"int32 scalar in [-1, {job.num_classes - 1}] (-1: cycle)"
    return signatures


def _write_saved_model(job):
    """The SavedModel (`saved_model.pb`, `variables/`, ...): one part, "saved_model", of all it writes."""
    before = set(os.listdir(job.dir))
    saved_model_lib.write(job.net, job.dir, max_images=job.max_images, num_classes=job.num_classes)
    return FormatOutput(files={"saved_model": tuple(sorted(set(os.listdir(job.dir)) - before))},
                        manifest={"signatures": _signatures(job)})


def _check_tflite(job):
    """Refuses variants that would all be skipped for this generator: the version would lack every file asked for."""
    specs = tflite_lib.VARIANT_SPECS
    if not job.tflite_variants or not all(specs[v].quantized_activations for v in job.tflite_variants):
        return
    reason = job.quantization_sensitive
    if reason:
        asked = list(dict.fromkeys(job.tflite_variants))
        others = ", ".join(v for v, spec in specs.items() if not spec.quantized_activations)
        raise ConfigError(f"tflite_variants={','.join(asked)} only, but this generator cannot take "
                          f"{'it' if len(asked) == 1 else 'them'}: {reason}; ask for another variant too ({others})")


def _write_tflite(job):
    """The variants `job.tflite_variants`, converted from the SavedModel in `job.dir`: one part each, in `tflite/`.

    A variant with `quantized_activations` is skipped (and recorded with the reason) for a quantization-sensitive
    generator or when the converter rejects it; any other variant's failure fails the export.
    """
    os.makedirs(os.path.join(job.dir, TFLITE_DIR))
    written, skipped = {}, {}
    for variant in job.tflite_variants:
        spec = tflite_lib.VARIANT_SPECS[variant]
        if spec.quantized_activations and job.quantization_sensitive:
            skipped[variant] = job.quantization_sensitive
            log.warning("%s skipped: %s", variant, skipped[variant])
            continue
        try:
            data = tflite_lib.convert(job.dir, variant, fixed_batch=job.fixed_batch, num_classes=job.num_classes)
        except Exception as e:  # noqa: BLE001 - the converter raises many types
            if not spec.quantized_activations:
                raise
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning("%s did not convert, skipping it: %s", spec.description, reason)
            skipped[variant] = reason
            continue
        rel = os.path.join(TFLITE_DIR, tflite_lib.filename(variant))
        with open(os.path.join(job.dir, rel), "wb") as f:
            f.write(data)
        written[variant] = rel
    manifest = {"tflite": {v: {"file": r, "bytes": job.size(r), "batch": job.fixed_batch} for v, r in written.items()},
                "tflite_skipped": skipped}
    return FormatOutput(files=written, manifest=manifest, skipped=skipped)


FORMAT_SPECS = {
    # Always written: every version must be servable (TF Serving serves the highest), and TFLite converts it.
    "saved_model": FormatSpec(_write_saved_model, always=True),
    "tflite": FormatSpec(_write_tflite, check=_check_tflite, absent_manifest={"tflite": {}, "tflite_skipped": {}}),
}
"""Every export format, in the order they are written: name -> `FormatSpec`. `FORMATS` lists the names."""
FORMATS = tuple(FORMAT_SPECS)


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
        raise ConfigError(f"formats is empty: expected some of {', '.join(FORMAT_SPECS)}")
    for f in formats:
        if f not in FORMAT_SPECS:
            raise ConfigError(f"unknown export format {f!r}: expected one or more of {', '.join(FORMAT_SPECS)}")
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


def export_generator(model, export_base, model_name="kgan", formats=FORMATS, fixed_batch=None,
                     tflite_variants=TFLITE_VARIANTS, max_images=MAX_IMAGES, generator=None, metadata=None):
    """Exports the generator as a new version `<export_base>/<model_name>/<N>/`; returns an `ExportResult`.

    Args:
        model: a `kgan.GAN` (its `inference_generator`) or a generator `keras.Model`.
        export_base: the directory TF Serving watches the model in (created if missing).
        model_name: the model's name in TF Serving (and its subdirectory).
        formats: some of `FORMATS` (the entries of `FORMAT_SPECS`). The
            SavedModel is always written (every version must be servable and
            TFLite is converted from it); "tflite" adds the TFLite variants in
            `<N>/tflite/`.
        fixed_batch: None for TFLite models that take any batch, or a batch
            size to convert for (GPU delegates need a fixed batch).
        tflite_variants: some of `TFLITE_VARIANTS`. A variant with integer
            activations (`quantized_activations` in its `VariantSpec`:
            `int8_full`) is skipped (and recorded in `tflite_skipped`) if the
            converter rejects it or a layer of the generator is
            `quantization_sensitive` (e.g. the cluster choice of a
            self-conditioned generator needs float).
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
    chosen = {name: spec for name, spec in FORMAT_SPECS.items() if spec.always or name in formats}
    job = ExportJob(net=net, latent_dim=latent_dim, image_shape=image_shape, num_classes=num_classes,
                    max_images=max_images, fixed_batch=fixed_batch, tflite_variants=variants)
    for spec in chosen.values():
        if spec.check is not None:
            spec.check(job)
    try:
        os.makedirs(export_base, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=export_base)
    except OSError as e:
        raise ConfigError(f"cannot create a directory in export base {export_base}: {e.strerror or e}") from e
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; a server may run as another user
        job.dir = tmp
        outputs = {name: spec.write(job) for name, spec in chosen.items()}
        sizes, paths = _parts(tmp, outputs)
        manifest = {
            "model_name": model_name,
            "version": None,
            "latent_dim": latent_dim,
            "num_classes": num_classes,
            "image_shape": list(image_shape) if image_shape else None,
            "max_images": int(max_images),
            "sizes": sizes,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "metadata": metadata or {},
        }
        for name, spec in FORMAT_SPECS.items():
            entries = _manifest_entries(name, outputs[name], sizes) if name in outputs else spec.absent_manifest
            for key, value in entries.items():
                if key in manifest:
                    raise ValueError(f"export format {name!r} gives manifest entry {key!r}, which the manifest "
                                     f"already holds: pick a key other than {', '.join(manifest)}")
                manifest[key] = copy.deepcopy(value)
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        version, version_dir = publish(tmp, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s version %d to %s", model_name, version, version_dir)
    files = {part: os.path.join(version_dir, rel) if rel else version_dir for part, rel in paths.items()}
    return ExportResult(
        version_dir=version_dir,
        model_name=model_name,
        version=version,
        latent_dim=latent_dim,
        image_shape=image_shape,
        saved_model=version_dir,
        num_classes=num_classes,
        tflite={v: files[v] for v in outputs["tflite"].files} if "tflite" in outputs else {},
        tflite_skipped=outputs["tflite"].skipped if "tflite" in outputs else {},
        sizes=sizes,
        formats=tuple(outputs),
        files=files,
        skipped={part: reason for output in outputs.values() for part, reason in output.skipped.items()},
    )


def _rel_paths(name, part, value):
    """The paths (relative to the version directory) a `FormatOutput.files` value names, as a tuple."""
    rels = (value,) if isinstance(value, str) else tuple(value)
    if not rels or not all(isinstance(r, str) and r and not os.path.isabs(r) for r in rels):
        raise ValueError(f"export format {name!r} names the files of part {part!r} as {value!r}: expected a "
                         "relative path or a non-empty tuple of them")
    return rels


def _parts(tmp, outputs):
    """(sizes, paths): each part -> the bytes of its own files, and -> its path relative to the version directory."""
    sizes, paths, owner = {}, {}, {}
    for name, output in outputs.items():
        for part, value in output.files.items():
            if part in owner:
                raise ValueError(f"export format {name!r} writes part {part!r}, which format {owner[part]!r} "
                                 "wrote: part names must be unique across formats")
            rels = _rel_paths(name, part, value)
            owner[part] = name
            sizes[part] = sum(_path_bytes(os.path.join(tmp, r)) for r in rels)
            paths[part] = value if isinstance(value, str) else os.path.commonpath([os.path.dirname(r) for r in rels])
    return sizes, paths


def _manifest_entries(name, output, sizes):
    """A written format's manifest entries: its own, else `{name: {part: {"file" or "files", "bytes"}}}`."""
    if output.manifest is not None:
        return output.manifest
    entry = {}
    for part, value in output.files.items():
        where = {"file": value} if isinstance(value, str) else {"files": list(value)}
        entry[part] = {**where, "bytes": sizes[part]}
    return {name: entry}
