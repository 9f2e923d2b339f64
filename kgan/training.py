"""The training loop: `train_and_evaluate(config, workdir)`.

`train_and_evaluate` checks a `kgan.config.TrainConfig`, builds the strategy,
data, networks and GAN, and runs `fit` with the callbacks that fill `workdir`
(its layout: `kgan.workdir`). Running it again on the same workdir continues
from the latest checkpoint.

With `strategy="multi_worker"` every worker calls `train_and_evaluate` with
the same config and workdir (on a shared filesystem): the chief writes the
run's files, the other workers write into `workdir/.worker-<type>-<id>/`,
removed when training ends, and resume from the chief's checkpoints.
"""

import logging
import shutil

import keras

from kgan import callbacks, data, distribute, features, nets, optimizers, workdir as workdir_lib
from kgan import eval as eval_lib
from kgan.errors import ConfigError
from kgan.gan import GAN
from kgan.io import atomic_write

log = logging.getLogger(__name__)


def build_gan(config, image_shape, cluster_prior=None, **compile_kwargs):
    """Builds and compiles the `GAN` that `config` describes (call inside the strategy scope).

    `compile_kwargs` go to `GAN.compile` as well (e.g. `jit_compile=True`).

    The networks get their own arguments from `config.network_kwargs` (unset
    settings are not passed: the family's defaults apply). With
    `config.clusters`, `cluster_prior` is the clusters' shares (uniform if None:
    a checkpoint restores them).
    """
    conditional = config.network in nets.CONDITIONAL
    g_kwargs, d_kwargs = config.network_kwargs(image_shape)
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
    for network in (gan.generator, gan.discriminator):
        nets.fused.set_fused(network, config.fused_kernels)
    gan.compile(
        d_optimizer=optimizers.FusedAdam(config.d_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2,
                                         fused=config.fused_kernels),
        g_optimizer=optimizers.FusedAdam(config.g_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2,
                                         fused=config.fused_kernels),
        loss=config.loss,
        d_steps=config.d_steps,
        clip_value=config.clip_value,
        gradient_penalty=config.gradient_penalty,
        r1_penalty=config.r1_penalty,
        r1_every=config.r1_every,
        mode_seeking=config.mode_seeking,
        diff_augment=config.diff_augment or None,
        share_fakes=config.share_fakes,
        joint_d_call=config.joint_d_call,
        simultaneous=config.simultaneous,
        fused_ema=config.fused_kernels,
        label_smoothing=config.label_smoothing,
        instance_noise=config.instance_noise,
        instance_noise_steps=config.instance_noise_steps,
        **{"steps_per_execution": config.steps_per_execution, **compile_kwargs},
    )
    return gan


def image_size(config):
    """The (H, W) the run resizes its images to, or None."""
    return tuple(config.image_size) if config.image_size else None


def _clusters(config, workdir, image_shape, data_split):
    """`(centroids, prior, bytes to write or None)`: the run's own clusters on resume, else k-means.

    The ids the networks' embeddings learned are the clusters' indices, so a
    resumed run must label real batches with the same centroids even if the
    data, seed or k-means library changed: they are saved with the run.
    """
    saved = workdir_lib.read_clusters(workdir, config.clusters, image_shape)
    if saved is not None:
        log.info("k-means: %d clusters from %s", config.clusters, workdir_lib.path(workdir, workdir_lib.CLUSTERS))
        return (*saved, None)
    # A seeded random subset of at most MAX_FIT_IMAGES, drawn while reading (never the whole source in memory).
    images, _ = data.arrays(config.dataset, data_dir=config.data_dir, with_labels=False,
                            image_size=image_size(config), max_images=features.clusters.MAX_FIT_IMAGES,
                            seed=config.seed, **data_split["train"])
    log.info("k-means: %d clusters of %d images", config.clusters, len(images))
    centroids, prior = features.fit_clusters(images, config.clusters, seed=config.seed)
    return centroids, prior, workdir_lib.clusters_bytes(centroids, prior)


def default_callbacks(config, workdir, restore_dir=None, preemption=True, evaluator=None, cluster=None,
                      outputs=True):
    """The callbacks that fill `workdir` (see `kgan.workdir`).

    `restore_dir` is the run directory checkpoints are restored from when it
    is not `workdir` (a non-chief worker writes into a temporary directory but
    resumes from the chief's checkpoints). `preemption=False` leaves out the
    SIGTERM handler: on a cluster one worker cannot save alone (the others wait
    in a collective), so a stopped multi-worker job resumes from its last checkpoint.
    `outputs=False` leaves out what only writes files for people to look at (the
    sample grid, the loss plot, the CSV log, TensorBoard): a non-chief worker's,
    whose directory is removed when training ends. None of them takes part in a
    collective or in the decision to stop, so the workers stay in step.
    """
    path = workdir_lib.path
    tb_dir = path(workdir, workdir_lib.TENSORBOARD)
    ckpt = callbacks.Checkpoint(path(workdir, workdir_lib.CHECKPOINTS), max_to_keep=config.keep_checkpoints,
                                save_every_steps=config.checkpoint_every_steps,
                                restore_directory=path(restore_dir, workdir_lib.CHECKPOINTS) if restore_dir else None)
    quality = [callbacks.QualityMetrics(evaluator, every_n_epochs=config.eval_every, num_samples=config.eval_samples,
                                        seed=config.seed)] if evaluator is not None else []
    grid = [callbacks.SampleGrid(path(workdir, workdir_lib.SAMPLES), num_images=config.num_samples,
                                 every_n_epochs=config.sample_every, tensorboard_dir=tb_dir)] if outputs else []
    logs = [callbacks.LossPlot(path(workdir, workdir_lib.LOSSES)),
            callbacks.MetricsLog(path(workdir, workdir_lib.METRICS), append=True),
            callbacks.TensorBoard(tb_dir, write_graph=False)] if outputs else []
    return [
        ckpt,
        callbacks.DivergenceGuard(ckpt, rollback=config.on_nan == "rollback"),
        *([callbacks.TimeLimit(config.max_minutes, exclude=quality)] if config.max_minutes else []),
        *([callbacks.Preemption(ckpt)] if preemption else []),
        *([callbacks.ClusterPreemption(ckpt, cluster)] if cluster is not None else []),
        *grid,
        *quality,  # after the grid, before the logs: its metrics go into the plot, the CSV and TensorBoard
        *logs,
    ]


def quality_evaluator(config, data_split):
    """A `kgan.eval.Evaluator` for the run: the classifier on its training part, the real side its held-out part."""
    return eval_lib.run_evaluator(config.dataset, config.data_dir, data_split, config.classifier_cache,
                                  image_size=image_size(config))[0]


def train_and_evaluate(config, workdir, extra_callbacks=(), run_files=None, strategy=None):
    """Trains the GAN `config` describes, writing everything into `workdir`.

    Continues from the latest checkpoint in `workdir` if there is one. Returns
    `(gan, history)`. `run_files` ({name: text}) are written into `workdir`
    once the checks pass (the CLI keeps its flags there). Raises `ConfigError` (before writing anything) for bad
    settings, missing or corrupt data, or a workdir holding an incompatible run.
    `strategy` is the one `config.strategy` names, if the caller made it already.

    Example:

    ```python
    config = kgan.config.TrainConfig(dataset="mnist", data_dir="../shared/data/mnist", epochs=1)
    gan, history = kgan.training.train_and_evaluate(config, "runs/quick")
    ```
    """
    config.validate()
    workdir_lib.check_output_dir(workdir)
    if strategy is None:  # before any TF op: it may split the CPU into devices
        strategy = distribute.make_strategy(config.strategy, config.cpu_replicas, tpu=config.tpu,
                                            timeout_s=config.connect_timeout)
    distribute.check_global_batch(config.batch_size, strategy)
    distribute.check_steps_per_execution(config.steps_per_execution, strategy)
    chief = distribute.is_chief(strategy)
    with workdir_lib.run_lock(workdir, enabled=chief):  # one trainer per run directory, before anything is written
        return _train_locked(config, workdir, strategy, chief, extra_callbacks, run_files)


def _check_classes(config):
    """The labelled data's classes are the conditional network's: as many as `num_classes`.

    More crashed the first step (a label outside the embedding) after the run's files were written; fewer
    trained on classes with no images."""
    if data.source_for(config.dataset, config.data_dir) == "folder":
        classes = data.folder.class_names(config.data_dir)
        if len(classes) != config.num_classes:
            shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
            raise ConfigError(f"num_classes={config.num_classes}, but {config.data_dir} holds {len(classes)} class "
                              f"subfolders ({shown}): pass num_classes={len(classes)}")
        return
    found = data.num_classes(config.dataset, config.data_dir)
    if found is not None and found != config.num_classes:
        raise ConfigError(f"num_classes={config.num_classes}, but the labels of {config.data_dir or config.dataset} "
                          f"are 0-{found - 1}: pass num_classes={found}")


def _train_locked(config, workdir, strategy, chief, extra_callbacks, run_files):
    write_dir = distribute.worker_dir(workdir, strategy)

    data_split = workdir_lib.data_split(workdir, config)  # the images it trains on, and those held out for metrics
    labelled = config.network in nets.CONDITIONAL and not config.clusters
    if labelled:
        _check_classes(config)
    if config.eval_every:
        eval_lib.classifier.check_cache_dir(config.classifier_cache)
    ds = data.load(config.dataset, batch_size=config.batch_size, data_dir=config.data_dir, seed=config.seed,
                   image_size=image_size(config),
                   with_labels=labelled, **data_split["train"])
    image_shape = data.image_shape(ds)
    workdir_lib.check_workdir(workdir, config, image_shape)
    cluster_prior = clusters_bytes = None
    if config.clusters:
        centroids, cluster_prior, clusters_bytes = _clusters(config, workdir, image_shape, data_split)
        ds = features.label_batches(ds, centroids)

    keras.utils.set_random_seed(config.seed)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)  # the layers built now keep it
    try:
        with strategy.scope():
            gan = build_gan(config, image_shape, cluster_prior)
    finally:  # what is built later (the metrics' reference classifier) is not trained in it
        keras.mixed_precision.set_global_policy(policy)

    workdir_lib.check_writable(write_dir)
    callbacks.checkpoint.check_restorable(gan, workdir_lib.path(workdir, workdir_lib.CHECKPOINTS))  # before writing
    if chief:
        workdir_lib.write_config(workdir, config, image_shape, data_split)
        if clusters_bytes is not None:
            workdir_lib.write_clusters(workdir, clusters_bytes)
        for name, text in (run_files or {}).items():
            atomic_write(workdir_lib.path(workdir, name), text)
        workdir_lib.append_history(workdir, config, (run_files or {}).get(workdir_lib.FLAGS))
    if config.steps_per_epoch:
        ds = ds.repeat()  # a capped epoch continues where the last one stopped
    log.info("training %s%s (%s loss) on %s %s with global batch %d on %d replica(s) into %s",
             config.network, f" self-conditioned on {config.clusters} clusters" if config.clusters else "",
             config.loss, config.dataset, image_shape, config.batch_size, strategy.num_replicas_in_sync, workdir)
    log.info("data: %s", data.split.describe(data_split))
    evaluator = quality_evaluator(config, data_split) if config.eval_every else None
    cbs = default_callbacks(config, write_dir, restore_dir=None if chief else workdir,
                            preemption=not distribute.task_name(strategy), evaluator=evaluator,
                            cluster=strategy if distribute.task_name(strategy) else None, outputs=chief)
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
            shutil.rmtree(write_dir, ignore_errors=True)
    return gan, history
