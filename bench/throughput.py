"""Training and input-pipeline throughput: kgan.GAN vs a plain Keras train_step, side by side.

Both models train the TensorFlow DCGAN tutorial's networks (kgan.nets.dcgan_*
defaults) on the real MNIST digits at the same global batch, with the same
optimizers. The reference is written the keras.io way ("DCGAN overriding
train_step"): one concatenated D call on real+fake with noisy labels, a
BinaryCrossentropy loss object, then a G step. Rounds alternate A, B, A, B so
both see the same machine load; the ratio is the median of per-round ratios.

    python bench/throughput.py --data_dir=../shared/data/mnist

Writes bench/results/throughput.json and prints a Markdown table.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kgan  # noqa: E402


class KerasIoDCGAN(keras.Model):
    """The keras.io "DCGAN to generate face images" train_step, unchanged in substance."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
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
        generated_images = self.generator(random_latent_vectors)
        combined_images = keras.ops.concatenate([generated_images, real_images], axis=0)
        labels = keras.ops.concatenate([keras.ops.ones((batch_size, 1)), keras.ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(keras.ops.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = keras.ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def build(kind, latent_dim=100):
    G = kgan.nets.dcgan_generator(latent_dim=latent_dim)
    D = kgan.nets.dcgan_discriminator()
    if kind == "kgan":
        model = kgan.GAN(G, D, latent_dim=latent_dim)
        model.compile(d_optimizer=adam(), g_optimizer=adam(), loss="non_saturating", d_steps=1, jit_compile=False)
    else:
        model = KerasIoDCGAN(D, G, latent_dim)
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
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(root), "shared", "data", "mnist"))
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="training steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=os.path.join(root, "bench", "results", "throughput.json"))
    args = p.parse_args()

    ds = kgan.data.load("mnist", data_dir=args.data_dir, batch_size=args.batch_size, seed=0)
    for _ in ds:  # fill the cache
        pass
    models = {"kgan": build("kgan"), "keras.io reference": build("reference")}
    train_ds = ds.repeat()
    for m in models.values():
        time_fit(m, train_ds, 3)  # trace and warm up
    rates = {k: [] for k in models}
    for r in range(args.rounds):
        for name, m in models.items():
            rates[name].append(args.steps * args.batch_size / time_fit(m, train_ds, args.steps))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f} img/s" for k, v in rates.items()), flush=True)
    ratios = [a / b for a, b in zip(rates["kgan"], rates["keras.io reference"])]
    pipe = pipeline_rate(train_ds, 2000)
    train_rate = statistics.median(rates["kgan"])
    result = {
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "images_per_s": {k: statistics.median(v) for k, v in rates.items()},
        "per_round": rates,
        "kgan_over_reference": statistics.median(ratios),
        "pipeline_images_per_s": pipe,
        "pipeline_over_training": pipe / train_rate,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print()
    print("| what | images/s | ratio |")
    print("| --- | --- | --- |")
    print(f"| keras.io reference train_step | {result['images_per_s']['keras.io reference']:.0f} | 1.00 |")
    print(f"| kgan.GAN train_step | {result['images_per_s']['kgan']:.0f} | {result['kgan_over_reference']:.3f} |")
    print(f"| kgan.data pipeline (MNIST IDX) | {pipe:.0f} | {result['pipeline_over_training']:.0f}x training |")


if __name__ == "__main__":
    main()
