"""`GAN`: a `keras.Model` whose `train_step` alternates discriminator and generator updates.

One call of `train_step` makes `d_steps` discriminator updates (each on the
same real batch with fresh noise), then one generator update, each with its own
optimizer. It runs unchanged on one device, under `MirroredStrategy` and under
`MultiWorkerMirroredStrategy`:

- Losses are reduced over the *global* batch (`tf.nn.compute_average_loss`),
  so after the optimizer sums gradients across replicas, they are scaled as
  one device's with the same global batch.
- Noise for the global batch is drawn on every replica from the same seeded
  `keras.random.SeedGenerator`, and each replica takes its own rows. Only with
  synchronized BatchNorm (or none) and no dropout does a step on N replicas
  equal a step on one device (to float tolerance; `tests/test_gan.py`); the
  default recipe (dropout in D, per-replica BatchNorm in G unless
  `sync_batchnorm`) trains validly but not identically (`tests/test_claims.py`).

`train_step` reads as its stages: `_real_batch` (images and labels of the
data), `_d_step` (`_fake_inputs`: latents and their labels from the labeller;
`_with_instance_noise`; `_d_logits`; the loss; `_d_penalties`; the update),
`_g_step` (mode-seeking pairs, `_mode_seeking`, the update), `_update_ema` and
`_logs`. The core knows no conditioning feature: labels of generated images
come from a labeller (`kgan.labellers`), and label smoothing is a loss wrapper
(`kgan.losses.with_label_smoothing`).
"""

import logging

import keras
import numpy as np
import tensorflow as tf

from kgan import augment, checks, distribute, labellers
from kgan import losses as losses_lib
from kgan import optimizers
from kgan.errors import ConfigError
from kgan.losses import diversity, penalties

log = logging.getLogger(__name__)

FIT_TAKES = ("fit takes float images [N, H, W, C] in [-1, 1] (a numpy array or tensor, or a tf.data.Dataset of "
             "such batches, of (images, labels) batches for a conditional GAN), as kgan.data.load gives")


def _has_batchnorm(model):
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())


def _for_keras_reduction(logs):
    """Logs as `fit` can average them over replicas.

    Under `MultiWorkerMirroredStrategy` Keras 3 reduces each logged value with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars ("Invalid
    reduction dimension 0 for input with 0 dimensions", tensorflow#72388);
    shaped `[1]` they reduce to the scalar mean. Elsewhere scalars stay scalars.
    """
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        return {k: tf.reshape(v, [1]) for k, v in logs.items()}
    return logs


def _float32(x):
    """A network's output in float32 (a no-op unless a mixed dtype policy computes in 16 bits)."""
    return x if x.dtype == tf.float32 else tf.cast(x, tf.float32)


def _optimizer(name, value):
    """An optimizer from what `compile` got: None (the default FusedAdam), an optimizer, a name or a config."""
    if value is None:
        return optimizers.FusedAdam(2e-4, beta_1=0.5)
    try:
        return keras.optimizers.get(value)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{name} must be a Keras optimizer, its name (e.g. 'adam') or its config, got {value!r}") \
            from e


def _size(shape):
    """`[N, 28, 28, 1]`'s image size "28x28x1" (a `?` for an unknown dimension)."""
    return "x".join("?" if d is None else str(d) for d in shape) or "scalars"


def _to_unit_range(images):
    """Maps generator output from [-1, 1] to [0, 1]."""
    return keras.ops.clip((keras.ops.cast(images, "float32") + 1.0) / 2.0, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """A generative adversarial network trained with `fit`.

    Args:
        generator: a model mapping latents `[B, latent_dim]` to images in [-1, 1].
        discriminator: a model mapping images to one logit (or critic score) per image.
        latent_dim: size of the latent vector; defaults to the generator's input size.
        seed: seeds the training noise, so the same seed gives the same run.

        num_classes: for class-conditional networks (G takes `[latents,
            labels]`, D takes `[images, labels]`); batches are then
            `(images, labels)` and generated images get uniformly drawn labels
            (`fake_labels=kgan.labellers.UniformLabels(num_classes)`).
        fake_labels: where generated images get their labels for a conditional
            discriminator: a labeller (`kgan.labellers`). Default: uniform
            labels if `num_classes` is given, else the labeller a layer of the
            generator offers (a self-conditioned generator's
            `kgan.features.clusters.LatentCluster`), else none (unconditional).
            Real labels come from `(images, labels)` batches either way.
        ema_decay: if set (e.g. 0.999), keep an exponential moving average of
            the generator weights in `ema_generator`, used by `generate`,
            sample grids, evaluation and export; the raw `generator` stays.

    Logged metrics (progress bar, `History`, callbacks): `d_loss`, `g_loss`,
    `d_real` and `d_fake` (mean discriminator output on real and generated
    batches: a probability for the cross-entropy losses, a raw score for
    the Wasserstein loss), each averaged over the epoch so far.

    Example:

    ```python
    gan = kgan.GAN(kgan.nets.dcgan_generator(latent_dim=100), kgan.nets.dcgan_discriminator())
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                loss="non_saturating", d_steps=1)
    gan.fit(kgan.data.load("mnist", batch_size=256), epochs=20)
    images = gan.generate(16, seed=0)  # float32 [16, 28, 28, 1] in [0, 1]
    ```
    """

    def __init__(self, generator, discriminator, latent_dim=None, seed=0, ema_decay=None, num_classes=None,
                 fake_labels=None, **kwargs):
        super().__init__(**kwargs)
        if latent_dim is None:
            latent_dim = int(generator.inputs[0].shape[-1])
        self._given_fake_labels = fake_labels  # serialized by get_config; the defaults are derived again
        self.fake_labels = self._labeller(generator, discriminator, num_classes, fake_labels)
        # The number of classes users pick from (None when G derives its labels itself).
        self.num_classes = self.fake_labels.num_classes if self._labels_feed_g else None
        checks.positive_int("latent_dim", latent_dim)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if net.built and not net.trainable_weights:  # e.g. a model loaded frozen: fit failed deep in Keras
                raise ConfigError(f"the {name} has no trainable weights (frozen?): set {name}.trainable = True "
                                  "before building the GAN")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed = int(seed)
        self.noise_seed = keras.random.SeedGenerator(self.seed, name="noise_seed")
        if ema_decay is not None:
            checks.fraction("ema_decay", ema_decay, hint=" (or None for no EMA)")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_generator = None
        if self.ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            # Only the summary's row name: variable paths were fixed when the clone was built.
            self.ema_generator.name = f"ema_{generator.name}"
        self._joint_d_call = not _has_batchnorm(discriminator)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True

    @staticmethod
    def _labeller(generator, discriminator, num_classes, fake_labels):
        """The labeller of generated images (see `fake_labels`), bound to the networks; None if unconditional."""
        offered = labellers.offered_labeller(generator)
        if fake_labels is not None and num_classes is not None:
            raise ConfigError("pass num_classes or fake_labels to GAN, not both")
        if fake_labels is None and num_classes is not None:
            if offered is not None:
                raise ConfigError("this generator labels its images itself "
                                  f"({type(offered).__name__}): pass no num_classes to GAN")
            fake_labels = labellers.UniformLabels(num_classes)
        fake_labels = offered if fake_labels is None else fake_labels
        if fake_labels is not None:
            fake_labels.bind(generator, discriminator)
        if len(generator.inputs) == 2 and (fake_labels is None or not fake_labels.feeds_generator):
            raise ConfigError("this generator takes [latents, labels]: pass num_classes to GAN")
        return fake_labels

    @property
    def _labels_feed_g(self):
        return self.fake_labels is not None and self.fake_labels.feeds_generator

    # ------------------------------------------------------------------ setup
    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss="non_saturating",
        d_steps=1,
        clip_value=None,
        gradient_penalty=0.0,
        r1_penalty=0.0,
        r1_every=1,
        label_smoothing=0.0,
        instance_noise=0.0,
        instance_noise_steps=10_000,
        mode_seeking=0.0,
        diff_augment=None,
        share_fakes=False,
        joint_d_call=True,
        simultaneous=False,
        fused_ema=True,
        **kwargs,
    ):
        """Configures training.

        Args:
            d_optimizer, g_optimizer: Keras optimizers, or what `keras.optimizers.get` takes ("adam", a
                config dict) (default `kgan.optimizers.FusedAdam(2e-4, beta_1=0.5)`: Keras's Adam with each
                variable's update as one TensorFlow kernel).
                Different learning rates for D and G give two time-scale updates (TTUR).
            loss: a name in `kgan.losses.LOSSES` or a function
                `(real_logits, fake_logits) -> (d_loss, g_loss)`.
            d_steps: discriminator updates per generator update (>= 1).
            clip_value: if set, clip every discriminator weight to
                [-clip_value, clip_value] after each update (WGAN). Defaults to
                0.01 for `loss="wasserstein"` without a gradient penalty.
            gradient_penalty: weight λ of the WGAN-GP penalty (0 = off; 10 in the paper).
            r1_penalty: weight γ of the R1 penalty on real data (0 = off).
            r1_every: evaluate R1 every this many D steps, weighted by it (lazy regularization).
            label_smoothing: one-sided: real targets 1 - s for D (cross-entropy losses only).
            instance_noise: std of Gaussian noise added to D's inputs (real and
                fake), decaying linearly to 0 over `instance_noise_steps` D steps.
            mode_seeking: weight λ of the MSGAN diversity term on G (0 = off; 1 in
                the paper): each G batch is drawn as pairs with one label and two
                latents, and G is penalized when a pair's images are alike
                (`kgan.losses.diversity.mode_seeking`). Logged as `g_mode_seeking`.
            diff_augment: a DiffAugment policy (`kgan.augment`), e.g.
                "color,translation,cutout": every image D sees, real and fake, in D's and
                G's steps and inside the penalties, is augmented differentiably (None = off).
            share_fakes: the generator update scores the last discriminator update's fakes
                (with D after that update) instead of generating a new batch: one G forward
                pass per step instead of two, as the PyTorch DCGAN example does
                (https://github.com/pytorch/examples/tree/main/dcgan). The fakes are drawn
                as the G step draws them (paired for mode seeking).
            joint_d_call: D scores the real and the fake batch in one call on `[real; fake]`
                (True, if D has no BatchNorm: BatchNorm's batch statistics would mix the two;
                with it, always two calls). False: two calls, which lets D's pass on the
                real batch run beside G's forward pass. Both give the same update but for D's
                random draws (dropout masks, DiffAugment), which are drawn per call.
            simultaneous: the last D update and the G update are taken from one pass, as the
                TensorFlow DCGAN tutorial's step does
                (https://www.tensorflow.org/tutorials/generative/dcgan): one generated batch,
                D's logits on it feed both losses, and both gradients are taken before either
                update, so G's loss scores its fakes with D as it was before this step's update
                (simultaneous rather than alternating gradient descent). One D pass on the fakes
                per step instead of two, and D's update no longer waits in front of G's; the
                fakes are drawn as the G step draws them (paired for mode seeking), so
                `share_fakes` is moot. With `d_steps > 1` the first `d_steps - 1` D updates
                stay alternating. With `instance_noise`, G's loss then scores the noised fakes
                D's loss does (the alternating G step scores them without noise).
            fused_ema: with an `ema_decay`, each EMA weight's update is one TensorFlow kernel
                (`ema -= (1 - decay)(ema - w)`, the same average as `decay ema + (1 - decay) w` up
                to float rounding) instead of four ops. False: the four ops.

        Under a `mixed_float16` policy both optimizers are wrapped in
        `LossScaleOptimizer` and both losses scaled (Keras wraps only one). Under
        either mixed policy the losses are computed in float32.
        """
        if "optimizer" in kwargs:
            raise ConfigError("a GAN takes two optimizers, d_optimizer= and g_optimizer=, not optimizer=")
        unused = sorted(k for k in ("metrics", "weighted_metrics", "loss_weights") if kwargs.get(k) is not None)
        if unused:  # Keras would accept and never compute them: the step logs d_loss, g_loss, d_real, d_fake
            raise ConfigError(f"{', '.join(unused)}: a GAN's step has no targets to score; it logs d_loss, g_loss, "
                              "d_real and d_fake (kgan.eval and kgan.callbacks.QualityMetrics score samples)")
        d_optimizer = _optimizer("d_optimizer", d_optimizer)
        g_optimizer = _optimizer("g_optimizer", g_optimizer)
        if d_optimizer is g_optimizer:
            raise ConfigError("d_optimizer and g_optimizer must be two different optimizer objects")
        self.loss_fn = losses_lib.get(loss)
        self._compiled_loss = self.loss_fn  # what `compile` got, before wrappers (saved by get_compile_config)
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
        self.d_steps = checks.integer("d_steps", d_steps, min=1)
        for name, value in (("gradient_penalty", gradient_penalty), ("r1_penalty", r1_penalty),
                            ("instance_noise", instance_noise), ("mode_seeking", mode_seeking)):
            checks.weight(name, value)
        for name, value in (("r1_every", r1_every), ("instance_noise_steps", instance_noise_steps)):
            checks.integer(name, value, min=1)
        if label_smoothing != 0:  # its range and loss are checked by the wrapper
            self.loss_fn = losses_lib.with_label_smoothing(self.loss_fn, label_smoothing)
        self.gradient_penalty = float(gradient_penalty)
        self.r1_penalty = float(r1_penalty)
        self.r1_every = int(r1_every)
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = int(instance_noise_steps)
        self.mode_seeking = float(mode_seeking)
        self.diff_augment = augment.DiffAugment.get(diff_augment)
        for name, value in (("share_fakes", share_fakes), ("joint_d_call", joint_d_call),
                            ("simultaneous", simultaneous), ("fused_ema", fused_ema)):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be True or False, got {value!r}")
        self.share_fakes = share_fakes
        self.joint_d_call = joint_d_call
        self.simultaneous = simultaneous
        self.fused_ema = fused_ema
        self._joint_d_call = joint_d_call and not _has_batchnorm(self.discriminator)
        if clip_value is None and self.loss_name == "wasserstein" and not self.gradient_penalty:
            clip_value = 0.01
        if clip_value is not None and not clip_value > 0:
            raise ConfigError(f"clip_value must be > 0 (or None for no clipping), got {clip_value!r}")
        self.clip_value = clip_value
        self._set_clipping(clip_value)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            if not isinstance(d_optimizer, keras.optimizers.LossScaleOptimizer):
                d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
            if not isinstance(g_optimizer, keras.optimizers.LossScaleOptimizer):
                g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
        # `optimizer=g_optimizer` makes Keras callbacks (TensorBoard steps,
        # BackupAndRestore) see the generator step count.
        super().compile(optimizer=g_optimizer, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Optimizer slots are created lazily, which fails inside a distributed
        # train_step: build them now, in the scope the model was made in.
        with self.distribute_strategy.scope():
            d_optimizer.build(self.discriminator.trainable_variables)
            g_optimizer.build(self.generator.trainable_variables)

    def _set_clipping(self, clip_value):
        # A variable constraint is applied by the optimizer right after its
        # update, in the right distribution context.
        constraint = None
        if clip_value is not None:
            c = float(clip_value)
            constraint = lambda w: keras.ops.clip(w, -c, c)  # noqa: E731
        for v in self.discriminator.trainable_variables:
            v.constraint = constraint

    # The EMA copy is trained by `_update_ema`, not by gradients: Keras's counts
    # (`summary()`'s "Trainable params", `count_params`) leave it out. The copy itself
    # stays trainable, so a saved `sampling_generator` loads ready to train.
    @property
    def trainable_weights(self):
        return [w for w in super().trainable_weights if not self._is_ema(w)]

    trainable_variables = trainable_weights  # Keras's two are the same list for a model's trainable state

    @property
    def non_trainable_weights(self):
        return super().non_trainable_weights + self._ema_weights()

    @property
    def non_trainable_variables(self):
        return super().non_trainable_variables + self._ema_weights()

    def _ema_weights(self):
        return [w for w in super().trainable_weights if self._is_ema(w)]

    def _is_ema(self, variable):
        ema = getattr(self, "ema_generator", None)
        return ema is not None and any(variable is v for v in ema.trainable_weights)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skips Keras's symbolic build: a `GAN` is built when made and compiles no loss or metric.

        Under a strategy, Keras 3 `fit` first draws a batch and reduces it
        across replicas (`strategy.reduce("MEAN", batch)`) only to build the
        model from its shapes. `MultiWorkerMirroredStrategy` cannot reduce a
        tuple, so every `(images, labels)` batch (conditional and
        self-conditioned GANs) failed with "Attempt to convert a value
        (PerReplica...) to a Tensor". With nothing left to build, there is
        nothing to reduce.
        """
        built = all(layer.built for layer in self._flatten_layers()) and getattr(self.optimizer, "built", True)
        if built and getattr(self, "_compile_loss", None) is None and getattr(self, "_compile_metrics", None) is None:
            return
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --------------------------------------------------------------- training
    def call(self, inputs, training=False):
        """Runs the generator: latents `[B, latent_dim]` (or `[latents, labels]`) to images in [-1, 1].

        So `gan(z)` and `gan.predict(z)` give the raw [-1, 1] output (the range
        the discriminator sees), while `generate` gives images in [0, 1].
        """
        return self.generator(inputs, training=training)

    def _replica_draw(self, draw, local_batch, shape=()):
        """This replica's rows of a global-batch draw `draw(shape, seed=noise_seed)`.

        Every replica draws the whole global batch from the same seed state and
        keeps its own rows, so N replicas see exactly the noise one device sees.
        """
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        z = draw((local_batch * replicas, *shape), seed=self.noise_seed)
        if replicas == 1:
            return z
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
        return z[start : start + local_batch]

    def _G(self, z, labels, training):
        # float32 out whatever the networks compute in (mixed policies): losses and penalties run in float32
        return _float32(self.generator([z, labels] if self._labels_feed_g else z, training=training))

    def _D(self, images, labels, training=True, groups=1):
        # DiffAugment on every D input; `images` holds `groups` blocks of rows (2 for [real; fake]).
        if getattr(self, "diff_augment", None) is not None:
            images = self.diff_augment(images, self.noise_seed, groups=groups)
        return _float32(self.discriminator([images, labels] if labels is not None else images, training=training))

    def _replica_noise(self, local_batch):
        return self._replica_draw(keras.random.normal, local_batch, (self.latent_dim,))

    def _fake_inputs(self, local_batch, g_step=False):
        """Latents and their labels (None if unconditional) for a batch of fakes.

        A D step draws labels before latents, the G step after (and pairs them for mode seeking):
        the order of draws from the seed is kept, so a seed gives the numbers it always gave.
        """
        labeller = self.fake_labels
        if labeller is None:
            return self._replica_noise(local_batch), None

        def sample(draw, shape=()):
            return self._replica_draw(draw, local_batch, shape)

        if not g_step:
            labels = labeller.draw(sample, local_batch)
            z = self._replica_noise(local_batch)
        else:
            z = self._replica_noise(local_batch)
            labels = labeller.draw(sample, local_batch)
            if self.mode_seeking:
                z, labels = labeller.pair(z, labels)
        return z, labeller(z, labels)

    def _real_batch(self, data):
        """`(images, labels or None, local batch size)` of a batch; a conditional GAN needs labels."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        real_labels = None
        if self.fake_labels is not None:
            if not isinstance(data, (tuple, list)) or len(data) < 2:
                raise ConfigError(self.fake_labels.missing_labels)
            real_labels = tf.cast(data[1], tf.int32)
        local_batch = real.shape[0] if real.shape[0] is not None else tf.shape(real)[0]
        return real, real_labels, local_batch

    def _with_instance_noise(self, images, local_batch):
        """`images` plus Gaussian noise whose std decays linearly from `instance_noise` to 0."""
        step = tf.cast(self.d_optimizer.iterations, tf.float32)
        std = self.instance_noise * tf.maximum(0.0, 1.0 - step / float(self.instance_noise_steps))
        noise = self._replica_draw(keras.random.normal, local_batch, tuple(images.shape[1:]))
        return images + tf.cast(std, images.dtype) * tf.cast(noise, images.dtype)

    def _d_logits(self, real, real_labels, fake, fake_labels, local_batch):
        """D's logits on the real and the fake batch."""
        if not self._joint_d_call:
            return self._D(real, real_labels), self._D(fake, fake_labels)
        # One D call on [real; fake]: same result when D treats examples
        # independently (no BatchNorm), and faster.
        both = self._D(tf.concat([real, tf.cast(fake, real.dtype)], 0),
                       None if real_labels is None else tf.concat([real_labels, fake_labels], 0), groups=2)
        return both[:local_batch], both[local_batch:]

    def _d_penalties(self, real, fake, labels, local_batch):
        """Per-example gradient penalties (already weighted), or None."""

        def d_fn(images, training=True):
            return self._D(images, labels, training)

        total = None
        if self.gradient_penalty:
            alpha = self._replica_draw(keras.random.uniform, local_batch)
            total = self.gradient_penalty * penalties.gradient_penalty(d_fn, real, fake, alpha)
        if self.r1_penalty:
            weight = self.r1_penalty * self.r1_every

            def r1():
                return weight * penalties.r1_penalty(d_fn, real)

            if self.r1_every == 1:
                r1_term = r1()
            else:
                due = tf.equal(self.d_optimizer.iterations % self.r1_every, 0)
                r1_term = tf.cond(due, r1, lambda: tf.zeros([local_batch], tf.float32))
            total = r1_term if total is None else total + r1_term
        return total

    def _mode_seeking(self, images, z, local_batch):
        """MSGAN term per pair `[pairs]`, and weighted per example `[batch]` (0 for an odd last row).

        Pairs are neighbouring rows (2i, 2i + 1), which differ in z and share a label; with an
        even per-replica batch, N replicas form the same pairs as one device.
        """
        half = local_batch // 2
        ms = diversity.mode_seeking(images[: 2 * half : 2], images[1 : 2 * half : 2],
                                    z[: 2 * half : 2], z[1 : 2 * half : 2])
        # Each pair's term on both of its examples: the global mean is the mean over pairs.
        return ms, self.mode_seeking * tf.concat([tf.repeat(ms, 2), tf.zeros([local_batch - 2 * half])], 0)

    @staticmethod
    def _scaled(optimizer, loss):
        return optimizer.scale_loss(loss) if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else loss

    @staticmethod
    def _apply(tape, scaled_loss, optimizer, network):
        grads = tape.gradient(scaled_loss, network.trainable_variables)
        optimizer.apply_gradients(zip(grads, network.trainable_variables))

    def _d_objective(self, real, real_labels, fake, fake_labels, local_batch):
        """D's scaled loss on `real` and `fake` (inside its tape), and what the logs and the G step need."""
        real_in, fake_in = real, fake
        if self.instance_noise:
            real_in = self._with_instance_noise(real, local_batch)
            fake_in = self._with_instance_noise(fake, local_batch)
        real_logits, fake_logits = self._d_logits(real_in, real_labels, fake_in, fake_labels, local_batch)
        d_per_example, g_per_example = self.loss_fn(real_logits, fake_logits)
        penalty = self._d_penalties(real, tf.stop_gradient(fake), real_labels, local_batch)
        objective = d_per_example if penalty is None else d_per_example + penalty
        scaled = self._scaled(self.d_optimizer, tf.nn.compute_average_loss(objective))
        return scaled, dict(d_per_example=d_per_example, penalty=penalty, real_logits=real_logits,
                            fake_logits=fake_logits, g_per_example=g_per_example)

    def _d_step(self, real, real_labels, local_batch, fakes=None):
        """One discriminator update; returns what the logs and the G step need.

        `fakes`: `(images, labels)` to judge (`share_fakes`); default: a batch generated here.
        """
        if fakes is None:
            z, fake_labels = self._fake_inputs(local_batch)
            fake = self._G(z, fake_labels, training=True)
        else:
            fake, fake_labels = fakes
        with tf.GradientTape() as tape:
            scaled, d = self._d_objective(real, real_labels, fake, fake_labels, local_batch)
        self._apply(tape, scaled, self.d_optimizer, self.discriminator)
        return d

    def _g_objective(self, fake, z, labels, real_logits, local_batch, g_per_example=None):
        """The generator's scaled loss on its `fake` batch (inside its tape), and what the logs need.

        `g_per_example`: G's loss as already computed from D's logits on `fake` (`simultaneous`); default: D
        judges `fake` here."""
        if g_per_example is None:
            _, g_per_example = self.loss_fn(tf.stop_gradient(real_logits), self._D(fake, labels))
        objective = g_per_example
        ms = None
        if self.mode_seeking:
            ms, ms_per_example = self._mode_seeking(fake, z, local_batch)
            objective = g_per_example + ms_per_example
        scaled = self._scaled(self.g_optimizer, tf.nn.compute_average_loss(objective))
        return scaled, dict(g_per_example=g_per_example, mode_seeking=ms)

    def _g_step(self, real_logits, local_batch):
        """One generator update (the real logits of the last D step feed relativistic losses)."""
        z, labels = self._fake_inputs(local_batch, g_step=True)
        with tf.GradientTape() as tape:
            fake = self._G(z, labels, training=True)
            scaled, g = self._g_objective(fake, z, labels, real_logits, local_batch)
        self._apply(tape, scaled, self.g_optimizer, self.generator)
        return g

    def _shared_step(self, real, real_labels, local_batch):
        """`share_fakes`: one generated batch for the last D update and then the G update."""
        z, labels = self._fake_inputs(local_batch, g_step=True)
        with tf.GradientTape() as tape:
            fake = self._G(z, labels, training=True)
            with tape.stop_recording():  # D's update is not part of G's gradient
                d = self._d_step(real, real_labels, local_batch, fakes=(tf.stop_gradient(fake), labels))
            scaled, g = self._g_objective(fake, z, labels, d["real_logits"], local_batch)
        self._apply(tape, scaled, self.g_optimizer, self.generator)
        return d, g

    def _simultaneous_step(self, real, real_labels, local_batch):
        """`simultaneous`: the last D update and the G update from one generated batch and one D pass.

        Both gradients are taken before either update. G's loss comes from the very logits D's loss does;
        its gradient reaches G's weights only, and D's gradient D's weights only (the penalties see the fakes
        without a path to G)."""
        z, labels = self._fake_inputs(local_batch, g_step=True)
        with tf.GradientTape(persistent=True) as tape:
            fake = self._G(z, labels, training=True)
            d_scaled, d = self._d_objective(real, real_labels, fake, labels, local_batch)
            g_scaled, g = self._g_objective(fake, z, labels, None, local_batch, g_per_example=d["g_per_example"])
        d_grads = tape.gradient(d_scaled, self.discriminator.trainable_variables)
        g_grads = tape.gradient(g_scaled, self.generator.trainable_variables)
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        return d, g

    def _update_ema(self):
        """ema ← d·ema + (1 − d)·w for the generator's weights (statistics are copied).

        The decay ramps up as min(d, (1 + t) / (10 + t)) so early averages do
        not hold on to the random initialization. With `fused_ema` each weight's
        update is one kernel, ema −= (1 − d)(ema − w).
        """
        t = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
        pairs = list(zip(self.ema_generator.variables, self.generator.variables))

        def fn(ev, wv, trainable):
            if not trainable:
                return ev.assign(wv)
            if self.fused_ema:
                return tf.raw_ops.ResourceApplyGradientDescent(var=ev.handle, alpha=1.0 - decay, delta=ev - wv)
            return ev.assign(decay * ev + (1.0 - decay) * wv)

        def update(strategy, pairs):
            for e, w in pairs:
                strategy.extended.update(e.value, fn, args=(w.value, w.trainable), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)

    def _d_output(self, logits):
        logits = tf.cast(logits, tf.float32)
        if losses_lib.d_output(self.loss_fn) == "probability":
            return tf.reduce_mean(tf.sigmoid(logits))
        return tf.reduce_mean(logits)

    def _logs(self, d, g):
        """Updates the trackers with this replica's means (Keras sums them across replicas); the step's logs."""
        self.d_loss_tracker.update_state(tf.reduce_mean(d["d_per_example"]))
        self.g_loss_tracker.update_state(tf.reduce_mean(g["g_per_example"]))
        self.d_real_tracker.update_state(self._d_output(d["real_logits"]))
        self.d_fake_tracker.update_state(self._d_output(d["fake_logits"]))
        logs = {m.name: m.result() for m in self.metrics}
        if d["penalty"] is not None:
            logs["d_penalty"] = tf.reduce_mean(d["penalty"])
        if g["mode_seeking"] is not None:
            logs["g_mode_seeking"] = tf.reduce_mean(g["mode_seeking"])
        return _for_keras_reduction(logs)

    def fit(self, x=None, *args, **kwargs):
        """Keras's `fit`, on images in [-1, 1] (the generator's range) shaped as the generator's output.

        Integer images (uint8 in [0, 255]), images of another shape and data that is no array, tensor or
        `tf.data.Dataset` raise one `ConfigError` before training; float arrays with no negative value
        (images in [0, 1]) log a warning. `(images, labels)` is `fit(images, labels)`. A `tf.data.Dataset`
        is not reshuffled by default (it shuffles itself, as `kgan.data.load`'s does), so Keras's
        "shuffle=True was passed, but will be ignored" warning stays away. The progress bar is
        `kgan.callbacks.ProgbarLogger` (an epoch a callback stops early ends at the step it stopped on) unless
        `callbacks` holds one."""
        if isinstance(x, tuple) and len(x) == 2 and not args and kwargs.get("y") is None:
            x, kwargs["y"] = x  # (images, labels) arrays
        self._check_fit_data(x)
        y = kwargs.get("y", args[0] if args else None)
        if self.num_classes and isinstance(y, (np.ndarray, tf.Tensor, list)):
            y = self._fit_labels(y)  # one class index per image, in range: one line, not a graph error
            if "y" in kwargs:
                kwargs["y"] = y
            else:
                args = (y, *args[1:])
        if isinstance(x, tf.data.Dataset) and len(args) < 8 and "shuffle" not in kwargs:  # 9th: shuffle
            kwargs["shuffle"] = False
        distribute.check_steps_per_execution(self.steps_per_execution, self.distribute_strategy)
        cbs = kwargs.get("callbacks")
        if len(args) < 5 and (cbs is None or isinstance(cbs, (list, tuple))) and not any(  # 6th: callbacks
                isinstance(cb, keras.callbacks.ProgbarLogger) for cb in cbs or ()):
            from kgan.callbacks.progbar import ProgbarLogger

            kwargs["callbacks"] = [*(cbs or ()), ProgbarLogger()]  # a stopped epoch's bar ends where it stopped
        return super().fit(x, *args, **kwargs)

    def _fit_labels(self, y):
        """Labels given to `fit` as an array: int32 `[N]` (`[N, 1]`, as keras.datasets gives them, and whole-valued
        floats are taken as such), or a ConfigError naming the shape or the label outside the classes."""
        labels = np.asarray(y)
        shape = list(labels.shape)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise ConfigError(f"labels must be one class index per image, [N] or [N, 1], got shape {shape} "
                              "(one-hot labels: labels.argmax(-1))")
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype("int64")
        return self.check_labels(labels, len(labels))

    def predict(self, x, *args, **kwargs):
        """Keras's `predict`: the generator's raw output in [-1, 1] for latents `[N, latent_dim]` (with
        `[latents, labels]` for a conditional GAN). Latents of another shape are one `ConfigError` (Keras's own
        error comes from inside the graph)."""
        z = x[0] if isinstance(x, (list, tuple)) and x else x
        if isinstance(z, (np.ndarray, tf.Tensor)) and (len(z.shape) != 2 or z.shape[-1] != self.latent_dim):
            raise ConfigError(f"predict takes latents [N, {self.latent_dim}], got {list(z.shape)}")
        return super().predict(x, *args, **kwargs)

    def _check_fit_data(self, x):
        """Raises a ConfigError (see `fit`) for data `train_step` cannot train on correctly."""
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, tuple) and spec else spec  # (images, labels)
            if not isinstance(spec, tf.TensorSpec):
                raise ConfigError(f"{FIT_TAKES}; got a dataset of {type(spec).__name__}")
            self._check_images(spec.dtype, spec.shape, dataset=True)
        elif isinstance(x, (np.ndarray, tf.Tensor)):
            self._check_images(x.dtype, x.shape)
            low, high = (np.min(x), np.max(x)) if np.prod(x.shape) else (-1, 1)
            if low >= 0:
                log.warning("fit got images in [%.3g, %.3g], but the generator's outputs are in [-1, 1]: scale "
                            "them to [-1, 1] like kgan.data.load gives (x * 2 - 1 from [0, 1])", low, high)
        elif x is None or isinstance(x, (list, tuple, dict)):
            got = "no data" if x is None else f"a {type(x).__name__}"
            raise ConfigError(f"{FIT_TAKES}; got {got}")

    def _check_images(self, dtype, shape, dataset=False):
        dtype = tf.as_dtype(dtype)
        if not dtype.is_floating:
            scale = ("ds.map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1)" if dataset
                     else "x.astype('float32') / 127.5 - 1")
            raise ConfigError(f"fit takes float images in [-1, 1] like kgan.data.load gives, got {dtype.name} "
                              f"images: scale [0, 255] to [-1, 1] with {scale}")
        try:
            want = tuple(self.generator.output_shape[1:])
        except (AttributeError, ValueError, TypeError):  # a generator Keras knows no output shape of
            return
        shape = tf.TensorShape(shape)
        if shape.rank is None:
            return
        shape = tuple(shape.as_list())
        if dataset and len(shape) == len(want):  # no batch axis
            raise ConfigError(f"the dataset yields single {_size(shape)} images, but fit takes batches: "
                              "batch it, e.g. ds.batch(64)")
        images = shape[1:]
        if len(images) != len(want) or any(None not in (a, b) and a != b for a, b in zip(images, want)):
            hint = ": add a channel axis ([..., None])" if images + (1,) == want else ""
            raise ConfigError(f"images are {_size(images)}, but the generator makes {_size(want)}{hint}")

    def train_step(self, data):
        """`d_steps` discriminator updates, then one generator update (`share_fakes`: on the last D update's fakes;
        `simultaneous`: the last D update and G's taken together)."""
        real, real_labels, local_batch = self._real_batch(data)
        one_pass = self.simultaneous or self.share_fakes
        for _ in range(self.d_steps - one_pass):
            d = self._d_step(real, real_labels, local_batch)
        if self.simultaneous:
            d, g = self._simultaneous_step(real, real_labels, local_batch)
        elif self.share_fakes:
            d, g = self._shared_step(real, real_labels, local_batch)
        else:
            g = self._g_step(d["real_logits"], local_batch)
        if self.ema_generator is not None:
            self._update_ema()
        return self._logs(d, g)

    def test_step(self, data):
        raise NotImplementedError("GAN has no validation step: evaluate samples with kgan callbacks instead")

    # ------------------------------------------------------------- inference
    @property
    def sampling_generator(self):
        """The generator used for samples, evaluation and export (the EMA copy when kept)."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def checkpoint_state(self):
        """The training state a checkpoint must keep, as `{name: list of variables}`.

        `kgan.callbacks.Checkpoint` writes these (plus its epoch counter) with
        `tf.train.Checkpoint`: both networks (BatchNorm statistics and dropout
        seed states included), both optimizers' slots and step counters, the
        training noise's seed state and, with `ema_decay`, the EMA generator.
        Plain variable lists in the networks' own order do not depend on layer
        names (which vary with what else was built). The names and their order
        are a file format: checkpoints written by earlier kgan versions restore.
        Call after `compile`.
        """
        state = {
            "generator": list(self.generator.variables),
            "discriminator": list(self.discriminator.variables),
            "d_optimizer": list(self.d_optimizer.variables),
            "g_optimizer": list(self.g_optimizer.variables),
            "noise_seed": [self.noise_seed.state],
        }
        if self.ema_generator is not None:
            state["ema_generator"] = list(self.ema_generator.variables)
        return state

    def latents(self, num_images, seed=0):
        """The latent vectors `generate(num_images, seed)` uses, as a float32 numpy array.

        `seed` is any int64, as the exported `generate` signature's (which takes it modulo 2**31 - 2, as here)."""
        checks.positive_int("num_images", num_images)
        if not checks.is_int(seed) or not -(2**63) <= seed < 2**63:  # 1.5 was taken as 1, "3" failed inside Keras
            raise ConfigError(f"seed must be an integer (int64), got {seed!r}")
        z = keras.random.normal((int(num_images), self.latent_dim), seed=int(seed))
        return keras.ops.convert_to_numpy(z)

    def check_labels(self, labels, count):
        """Labels as int32 numpy `[count]`, or a ConfigError naming the bad one."""
        if not self.num_classes:
            if labels is not None:
                raise ConfigError("labels given, but this GAN is not class-conditional")
            return None
        if labels is None:
            return (np.arange(count) % self.num_classes).astype("int32")
        labels = np.asarray(labels).reshape(-1)
        if labels.size == 1 and count != 1:
            labels = np.repeat(labels, count)
        if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
            raise ConfigError(f"labels must be {count} integers, got {labels.dtype} {list(labels.shape)}")
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ConfigError(f"label {int(bad[0])} is outside [0, {self.num_classes})")
        return labels.astype("int32")

    def generate(self, num_images, seed=0, latents=None, batch_size=256, labels=None, truncation=None):
        """Generates images as float32 numpy `[num_images, H, W, C]` in [0, 1].

        The same `seed` gives the same images; pass `latents` to choose them.
        For a conditional GAN, `labels` (one per image, or one for all) picks
        the classes; by default they cycle 0, 1, ..., num_classes - 1.
        `truncation=psi` in [0, 1] shrinks the latents toward their mean by psi
        (the truncation trick, `kgan.sampling.truncate`; None or 1 = off): less
        variety, more typical images. A self-conditioned generator keeps its
        cluster component. The exported `generate` signature's `truncation`
        input computes the same.
        The generator runs in inference mode (BatchNorm moving averages).

        Range: `generate` returns [0, 1] (image convention), while calling the
        model (`gan(z)`, `gan.predict(z)`) returns the generator's raw [-1, 1]
        output, as Keras models return their network's output.
        """
        if latents is None:
            checks.positive_int("num_images", num_images)
            latents = self.latents(num_images, seed)
        latents = np.asarray(latents, dtype="float32")
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise ConfigError(f"latents must have shape [batch, {self.latent_dim}], got {list(latents.shape)}")
        if truncation is not None:
            from kgan import sampling

            latents = sampling.truncate(latents, truncation, keep=sampling._keep(self))
        labels = self.check_labels(labels, len(latents))
        out = []
        for i in range(0, len(latents), batch_size):
            inputs = latents[i : i + batch_size]
            if labels is not None:
                inputs = [inputs, labels[i : i + batch_size]]
            out.append(keras.ops.convert_to_numpy(_to_unit_range(self.sampling_generator(inputs, training=False))))
        return np.concatenate(out, axis=0)

    def write_samples(self, num, out, seed=0, format=None, batch_size=256, progress=True, truncation=None,
                      labels=None):
        """Writes `num` images as `out/000000.png ...` or one `out.npz` (uint8 `arr_0`); see `kgan.sampling`."""
        from kgan import sampling

        return sampling.write_samples(self, num, out, seed=seed, format=format, batch_size=batch_size,
                                      progress=progress, truncation=truncation, labels=labels)

    def interpolate(self, seeds, steps=8, truncation=None, label=None):
        """Images `[(len(seeds) - 1) * steps + 1, H, W, C]` in [0, 1] on great circles between the seeds' latents."""
        from kgan import sampling

        return sampling.interpolate(self, seeds, steps=steps, truncation=truncation, label=label)

    # ----------------------------------------------------------- serializing
    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "ema_decay": self.ema_decay,
            # A labeller GAN derived (from num_classes, or offered by G) is derived again on loading.
            "num_classes": self.num_classes if self._given_fake_labels is None else None,
            "fake_labels": None if self._given_fake_labels is None
            else keras.saving.serialize_keras_object(self._given_fake_labels),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "fake_labels"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self._loss_config(),
            "d_steps": self.d_steps,
            "clip_value": self.clip_value,
            "gradient_penalty": self.gradient_penalty,
            "r1_penalty": self.r1_penalty,
            "r1_every": self.r1_every,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "mode_seeking": self.mode_seeking,
            "diff_augment": self.diff_augment.policy if self.diff_augment is not None else None,
            "share_fakes": self.share_fakes,
            "joint_d_call": self.joint_d_call,
            "simultaneous": self.simultaneous,
            "fused_ema": self.fused_ema,
            # Keras's own compile settings, which its compile config would keep (a loaded GAN lost them)
            "steps_per_execution": int(self.steps_per_execution),
            "jit_compile": self.jit_compile,
        }

    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save`, refusing (before writing anything) a custom loss it could not reload and the
        legacy HDF5 format (the EMA generator shares the generator's layer names, which h5py refuses)."""
        if str(filepath).lower().endswith((".h5", ".hdf5")):
            raise ConfigError(f"cannot save a GAN to the HDF5 file {str(filepath)!r}: use a .keras file "
                              "(gan.generator.save(...) saves the generator alone)")
        if getattr(self, "compiled", False):
            self._loss_config()
        return super().save(filepath, *args, **kwargs)

    def _loss_config(self):
        """The compiled loss as saved: its name in `kgan.losses.LOSSES`, or a registered function's config.

        A custom loss must survive `save` / `load_model`: it is serialized when
        registered with `keras.saving.register_keras_serializable`; any other
        callable raises here (at save time) rather than being reloaded as a
        different objective.
        """
        loss = getattr(self, "_compiled_loss", self.loss_fn)
        for name, fn in losses_lib.LOSSES.items():
            if fn is loss:
                return name
        restored = None
        if getattr(loss, "__name__", None) != "<lambda>":  # Keras would pickle a lambda's bytecode
            try:
                config = keras.saving.serialize_keras_object(loss)
                restored = keras.saving.deserialize_keras_object(config)
            except Exception:  # noqa: BLE001 - Keras raises several types for unserializable objects
                restored = None
        # A function must come back as itself; a loss object (registered class with get_config) as its class.
        if restored is loss or (hasattr(loss, "get_config") and type(restored) is type(loss)):
            return config
        raise ConfigError(
            f"cannot save this GAN's custom loss {self.loss_name!r}: Keras can only reload a loss function "
            "registered with @keras.saving.register_keras_serializable() (or compile with a loss name: "
            f"{', '.join(sorted(losses_lib.LOSSES))})")

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if isinstance(config.get("loss"), dict):
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        self.compile(**config)
