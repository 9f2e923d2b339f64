"""`TrainConfig`: every setting of a training run, each defined once.

A setting is one dataclass field. Its metadata holds what the rest of kgan
needs to know about it:

- `help`: the text `--helpfull` shows (the command line's flags are generated
  from the fields, so a new field is a new flag);
- `choices`: the allowed values of an enum-like setting;
- `check`: the `kgan.checks` function (the one the code using the value calls)
  that `validate()` applies early, so bad input fails before data is read or
  anything is written.

Settings that are a network's own arguments (`g_filters`, `kernel_size`, ...)
default to None, "unset": they are not passed to the network family's
builders, whose own defaults apply (see `kgan.training.network_kwargs`).

>>> config = TrainConfig(network="mlp", g_filters=(32,), epochs=0)
>>> config.validate()
Traceback (most recent call last):
kgan.errors.ConfigError: epochs must be a positive integer, got 0
>>> TrainConfig(loss="hinge").validate().loss
'hinge'
"""

import dataclasses

from kgan import augment, checks, distribute, losses, nets
from kgan.errors import ConfigError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # Keras dtype policies `precision` takes


RESUME = ("match", "warn", "free")  # what a resumed run may do with a setting: see `setting`


def setting(default, help, check=None, choices=None, flag=True, *, resume):
    """A `TrainConfig` field: its default, its help text, and optionally its check and choices.

    `flag=False` keeps it off the command line (which sets it from its own flags).
    `resume` (required: every setting decides) is what resuming a run with another value does:
    "match" refuses it before anything is written (the network, its sizes, the loss: the
    checkpoint would not fit, or would mean something else); "warn" allows it and names
    it in one warning (what the coming epochs train with: batch, rates' companions,
    penalties); "free" allows it silently (how long, where, how often to write, how
    to run: epochs, outputs, devices). `kgan.workdir` derives its checks from these.
    """
    if resume not in RESUME:
        raise TypeError(f"resume must be one of {', '.join(RESUME)}, got {resume!r}")
    metadata = {"help": help, "flag": flag, "resume": resume}
    if check is not None:
        metadata["check"] = check
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


def _clusters(name, value):
    if not checks.is_int(value) or value < 0 or value == 1:
        raise ConfigError(f"{name} must be 0 (condition on labels, if at all) or an integer >= 2, got {value!r}")
    return value


def _ema_decay(name, value):
    return checks.fraction(name, value, hint=" (or None for no EMA)")


def _image_size(name, value):
    return checks.image_size(name, value)


def _diff_augment(name, value):
    return augment.DiffAugment.get(value)


def _min1(name, value):
    return checks.integer(name, value, min=1)


def _seed(name, value):
    """What numpy's and scikit-learn's generators accept (TensorFlow's take any int64)."""
    return checks.integer(name, value, min=0, max=2**32 - 1)


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run. `validate()` checks them.

    Example:

    ```python
    config = kgan.config.TrainConfig(dataset="mnist", data_dir="../shared/data/mnist", epochs=1)
    gan, history = kgan.training.train_and_evaluate(config, "runs/quick")
    ```
    """

    # data
    dataset: str = setting("mnist", "A TFDS image dataset name (mnist, fashion_mnist, ...), 'idx' or 'folder'.",
                           resume="match")
    data_dir: str | None = setting(None, "Local data: a folder of IDX files (e.g. ../shared/data/mnist) or of "
                                   "PNG/JPEG images; for TFDS names, the TFDS data directory.", resume="free")
    split: str | None = setting(None, "Which split to train on (default: all a local folder holds; TFDS: train).",
                                resume="warn")
    image_size: tuple[int, ...] | None = setting(
        None, "H,W (or one size, for a square): resize every image to H x W (area filter), e.g. 64,64 for a folder of mixed or larger images "
        "(default: the images' own size; not for IDX data).", _image_size, resume="warn")
    # networks: the family, then its own arguments (None: the family's default, not passed)
    network: str = setting("dcgan", f"Network family of G and D (kgan.nets.NETWORKS): {', '.join(nets.NETWORKS)}; "
                           f"conditional on labels or --clusters: {', '.join(sorted(nets.CONDITIONAL))}.", resume="match")
    latent_dim: int = setting(100, "Size of the latent vector z.", checks.positive_int, resume="match")
    g_filters: tuple[int, ...] | None = setting(
        None, "Generator widths (its `filters` argument): dcgan the dense projection, then one per transposed conv "
        "(one upsampling per doubling from a 4-8 px base; default by image size: 28 px the TF tutorial's 256,128,64, "
        "64 px the DCGAN paper's 512,256,128,64); mlp hidden units (default: the family's).", resume="match")
    d_filters: tuple[int, ...] | None = setting(
        None, "Discriminator widths (its `filters` argument): dcgan one strided conv each (default by image size: "
        "28 px 64,128, 64 px 64,128,256,512), mlp hidden units.", resume="match")
    kernel_size: int | None = setting(None, "Convolution kernel size of the convolutional families (default: the "
                                      "family's, 5 for dcgan).", checks.positive_int, resume="match")
    negative_slope: float | None = setting(None, "LeakyReLU negative slope in G and D (default: the family's, 0.2).",
                                           resume="warn")
    d_dropout: float | None = setting(None, "Dropout rate in D, in [0, 1) (default: the family's, 0.3).",
                                      checks.fraction, resume="warn")
    d_batchnorm: bool | None = setting(None, "BatchNorm in the discriminator (dcgan, cdcgan).", resume="match")
    sync_batchnorm: bool | None = setting(None, "Synchronize BatchNorm statistics across replicas (dcgan, cdcgan).",
                                          resume="warn")
    spectral_norm: bool | None = setting(None, "Spectral normalization on every D layer (dcgan, cdcgan).",
                                         resume="match")
    num_classes: int = setting(10, "Classes of a conditional network (cdcgan).",
                               lambda n, v: checks.integer(n, v, min=2), resume="match")
    clusters: int = setting(0, "Condition a conditional network (cdcgan) on this many k-means clusters of the "
                            "images instead of labels: an unconditional GAN to its users (kgan.features.clusters; "
                            "0 = off).", _clusters, resume="match")
    # objective
    loss: str = setting("non_saturating", f"GAN loss (kgan.losses.LOSSES): {', '.join(losses.LOSSES)}.",
                        resume="match")
    d_steps: int = setting(1, "Discriminator updates per generator update.", _min1, resume="warn")
    clip_value: float | None = setting(None, "Clip D weights to [-c, c] after each update (WGAN; default 0.01 for "
                                       "the wasserstein loss without gradient penalty).", checks.positive,
                                       resume="warn")
    gradient_penalty: float = setting(0.0, "WGAN-GP weight lambda (10 in the paper; 0 = off).", checks.weight,
                                      resume="warn")
    r1_penalty: float = setting(0.0, "R1 penalty weight gamma on real data (0 = off).", checks.weight, resume="warn")
    r1_every: int = setting(1, "Apply R1 every this many D steps (lazy regularization).", _min1, resume="warn")
    mode_seeking: float = setting(0.0, "MSGAN weight lambda: penalize G for alike images from one label and two "
                                  "latents (for conditional GANs that ignore z; 0 = off).", checks.weight,
                                  resume="warn")
    diff_augment: str = setting("", "DiffAugment policy (Zhao et al. 2020; kgan.augment): comma-separated color, "
                                "translation, cutout; every image D sees, real and fake, is augmented differentiably "
                                "(small datasets). Empty = off.", _diff_augment, resume="warn")
    share_fakes: bool = setting(False, "G's update scores the fakes of the last D update (judged by the updated D) "
                                "instead of generating its own: one G forward pass per step instead of two "
                                "(as the PyTorch DCGAN example).", resume="warn")
    joint_d_call: bool = setting(True, "D scores the real and the fake batch in one call on [real; fake] (if D has no "
                                 "BatchNorm, which would mix their statistics). --nojoint_d_call: two calls, so D's "
                                 "pass on the real batch can run beside G's forward pass; the same update but for D's "
                                 "random draws (dropout masks, DiffAugment).", resume="warn")
    simultaneous: bool = setting(False, "The last D update and the G update from one generated batch and one D pass, "
                                 "both gradients taken before either update (the TF DCGAN tutorial's step; "
                                 "simultaneous, not alternating, updates): one D pass on the fakes per step fewer. "
                                 "Makes --share_fakes moot.", resume="warn")
    fused_kernels: bool = setting(True, "Train through TensorFlow's fused kernels: each variable's Adam update "
                                  "(kgan.optimizers.FusedAdam), the EMA's update and BatchNorm's training pass "
                                  "(kgan.nets.batchnorm): the same arithmetic as Keras's own ops up to float "
                                  "rounding; and D's dropout masks from 16-bit random numbers (kgan.nets.dropout: "
                                  "the same mask distribution, another random stream). Fewer ops per step "
                                  "(bench/step_levers.py variant fused). --nofused_kernels: Keras's own ops.",
                                  resume="warn")
    label_smoothing: float = setting(0.0, "One-sided label smoothing s: real targets 1 - s (cross-entropy losses).",
                                     checks.fraction, resume="warn")
    instance_noise: float = setting(0.0, "Std of Gaussian noise on D's inputs, decaying linearly to 0.", checks.weight,
                                    resume="warn")
    instance_noise_steps: int = setting(10_000, "D steps over which the instance noise decays to 0.", _min1,
                                        resume="warn")
    ema_decay: float | None = setting(None, "Keep an EMA of G's weights with this decay (e.g. 0.999) for samples "
                                      "and export; unset = off.", _ema_decay, resume="match")
    precision: str = setting("float32", "Keras dtype policy the networks train with (weights stay float32; "
                             "exports are float32): mixed_float16 for GPUs with tensor cores (losses scaled), "
                             "mixed_bfloat16 for CPUs with AMX or AVX512-BF16 (bench/step_levers.py).",
                             choices=PRECISIONS, resume="warn")
    # optimization
    epochs: int = setting(20, "Passes over the data.", checks.positive_int, resume="free")
    steps_per_epoch: int | None = setting(None, "Cap on generator steps per epoch, for quick runs.",
                                          checks.positive_int, resume="free")
    steps_per_execution: int = setting(
        1, "Training steps per call into TensorFlow (Keras's steps_per_execution): fewer Python round trips and "
        "device syncs per step; callbacks, checkpoints, SIGTERM and --max_minutes then act every this many steps.",
        _min1, resume="free")
    batch_size: int = setting(256, "Global batch size, split over all replicas.",
                              resume="warn")  # checked by kgan.data.load
    d_learning_rate: float = setting(2e-4, "Adam learning rate of D (a larger D rate than G rate is TTUR).",
                                     checks.positive, resume="free")
    g_learning_rate: float = setting(2e-4, "Adam learning rate of G.", checks.positive, resume="free")
    beta_1: float = setting(0.5, "Adam beta_1 of both optimizers.", checks.fraction, resume="warn")
    beta_2: float = setting(0.999, "Adam beta_2 of both optimizers.", checks.fraction, resume="warn")
    seed: int = setting(0, "Seeds weights, data order and noise: the same seed gives the same run.", _seed,
                        resume="warn")
    # distribution
    strategy: str = setting("auto", "tf.distribute strategy; auto = mirrored with more than one GPU or "
                            "--cpu_replicas > 1; multi_worker = MultiWorkerMirroredStrategy over the cluster in "
                            "TF_CONFIG (try it locally with launch.py); tpu = TPUStrategy on --tpu (untested: no TPU "
                            "here).", choices=distribute.STRATEGIES, resume="free")
    cpu_replicas: int = setting(1, "Split the CPU into this many logical devices (mirrored training without GPUs).",
                                _min1, resume="free")
    tpu: str = setting("", "--strategy=tpu: the TPU name or grpc:// address (empty on a TPU VM).", resume="free")
    connect_timeout: int = setting(120, "--strategy=multi_worker: seconds to wait for the other workers (at start "
                                   "and in each collective) before failing.", checks.positive_int, resume="free")
    # outputs
    num_samples: int = setting(64, "Images in each sample grid.", checks.positive_int, resume="free")
    sample_every: int = setting(1, "Write a sample grid every this many epochs.", checks.positive_int, resume="free")
    checkpoint_every_steps: int | None = setting(None, "Also checkpoint every this many steps (default: each "
                                                 "epoch).", checks.positive_int, resume="free")
    keep_checkpoints: int = setting(3, "How many recent checkpoints to keep.", checks.positive_int, resume="free")
    on_nan: str = setting("stop", "When a loss turns NaN/inf: stop (exit 3, last good checkpoint kept) or roll back "
                          "to it and halve the learning rates.", choices=("stop", "rollback"), resume="free")
    verbose: int = setting(1, "Keras progress: 0 none, 1 a bar per step, 2 a line per epoch (the command line "
                           "sets it from --progress).", choices=(0, 1, 2), flag=False, resume="free")
    max_minutes: float | None = setting(None, "Stop after this many minutes of training (the epoch in progress "
                                        "ends early and is checkpointed); for equal-time comparisons. Default: no "
                                        "limit.", checks.positive, resume="free")
    # quality metrics (kgan.eval): 0 = off
    eval_every: int = setting(0, "Score samples with kgan's quality metrics (classifier score, FCD, precision/"
                              "recall, modes, C_T copying) against held-out images every N epochs; 0 = off. Holds out "
                              "--holdout of a one-split source.",
                              lambda n, v: checks.integer(n, v, min=0, hint=" (0: no quality metrics)"), resume="free")
    eval_samples: int = setting(10_000, "Generated images per quality evaluation (at least 100, as evaluate.py's "
                                "--num_samples).", lambda n, v: checks.integer(n, v, min=100), resume="free")
    classifier_cache: str = setting("~/.cache/kgan", "Where the reference classifier is cached (trained on first "
                                    "use from the real data, keyed by its checksum).", resume="free")
    # held-out images (kgan.data.split): what the metrics compare samples with; recorded in config.json
    holdout: float | None = setting(
        None, "Fraction of a one-split source (an IDX folder with one split, an image folder) set aside, seeded, "
        "never trained on: the real images the metrics compare samples with. Default: 0.2 with --eval_every "
        "(2,000 of 10,000 digits: enough reference images for FCD and the copying test, 80% left to train on), "
        "else 0. A source with a test split (TFDS mnist, an IDX folder with train and t10k files) trains on train "
        "and scores against test instead.", lambda n, v: checks.fraction(n, v, hint=" (or unset: 0.2 with "
                                                                          "eval_every)"), resume="free")
    holdout_seed: int = setting(0, "Seed of the --holdout choice (by index: the same images for every --seed).",
                                _seed, resume="free")

    def __post_init__(self):
        # One size is a square (`--image_size=48`), kept as H,W so that config.json and resuming compare alike.
        size = self.image_size
        one = size[0] if isinstance(size, (tuple, list)) and len(size) == 1 else size
        if checks.is_int(one) and one > 0:
            self.image_size = (int(one), int(one))

    def validate(self):
        """Raises `ConfigError` naming the first bad setting and what is allowed; returns self.

        Each field is checked by the function its metadata names (the one the
        code that uses the value calls); names (loss, network, strategy) by the
        registries that resolve them.
        """
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.default is None:
                continue  # unset
            if "choices" in field.metadata:
                checks.one_of(field.name, value, field.metadata["choices"])
            if "check" in field.metadata:
                field.metadata["check"](field.name, value)
        losses.get(self.loss)
        nets.family(self.network)  # an unknown name first
        for name, (g_arg, d_arg) in NETWORK_ARGS.items():  # named by setting, not by the builder's argument
            value = getattr(self, name)
            if value is None:
                continue
            try:
                nets.check_arguments(self.network, {g_arg: value} if g_arg else {}, {d_arg: value} if d_arg else {})
            except ConfigError as e:
                raise ConfigError(f"setting {name}={value!r} does not apply to network {self.network!r}: "
                                  f"{str(e).split(': ', 1)[-1]}") from None
        nets.check_arguments(self.network, *self.network_kwargs())
        if self.clusters and self.network not in nets.CONDITIONAL:
            raise ConfigError(f"clusters={self.clusters} conditions a conditional network on k-means clusters: "
                              f"use --network={' or '.join(sorted(nets.CONDITIONAL))}, not {self.network!r}")
        distribute.check_global_batch(self.batch_size, cpu_replicas=self.cpu_replicas)
        distribute.check_steps_per_execution(self.steps_per_execution, cpu_replicas=self.cpu_replicas)
        if self.steps_per_epoch and self.steps_per_epoch % self.steps_per_execution:
            # Keras would run whole executions: a capped epoch would silently take more steps than asked.
            raise ConfigError(f"steps_per_epoch={self.steps_per_epoch} must be a multiple of "
                              f"steps_per_execution={self.steps_per_execution}")
        return self

    def network_kwargs(self, image_shape=None):
        """`(generator kwargs, discriminator kwargs)`: the network family's own arguments this config sets.

        Unset (None) settings are left out, so the family's defaults apply; the
        builders check what they are given (`kgan.nets.check_arguments`).

        >>> TrainConfig(network="mlp", g_filters=(32,), d_dropout=0.0).network_kwargs((28, 28, 1))
        ({'latent_dim': 100, 'image_shape': (28, 28, 1), 'filters': (32,)}, {'image_shape': (28, 28, 1), 'dropout': 0.0})
        """
        g, d = {"latent_dim": self.latent_dim}, {}
        if image_shape is not None:
            g["image_shape"] = d["image_shape"] = tuple(image_shape)
        if self.network in nets.CONDITIONAL:
            g["num_classes"] = d["num_classes"] = self.clusters or self.num_classes
        for name, (g_arg, d_arg) in NETWORK_ARGS.items():
            value = getattr(self, name)
            if value is None:
                continue
            value = tuple(value) if isinstance(value, list) else value
            if g_arg:
                g[g_arg] = value
            if d_arg:
                d[d_arg] = value
        return g, d

    def network_setting(self, name):
        """The value setting `name` (in `NETWORK_ARGS`) gives the network: its own, or the family's default if
        unset; None if the family takes no such argument."""
        value = getattr(self, name)
        for params, arg in zip(nets.arguments(self.network), NETWORK_ARGS[name]):
            if arg and arg in params:
                return (params[arg] if value is None else value)
        return None

    @classmethod
    def from_dict(cls, values):
        """A config from a dict such as config.json holds (keys that are not settings are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = dict(values)
        if "mixed_precision" in values and "precision" not in values:  # config.json before `precision` (2026-12)
            values["precision"] = "mixed_float16" if values["mixed_precision"] else "float32"
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names})


# Settings that are arguments of the networks: setting -> (generator argument, discriminator argument).
# The same for every family; a family that does not take one refuses it when it is set.
NETWORK_ARGS = {
    "g_filters": ("filters", None),
    "d_filters": (None, "filters"),
    "kernel_size": ("kernel_size", "kernel_size"),
    "negative_slope": ("negative_slope", "negative_slope"),
    "d_dropout": (None, "dropout"),
    "d_batchnorm": (None, "batchnorm"),
    "sync_batchnorm": ("sync_batchnorm", "sync_batchnorm"),
    "spectral_norm": (None, "spectral_norm"),
}


def defaults():
    """{setting: default} of every `TrainConfig` field."""
    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}
