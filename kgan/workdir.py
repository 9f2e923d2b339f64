"""The run directory: its layout, the files that describe the run, and loading a run back.

`kgan.training.train_and_evaluate(config, workdir)` fills it:

    workdir/config.json        the settings of the run, its image shape and its data split (checked on resume)
    workdir/clusters.npz       with `clusters`: the k-means centroids and shares (reused on resume)
    workdir/flags.cfg          the command line's flags (a flagfile that reproduces the run)
    workdir/history.jsonl      one line per start of training: when, from which generator step, the settings and
                               flags of that command (config.json and flags.cfg hold the latest one only)
    workdir/samples/*.png      a sample grid per epoch, same latents each time
    workdir/progress.gif       those grids animated
    workdir/losses.png, .csv   losses and D outputs against generator step
    workdir/metrics.csv        per-epoch metrics (Keras CSVLogger)
    workdir/tensorboard/       TensorBoard scalars and sample images
    workdir/checkpoints/       resumable state; the same call continues from it
    workdir/quality.json       the scores `kgan-evaluate` writes (and nearest.png: samples beside their nearest
                               training images)
    workdir/export/            the versions `kgan-export` writes (by default)

This module owns those names, reads and writes config.json and clusters.npz,
checks that a directory can take a run, and loads a run back (`load_run`).
"""

import dataclasses
import io
import json
import logging
import os
import tempfile

import numpy as np
import tensorflow as tf

from kgan import callbacks, integrity
from kgan.runlock import RunLock, held as run_lock  # noqa: F401  (the run lock: one trainer per run directory)
from kgan.config import NETWORK_ARGS, TrainConfig, defaults
from kgan.errors import ConfigError, StorageError
from kgan.io import atomic_write, existing_ancestor

log = logging.getLogger(__name__)

CONFIG = "config.json"
CLUSTERS = "clusters.npz"
FLAGS = "flags.cfg"
HISTORY = "history.jsonl"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"
LOSSES = "losses.png"
METRICS = "metrics.csv"
QUALITY = "quality.json"
EXPORT = "export"

# What a run resumed with other settings does, from each setting's `resume` (`kgan.config.setting`): settings that
# change what a resumed run trains without breaking it are allowed and named in a warning (config.json and flags.cfg
# then record the new command; learning rates have their own warning, kgan.callbacks.checkpoint); the others in
# RESUME_KEYS must match (plus the image shape the data gave).
TRAINING_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["resume"] == "warn")
_MATCH = [f.name for f in dataclasses.fields(TrainConfig) if f.metadata["resume"] == "match"]
_AFTER = _MATCH.index("latent_dim") + 1  # the image shape the data gave, reported after the latent size
RESUME_KEYS = tuple(_MATCH[:_AFTER] + ["image_shape"] + _MATCH[_AFTER:])


def path(workdir, name):
    """`workdir/name`, e.g. `path(workdir, CHECKPOINTS)`."""
    return os.path.join(workdir, name)


# ------------------------------------------------------------------ config.json
def config_json(config, image_shape, data_split=None):
    """The text of config.json: every setting, the image shape the networks were built for, and the data split
    (`kgan.data.split`: which images it trains on and which are held out for the metrics)."""
    extra = {"data_split": data_split} if data_split is not None else {}
    return json.dumps({**dataclasses.asdict(config), "image_shape": list(image_shape), **extra},
                      indent=2, sort_keys=True, default=list)


def write_config(workdir, config, image_shape, data_split=None):
    atomic_write(path(workdir, CONFIG), config_json(config, image_shape, data_split))


def append_history(workdir, config, flags_text=None):
    """Adds one line to `workdir/history.jsonl`: the time, the generator step training starts from (that of the
    latest checkpoint, 0 for a new run, None if its index is damaged), every setting and, from the command line, its flags. A resumed run with
    other settings rewrites config.json and flags.cfg; this keeps what each earlier command trained with."""
    import datetime

    try:
        step = checkpoint_step(workdir) or 0
    except Exception:  # noqa: BLE001 - a damaged checkpoint index: resuming repairs it (kgan.integrity); step unknown
        step = None
    entry = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "from_step": step, "config": dataclasses.asdict(config)}
    if flags_text is not None:
        entry["flags"] = flags_text
    line = json.dumps(entry, sort_keys=True, default=list) + "\n"
    history = path(workdir, HISTORY)
    try:  # a kill mid-write leaves a partial last line: the next entry starts on a line of its own
        with open(history, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
    except OSError:  # no file yet, or an empty one
        pass
    with open(history, "a") as f:
        f.write(line)


def read_saved(workdir):
    """The dict config.json holds, or None if there is none; ConfigError if it is unreadable."""
    p = path(workdir, CONFIG)
    if not os.path.exists(p):
        return None
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{p} is unreadable ({e}): use a new output directory") from e


def read_config(workdir):
    """`(config, image_shape)` of the run in `workdir`; ConfigError if it holds none.

    A network setting the run's family takes no argument for is read as unset:
    runs written before the settings passed straight to the networks saved
    e.g. `kernel_size=5` for the mlp family, which ignored it.
    """
    saved = read_saved(workdir)
    if saved is None:
        raise ConfigError(f"{workdir} holds no training run (no {CONFIG}): pass the --output_dir of a train.py run")
    saved = dict(saved)
    saved.pop("data_split", None)
    image_shape = tuple(saved.pop("image_shape"))
    config = TrainConfig.from_dict(saved)
    for name in NETWORK_ARGS:
        if getattr(config, name) is not None and config.network_setting(name) is None:
            setattr(config, name, None)
    return config, image_shape


def check_workdir(workdir, config, image_shape):
    """Raises ConfigError if `workdir` holds a run whose settings can't continue as `config`.

    Network settings are compared by what they give the network (unset = the family's default). Returns the
    `TRAINING_KEYS` that differ ("batch_size 64 -> 16", ...), which are allowed and logged in one warning.
    """
    old = read_saved(workdir)
    if old is None:
        return
    new = {**dataclasses.asdict(config), "image_shape": list(image_shape)}
    initial = defaults()
    old_config = TrainConfig.from_dict({**initial, **old})
    for key in RESUME_KEYS:
        a, b = old.get(key, initial.get(key)), new.get(key)  # a key added later has its default in older runs
        if key in NETWORK_ARGS:
            a, b = old_config.network_setting(key), config.network_setting(key)
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            a, b = list(a) if a else a, list(b) if b else b
        if key == "dataset" and b == "folder" and a not in ("folder", "idx"):
            # Until 2026-12-07 a folder of images under a TFDS name (mnist, the default) was read as a folder and
            # recorded under that name; loading it now asks for --dataset=folder, so such a run resumes as one.
            log.warning("%s was recorded as dataset %r; resuming it as dataset 'folder' (same image shape)", workdir, a)
            continue
        if a != b:
            raise ConfigError(
                f"{workdir} holds a run with {key}={a!r}, but this run asks for {key}={b!r}: "
                "use another output directory or the same setting"
            )
    scaled = [p == "mixed_float16" for p in (old.get("precision", initial["precision"]), config.precision)]
    if scaled[0] != scaled[1]:  # its optimizers are loss-scaled (keras.optimizers.LossScaleOptimizer), or not
        raise ConfigError(f"{workdir} holds a run with precision={old.get('precision', initial['precision'])!r}, but "
                          f"this run asks for precision={config.precision!r}: mixed_float16's loss-scaled optimizers "
                          "keep other state, so it cannot change to or from another precision (float32 and "
                          "mixed_bfloat16 can change into each other)")
    changed = []
    for key in TRAINING_KEYS:
        a, b = old.get(key, initial.get(key)), new.get(key)
        if key in NETWORK_ARGS:
            a, b = old_config.network_setting(key), config.network_setting(key)
        if (list(a) if isinstance(a, (list, tuple)) else a) != (list(b) if isinstance(b, (list, tuple)) else b):
            changed.append(f"{key} {a!r} -> {b!r}")
    if changed:
        log.warning("resuming %s with other settings than it was trained with: %s (config.json and flags.cfg now "
                    "record this command's; its earlier epochs trained with the old ones, kept in %s)", workdir,
                    ", ".join(changed), HISTORY)
    return changed


def read_data_split(workdir):
    """The data split the run in `workdir` recorded (`kgan.data.split`); a run from before splits were recorded
    trained on every image: no held-out part. ConfigError if `workdir` holds no run."""
    saved = read_saved(workdir)
    if saved is None:
        raise ConfigError(f"{workdir} holds no training run (no {CONFIG}): pass the --output_dir of a train.py run")
    if saved.get("data_split") is None:
        return {"train": {"split": saved.get("split"), "holdout": 0.0, "holdout_seed": 0, "part": "all"},
                "heldout": None}
    return saved["data_split"]


def data_split(workdir, config):
    """The data split a run uses: a new run's `kgan.data.split.plan`, or on resume the one its config.json
    recorded (ConfigError if `config.holdout` is set and asks for another)."""
    from kgan.data import split as splits
    from kgan.errors import DataError

    fresh = splits.plan(config.dataset, config.data_dir, config.split, config.holdout, config.holdout_seed,
                        metrics=bool(config.eval_every))
    saved = read_saved(workdir)
    try:
        chosen = splits.for_run(fresh, saved.get("data_split") if saved else None,
                                explicit=config.holdout is not None, resuming=saved is not None)
    except DataError as e:
        raise ConfigError(f"{workdir}: {e}") from e
    splits.check_data(chosen, config.dataset, config.data_dir, use=f"the run in {workdir}")
    recorded = splits.with_fingerprint(chosen, config.dataset, config.data_dir)
    if saved is not None and "data" in recorded and "data" not in chosen:
        log.warning("%s recorded no fingerprint of the images it holds out from (a run from before 2026-12-08): "
                    "recording today's now, so a later change is caught; a change before this resume cannot be",
                    workdir)
    return recorded


# ------------------------------------------------------------------ clusters.npz
def read_clusters(workdir, num_clusters, image_shape):
    """`(centroids, prior)` saved with the run, or None if it has none; ConfigError if they don't fit."""
    p = path(workdir, CLUSTERS)
    integrity.check_clusters_file(p, path(workdir, CHECKPOINTS))  # damaged, or lost beside checkpoints: one line
    if not os.path.exists(p):
        return None
    with np.load(p) as f:
        centroids, prior = f["centroids"], f["prior"]
    if centroids.shape != (num_clusters, int(np.prod(image_shape))) or prior.shape != (num_clusters,):
        raise ConfigError(f"{p} holds centroids of shape {centroids.shape}, not {num_clusters} clusters "
                          f"of {tuple(image_shape)} images: use a new output directory")
    return centroids, prior


def clusters_bytes(centroids, prior):
    """The bytes of a clusters.npz (made before anything is written, written with the run's files)."""
    buf = io.BytesIO()
    np.savez(buf, centroids=centroids, prior=prior)
    return buf.getvalue()


def write_clusters(workdir, data):
    atomic_write(path(workdir, CLUSTERS), data)


# ------------------------------------------------------------------ the directory itself
def check_output_dir(directory):
    """StorageError unless `directory` exists as a writable directory or could be created (nothing is created)."""
    p = existing_ancestor(os.path.abspath(directory))
    if not os.path.isdir(p):
        raise StorageError(f"cannot write to the output directory {directory}: {p} is a file, not a directory")
    if not os.access(p, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write to the output directory {directory}: {p} is not writable")


def check_writable(directory):
    """Creates `directory` and proves a file can be written in it; StorageError otherwise."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as f:
            f.write(b"kgan")
    except OSError as e:
        raise StorageError(f"cannot write to the output directory {directory}: {e.strerror or e}") from e


def latest_checkpoint(workdir):
    """The prefix of the latest checkpoint in `workdir/checkpoints` (e.g. `.../ckpt-200`), or None."""
    directory = path(workdir, CHECKPOINTS)
    return tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None


def checkpoint_step(workdir):
    """The generator step of the latest checkpoint (checkpoints are numbered by it), or None."""
    latest = latest_checkpoint(workdir)
    return int(latest.rsplit("-", 1)[1]) if latest else None


def load_run(workdir):
    """Rebuilds the GAN of the run in `workdir` and restores its latest checkpoint.

    Returns `(gan, config)`. Raises `ConfigError` when `workdir` holds no run
    or no checkpoint.

    Example:

    ```python
    gan, config = kgan.workdir.load_run("runs/dcgan")
    images = gan.generate(16, seed=0)
    ```
    """
    from kgan import training  # deferred: kgan.training imports this module

    config, image_shape = read_config(workdir)
    with tempfile.TemporaryDirectory(prefix="kgan-load-") as tmp:  # a verified copy: a trainer may be writing
        copy = integrity.snapshot(path(workdir, CHECKPOINTS), os.path.join(tmp, CHECKPOINTS))
        if not copy:
            raise ConfigError(f"{workdir} has no checkpoint in {path(workdir, CHECKPOINTS)}: "
                              "train at least one epoch first")
        gan = training.build_gan(config, image_shape)
        ckpt = callbacks.Checkpoint(os.path.dirname(copy))
        ckpt.set_model(gan)
        epochs = ckpt.restore(log_resume=False)  # its path is the temporary copy's
    log.info("loaded %s: %d epoch(s) done, generator step %d", os.path.join(path(workdir, CHECKPOINTS),
             os.path.basename(copy)), epochs, int(gan.g_optimizer.iterations.numpy()))
    return gan, config
