"""The training loop: `train_and_evaluate(config, workdir)`.

`TrainConfig` names every setting of a run (the CLI's flags map onto it one to
one); `train_and_evaluate` checks it, builds the strategy, data, networks and
GAN, and runs `fit` with the callbacks that fill `workdir`:

    workdir/config.json        the settings of the run (checked on resume)
    workdir/clusters.npz       with `clusters`: the k-means centroids and shares (reused on resume)
    workdir/samples/*.png      a sample grid per epoch, same latents each time
    workdir/progress.gif       those grids animated
    workdir/losses.png, .csv   losses and D outputs against generator step
    workdir/metrics.csv        per-epoch metrics (Keras CSVLogger)
    workdir/tensorboard/       TensorBoard scalars and sample images
    workdir/checkpoints/       resumable state; the same call continues from it

With `strategy="multi_worker"` every worker calls `train_and_evaluate` with
the same config and workdir (on a shared filesystem): the chief writes the
above, the other workers write into `workdir/.worker-<type>-<id>/`, removed
when training ends, and resume from the chief's checkpoints.
"""

import dataclasses
import json
import logging
import os

from kgan.errors import ConfigError

log = logging.getLogger(__name__)

# Settings that must match when a run continues in an existing workdir.
_RESUME_KEYS = ("dataset", "network", "latent_dim", "loss", "image_shape", "d_filters", "g_filters",
                "kernel_size", "d_batchnorm", "spectral_norm", "num_classes", "clusters", "ema_decay")


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run. `validate()` checks them all.

    Example:

    ```python
    config = kgan.train.TrainConfig(dataset="mnist", data_dir="../shared/data/mnist", epochs=1)
    gan, history = kgan.train.train_and_evaluate(config, "runs/quick")
    ```
    """

    # data
    dataset: str = "mnist"
    data_dir: str | None = None
    split: str | None = None
    # networks
    network: str = "dcgan"
    latent_dim: int = 100
    g_filters: tuple | None = None
    d_filters: tuple | None = None
    kernel_size: int = 5
    negative_slope: float = 0.2
    d_dropout: float = 0.3
    d_batchnorm: bool = False
    sync_batchnorm: bool = False
    spectral_norm: bool = False
    num_classes: int = 10
    clusters: int = 0  # > 0: condition a conditional network on that many k-means clusters, not labels
    # objective
    loss: str = "non_saturating"
    d_steps: int = 1
    clip_value: float | None = None
    gradient_penalty: float = 0.0
    r1_penalty: float = 0.0
    r1_every: int = 1
    mode_seeking: float = 0.0
    label_smoothing: float = 0.0
    instance_noise: float = 0.0
    instance_noise_steps: int = 10_000
    ema_decay: float | None = None
    mixed_precision: bool = False
    # optimization
    epochs: int = 20
    steps_per_epoch: int | None = None
    batch_size: int = 256
    d_learning_rate: float = 2e-4
    g_learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    seed: int = 0
    # distribution
    strategy: str = "auto"
    cpu_replicas: int = 1
    tpu: str = ""
    connect_timeout: int = 120
    # outputs
    num_samples: int = 64
    sample_every: int = 1
    checkpoint_every_steps: int | None = None
    keep_checkpoints: int = 3
    on_nan: str = "stop"
    verbose: int = 1
    max_minutes: float | None = None
    # quality metrics (kgan.eval): 0 = off
    eval_every: int = 0
    eval_samples: int = 10_000
    classifier_cache: str = "~/.cache/kgan"

    def validate(self):
        """Raises `ConfigError` naming the first bad setting and what is allowed."""
        from kgan import distribute, losses, nets

        for name in ("latent_dim", "epochs", "batch_size", "d_steps", "cpu_replicas", "num_samples",
                     "sample_every", "keep_checkpoints", "kernel_size", "connect_timeout"):
            _positive_int(name, getattr(self, name))
        _positive_int("eval_samples", self.eval_samples)
        if self.max_minutes is not None:
            _positive_float("max_minutes", self.max_minutes)
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ConfigError(f"eval_every must be an integer >= 0 (0: no quality metrics), got {self.eval_every!r}")
        for name in ("steps_per_epoch", "checkpoint_every_steps"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        for name in ("d_learning_rate", "g_learning_rate"):
            _positive_float(name, getattr(self, name))
        if self.clip_value is not None:
            _positive_float("clip_value", self.clip_value)
        for name in ("beta_1", "beta_2", "d_dropout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
        for name in ("gradient_penalty", "r1_penalty", "instance_noise", "mode_seeking"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ConfigError(f"{name} weight must be a number >= 0, got {v!r}")
        for name in ("r1_every", "instance_noise_steps"):
            _positive_int(name, getattr(self, name))
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1) (or unset for no EMA), got {self.ema_decay!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if isinstance(self.clusters, bool) or not isinstance(self.clusters, int) or self.clusters < 0 \
                or self.clusters == 1:
            raise ConfigError(f"clusters must be 0 (condition on labels, if at all) or an integer >= 2, "
                              f"got {self.clusters!r}")
        if self.clusters and self.network not in nets.CONDITIONAL:
            raise ConfigError(f"clusters={self.clusters} conditions a conditional network on k-means clusters: "
                              f"use --network={' or '.join(sorted(nets.CONDITIONAL))}, not {self.network!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.on_nan not in ("stop", "rollback"):
            raise ConfigError(f"on_nan must be 'stop' or 'rollback', got {self.on_nan!r}")
        losses.get(self.loss)
        nets._family(self.network)
        if self.strategy not in distribute.STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}: expected one of {', '.join(distribute.STRATEGIES)}")
        if self.batch_size % self.cpu_replicas:
            raise ConfigError(
                f"batch_size={self.batch_size} is not divisible by cpu_replicas={self.cpu_replicas}: "
                f"use a multiple of {self.cpu_replicas}"
            )
        return self

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True, default=list)


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def _positive_float(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v != v or v == float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {v!r}")


def build_gan(config, image_shape, cluster_prior=None):
    """Builds and compiles the `GAN` that `config` describes (call inside the strategy scope).

    With `config.clusters`, `cluster_prior` is the clusters' shares (uniform if None:
    a checkpoint restores them).
    """
    import keras

    from kgan import features, nets
    from kgan.gan import GAN

    conditional = config.network in nets.CONDITIONAL
    g_kwargs = dict(latent_dim=config.latent_dim, image_shape=image_shape, negative_slope=config.negative_slope)
    d_kwargs = dict(image_shape=image_shape, negative_slope=config.negative_slope, dropout=config.d_dropout)
    if config.network in ("dcgan", "cdcgan"):
        g_kwargs.update(kernel_size=config.kernel_size, sync_batchnorm=config.sync_batchnorm)
        d_kwargs.update(kernel_size=config.kernel_size, batchnorm=config.d_batchnorm,
                        sync_batchnorm=config.sync_batchnorm, spectral_norm=config.spectral_norm)
        if config.g_filters:
            g_kwargs["filters"] = tuple(config.g_filters)
        if config.d_filters:
            d_kwargs["filters"] = tuple(config.d_filters)
    else:
        if config.spectral_norm:
            raise ConfigError(f"spectral_norm is an option of the dcgan and cdcgan networks, not {config.network!r}")
        if config.g_filters:
            g_kwargs["units"] = tuple(config.g_filters)
        if config.d_filters:
            d_kwargs["units"] = tuple(config.d_filters)
    if conditional:
        g_kwargs["num_classes"] = d_kwargs["num_classes"] = config.clusters or config.num_classes
    generator = nets.get_generator(config.network, **g_kwargs)
    if config.clusters:
        generator = features.self_conditioned(generator, config.clusters, prior=cluster_prior)
    gan = GAN(
        generator,
        nets.get_discriminator(config.network, **d_kwargs),
        latent_dim=config.latent_dim,
        seed=config.seed,
        ema_decay=config.ema_decay,
        num_classes=config.num_classes if conditional and not config.clusters else None,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        g_optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        loss=config.loss,
        d_steps=config.d_steps,
        clip_value=config.clip_value,
        gradient_penalty=config.gradient_penalty,
        r1_penalty=config.r1_penalty,
        r1_every=config.r1_every,
        mode_seeking=config.mode_seeking,
        label_smoothing=config.label_smoothing,
        instance_noise=config.instance_noise,
        instance_noise_steps=config.instance_noise_steps,
    )
    return gan


CLUSTERS_FILE = "clusters.npz"


def _clusters(config, workdir, image_shape):
    """`(centroids, prior, bytes to write or None)`: the run's own clusters on resume, else k-means.

    The ids the networks' embeddings learned are the clusters' indices, so a
    resumed run must label real batches with the same centroids even if the
    data, seed or k-means library changed: they are saved with the run.
    """
    import io

    import numpy as np

    from kgan import data, features

    path = os.path.join(workdir, CLUSTERS_FILE)
    if os.path.exists(path):
        try:
            with np.load(path) as f:
                centroids, prior = f["centroids"], f["prior"]
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{path} is unreadable ({e}): use a new output directory") from e
        if centroids.shape != (config.clusters, int(np.prod(image_shape))) or prior.shape != (config.clusters,):
            raise ConfigError(f"{path} holds centroids of shape {centroids.shape}, not {config.clusters} clusters "
                              f"of {tuple(image_shape)} images: use a new output directory")
        log.info("k-means: %d clusters from %s", config.clusters, path)
        return centroids, prior, None
    # A seeded random subset of at most MAX_FIT_IMAGES, drawn while reading (never the whole source in memory).
    images, _ = data.arrays(config.dataset, data_dir=config.data_dir, split=config.split, with_labels=False,
                            max_images=features.clusters.MAX_FIT_IMAGES, seed=config.seed)
    log.info("k-means: %d clusters of %d images", config.clusters, len(images))
    centroids, prior = features.fit_clusters(images, config.clusters, seed=config.seed)
    buf = io.BytesIO()
    np.savez(buf, centroids=centroids, prior=prior)
    return centroids, prior, buf.getvalue()


def check_workdir(workdir, config, image_shape):
    """Raises ConfigError if `workdir` holds a run whose settings can't continue as `config`."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is unreadable ({e}): use a new output directory") from e
    new = {**dataclasses.asdict(config), "image_shape": list(image_shape)}
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for key in _RESUME_KEYS:
        a, b = old.get(key, defaults.get(key)), new.get(key)  # a key added later has its default in older runs
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            a, b = list(a) if a else a, list(b) if b else b
        if a != b:
            raise ConfigError(
                f"{workdir} holds a run with {key}={a!r}, but this run asks for {key}={b!r}: "
                "use another output directory or the same setting"
            )


def default_callbacks(config, workdir, restore_dir=None, preemption=True, evaluator=None):
    """The callbacks that fill `workdir` (see the module docstring).

    `restore_dir` is the run directory checkpoints are restored from when it
    is not `workdir` (a non-chief worker writes into a temporary directory but
    resumes from the chief's checkpoints). `preemption=False` leaves out the
    SIGTERM handler: on a cluster one worker cannot save alone (the others wait
    in a collective), so a stopped multi-worker job resumes from its last checkpoint.
    """
    import keras

    from kgan import callbacks

    tb_dir = os.path.join(workdir, "tensorboard")
    ckpt = callbacks.Checkpoint(os.path.join(workdir, "checkpoints"), max_to_keep=config.keep_checkpoints,
                                save_every_steps=config.checkpoint_every_steps,
                                restore_directory=os.path.join(restore_dir, "checkpoints") if restore_dir else None)
    quality = [callbacks.QualityMetrics(evaluator, every_n_epochs=config.eval_every, num_samples=config.eval_samples,
                                        seed=config.seed)] if evaluator is not None else []
    return [
        ckpt,
        callbacks.DivergenceGuard(ckpt, rollback=config.on_nan == "rollback"),
        *([callbacks.TimeLimit(config.max_minutes, exclude=quality)] if config.max_minutes else []),
        *([callbacks.Preemption(ckpt)] if preemption else []),
        callbacks.SampleGrid(os.path.join(workdir, "samples"), num_images=config.num_samples,
                             every_n_epochs=config.sample_every, tensorboard_dir=tb_dir),
        *quality,
        callbacks.LossPlot(os.path.join(workdir, "losses.png")),
        keras.callbacks.CSVLogger(os.path.join(workdir, "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(tb_dir, write_graph=False),
    ]


def check_output_dir(directory):
    """StorageError unless `directory` exists as a writable directory or could be created (nothing is created)."""
    from kgan.errors import StorageError

    path = os.path.abspath(directory)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if not os.path.isdir(path):
        raise StorageError(f"cannot write to the output directory {directory}: {path} is a file, not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write to the output directory {directory}: {path} is not writable")


def _check_writable(directory):
    """Creates `directory` and proves a file can be written in it; StorageError otherwise."""
    import tempfile

    from kgan.errors import StorageError

    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as f:
            f.write(b"kgan")
    except OSError as e:
        raise StorageError(f"cannot write to the output directory {directory}: {e.strerror or e}") from e


def quality_evaluator(config):
    """A `kgan.eval.Evaluator` on the run's real, labelled data (the reference classifier trained or cached)."""
    from kgan import data, eval as eval_lib

    images, labels = data.arrays(config.dataset, data_dir=config.data_dir, split=config.split, with_labels=True)
    classifier, info = eval_lib.reference_classifier(images, labels, config.classifier_cache)
    log.info("reference classifier %s: held-out accuracy %.4f", info["path"], info["accuracy"])
    return eval_lib.Evaluator(classifier, images)


def train_and_evaluate(config, workdir, extra_callbacks=(), run_files=None, strategy=None):
    """Trains the GAN `config` describes, writing everything into `workdir`.

    Continues from the latest checkpoint in `workdir` if there is one. Returns
    `(gan, history)`. `run_files` ({name: text}) are written into `workdir`
    once the checks pass (the CLI keeps its flags there). Raises `ConfigError` (before writing anything) for bad
    settings, missing or corrupt data, or a workdir holding an incompatible run.
    `strategy` is the one `config.strategy` names, if the caller made it already.
    """
    config.validate()
    check_output_dir(workdir)
    from kgan import data, distribute  # noqa: E402  (strategy before any TF op)

    if strategy is None:
        strategy = distribute.make_strategy(config.strategy, config.cpu_replicas, tpu=config.tpu,
                                            timeout_s=config.connect_timeout)
    distribute.check_global_batch(config.batch_size, strategy)
    chief = distribute.is_chief(strategy)
    write_dir = distribute.worker_dir(workdir, strategy)

    import keras

    from kgan import nets

    ds = data.load(config.dataset, batch_size=config.batch_size, data_dir=config.data_dir, split=config.split,
                   seed=config.seed, with_labels=config.network in nets.CONDITIONAL and not config.clusters)
    image_shape = data.image_shape(ds)
    check_workdir(workdir, config, image_shape)
    cluster_prior = clusters_bytes = None
    if config.clusters:
        centroids, cluster_prior, clusters_bytes = _clusters(config, workdir, image_shape)
        from kgan import features

        ds = features.label_batches(ds, centroids)

    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    with strategy.scope():
        gan = build_gan(config, image_shape, cluster_prior)

    _check_writable(write_dir)
    from kgan.io import atomic_write

    if chief:
        atomic_write(os.path.join(workdir, "config.json"),
                     json.dumps({**dataclasses.asdict(config), "image_shape": list(image_shape)},
                                indent=2, sort_keys=True, default=list))
        if clusters_bytes is not None:
            atomic_write(os.path.join(workdir, CLUSTERS_FILE), clusters_bytes)
        for name, text in (run_files or {}).items():
            atomic_write(os.path.join(workdir, name), text)
    if config.steps_per_epoch:
        ds = ds.repeat()  # a capped epoch continues where the last one stopped
    log.info("training %s%s (%s loss) on %s %s with global batch %d on %d replica(s) into %s",
             config.network, f" self-conditioned on {config.clusters} clusters" if config.clusters else "",
             config.loss, config.dataset, image_shape, config.batch_size, strategy.num_replicas_in_sync, workdir)
    evaluator = quality_evaluator(config) if config.eval_every else None
    cbs = default_callbacks(config, write_dir, restore_dir=None if chief else workdir,
                            preemption=not distribute.task_name(strategy), evaluator=evaluator)
    try:
        history = gan.fit(
            ds,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            shuffle=False,  # the dataset shuffles itself
            callbacks=cbs + list(extra_callbacks),
            verbose=config.verbose if chief else 0,
        )
    finally:
        if not chief:
            import shutil

            shutil.rmtree(write_dir, ignore_errors=True)
    return gan, history


def load_run(workdir):
    """Rebuilds the GAN of the run in `workdir` and restores its latest checkpoint.

    Returns `(gan, config)`. Raises `ConfigError` when `workdir` holds no run
    or no checkpoint.

    Example:

    ```python
    gan, config = kgan.train.load_run("runs/dcgan")
    images = gan.generate(16, seed=0)
    ```
    """
    from kgan import callbacks

    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"{workdir} holds no training run (no config.json): pass the --output_dir of a train.py run")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is unreadable: {e}") from e
    image_shape = tuple(saved.pop("image_shape"))
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in saved.items() if k in fields})
    ckpt_dir = os.path.join(workdir, "checkpoints")
    if not tf_latest_checkpoint(ckpt_dir):
        raise ConfigError(f"{workdir} has no checkpoint in {ckpt_dir}: train at least one epoch first")
    gan = build_gan(config, image_shape)
    ckpt = callbacks.Checkpoint(ckpt_dir)
    ckpt.set_model(gan)
    ckpt.restore()
    return gan, config


def tf_latest_checkpoint(directory):
    import tensorflow as tf

    return tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None
