"""Training and input-pipeline throughput: kgan.GAN vs a plain Keras train_step, side by side.

Both models train the TensorFlow DCGAN tutorial's networks (kgan.nets.dcgan_*
defaults) on the real MNIST digits at the same global batch, with the same
optimizers. The reference is written the keras.io way ("DCGAN overriding
train_step"): one concatenated D call on real+fake with noisy labels, a
BinaryCrossentropy loss object, then a G step. It runs twice: with
`training=True` on every network call (what the TF DCGAN tutorial passes and
kgan.GAN does: the yardstick), and as written on keras.io, without it, which
under Keras 3 means inference mode: D's dropout off, G's BatchNorm on its moving
statistics (less work, and not the same training). Rounds alternate the models
so all see the same machine load; ratios are medians of per-round ratios.

    python bench/throughput.py --data_dir=../shared/data/mnist

With `--size=64 --channels=3` both train the keras.io "DCGAN to generate face
images" networks instead (G: dense 8x8x128, 4x4 transposed convs 128 -> 256 ->
512 with LeakyReLU, a 5x5 conv to the image; D: 4x4 convs 64 -> 128 -> 128,
Dropout 0.2, a dense logit), on 64x64 RGB images: a folder with `--data_dir`
(e.g. from bench/make_rgb_set.py), else random pixels (the speed does not
depend on them). The keras.io G ends in a sigmoid and its D in one with a
probability loss; here G ends in tanh and D in a logit for both models (what
kgan.GAN expects), the same arithmetic.

    python bench/throughput.py --size=64 --channels=3 --data_dir=data/rgb64 --batch_size=64

Writes bench/results/throughput.json (throughput-64x64x3.json) and prints a Markdown table.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kgan  # noqa: E402


class KerasIoDCGAN(keras.Model):
    """The keras.io "DCGAN to generate face images" train_step, unchanged in substance."""

    def __init__(self, discriminator, generator, latent_dim, training=None):
        super().__init__()
        # As written on keras.io the networks are called without `training`: under Keras 3 that is
        # inference mode, so D's Dropout is off and G's BatchNorm uses its moving statistics (and never
        # updates them). `training=True` is what the TF DCGAN tutorial passes, and what kgan.GAN does.
        self.training = training
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = keras.ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors, training=self.training)
        combined_images = keras.ops.concatenate([generated_images, real_images], axis=0)
        labels = keras.ops.concatenate([keras.ops.ones((batch_size, 1)), keras.ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(keras.ops.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=self.training)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = keras.ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors, training=self.training),
                                             training=self.training)
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


REF = "keras.io-style train_step, training=True"
REF_AS_WRITTEN = "keras.io train_step as written (no training flag: dropout off, BatchNorm in inference mode)"


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def keras_io_networks(size=64, channels=3, latent_dim=128):
    """The keras.io 64x64 face DCGAN's G and D (tanh images, logit D), for any size divisible by 8."""
    from keras import layers

    D = keras.Sequential([
        keras.Input(shape=(size, size, channels)),
        layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1),
    ], name="discriminator")
    G = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense((size // 8) * (size // 8) * 128),
        layers.Reshape((size // 8, size // 8, 128)),
        layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(256, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(512, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(channels, kernel_size=5, padding="same", activation="tanh"),
    ], name="generator")
    return G, D


def build(kind, latent_dim=100, size=28, channels=1):
    if (size, channels) == (28, 1):
        G = kgan.nets.dcgan_generator(latent_dim=latent_dim)
        D = kgan.nets.dcgan_discriminator()
    else:
        latent_dim = 128
        G, D = keras_io_networks(size, channels, latent_dim)
    if kind == "kgan":
        model = kgan.GAN(G, D, latent_dim=latent_dim)
        model.compile(d_optimizer=adam(), g_optimizer=adam(), loss="non_saturating", d_steps=1, jit_compile=False)
    else:
        model = KerasIoDCGAN(D, G, latent_dim, training=True if kind == "reference_training" else None)
        model.compile(adam(), adam(), keras.losses.BinaryCrossentropy(from_logits=True))
        model.jit_compile = False
    return model


def time_fit(model, ds, steps):
    start = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def pipeline_rate(ds, batches):
    it = iter(ds)
    next(it)
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += int(next(it).shape[0])
    return n / (time.perf_counter() - start)


def main():
    import machine

    print("machine:", machine.describe(), flush=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(root), "shared", "data", "mnist"))
    p.add_argument("--batch_size", type=int, default=None, help="default: 256 for MNIST, 64 otherwise")
    p.add_argument("--size", type=int, default=28, help="image side: 28 (MNIST, the TF tutorial's networks) or "
                   "a multiple of 8 (the keras.io face DCGAN's networks)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="training steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None, help="default: bench/results/throughput.json "
                   "(throughput-<size>x<size>x<channels>.json for other sizes)")
    args = p.parse_args()
    mnist = (args.size, args.channels) == (28, 1)
    if args.batch_size is None:
        args.batch_size = 256 if mnist else 64
    if args.out is None:
        name = "throughput.json" if mnist else f"throughput-{args.size}x{args.size}x{args.channels}.json"
        args.out = os.path.join(root, "bench", "results", name)

    if mnist:
        ds = kgan.data.load("mnist", data_dir=args.data_dir, batch_size=args.batch_size, seed=0)
        source = "MNIST IDX"
    elif args.data_dir and os.path.isdir(args.data_dir) and kgan.data.folder.has_images(args.data_dir):
        ds = kgan.data.load("folder", data_dir=args.data_dir, batch_size=args.batch_size, seed=0,
                            image_size=(args.size, args.size))
        source = f"folder {args.size}x{args.size}x{args.channels}"
    else:
        import numpy as np

        pixels = np.random.default_rng(0).integers(0, 256, (2048, args.size, args.size, args.channels), np.uint8)
        ds = kgan.data.pipeline.finish(kgan.data.pipeline.from_arrays(pixels), len(pixels),
                                       batch_size=args.batch_size, seed=0)
        source = f"random {args.size}x{args.size}x{args.channels} in memory"
    if kgan.data.image_shape(ds) != (args.size, args.size, args.channels):
        p.error(f"the data is {kgan.data.image_shape(ds)}, not {args.size}x{args.size}x{args.channels}")
    for _ in ds:  # fill the cache
        pass
    models = {"kgan": build("kgan", size=args.size, channels=args.channels),
              REF: build("reference_training", size=args.size, channels=args.channels),
              REF_AS_WRITTEN: build("reference", size=args.size, channels=args.channels)}
    train_ds = ds.repeat()
    for m in models.values():
        time_fit(m, train_ds, 3)  # trace and warm up
    rates = {k: [] for k in models}
    for r in range(args.rounds):
        for name, m in models.items():
            rates[name].append(args.steps * args.batch_size / time_fit(m, train_ds, args.steps))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3g} img/s" for k, v in rates.items()), flush=True)
    ratios = {ref: statistics.median(a / b for a, b in zip(rates["kgan"], rates[ref])) for ref in (REF, REF_AS_WRITTEN)}
    pipe = pipeline_rate(train_ds, 2000)
    train_rate = statistics.median(rates["kgan"])
    result = {
        "image_shape": [args.size, args.size, args.channels],
        "networks": "TF DCGAN tutorial" if mnist else "keras.io face DCGAN",
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "images_per_s": {k: statistics.median(v) for k, v in rates.items()},
        "per_round": rates,
        "kgan_over_reference": ratios[REF],
        "kgan_over_reference_as_written": ratios[REF_AS_WRITTEN],
        "pipeline_images_per_s": pipe,
        "pipeline_over_training": pipe / train_rate,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print()
    print("| what | images/s (median) | kgan / it (median of per-round ratios) |")
    print("| --- | --- | --- |")
    for ref in (REF, REF_AS_WRITTEN):
        print(f"| {ref} | {result['images_per_s'][ref]:.3g} | {ratios[ref]:.3f} |")
    print(f"| kgan.GAN train_step | {result['images_per_s']['kgan']:.3g} | |")
    print(f"| kgan.data pipeline ({source}) | {pipe:.0f} | {result['pipeline_over_training']:.0f}x training |")


if __name__ == "__main__":
    main()
