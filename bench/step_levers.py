"""The default recipe's training step under each speed lever, side by side in one process.

    python bench/step_levers.py --flagfile=flags/dcgan.cfg --data_dir=../shared/data/mnist --rounds=5 --steps=60

Builds the GAN `flags/dcgan.cfg` describes (compact networks, self-conditioned on its k-means clusters,
mode seeking, EMA) once per variant, with the same seed, and times `fit` on the real digits in a bare
loop (no callbacks) in interleaved rounds: every round runs every variant once, so all see the same
machine load. A round's time runs from its first step's begin hook to its last step's end hook (so
per-step callback hooks count; `fit`'s start and the epoch-end work do not). Reports images/s per
variant (median over rounds) and each variant's ratio to the baseline (the median of per-round ratios).
The variants' order rotates from round to round (since 2026-12-06; before, every round ran them in the
order given), so no variant always runs first.
Variants (`--variants`, comma-separated):

- `base`: the recipe as it ships (batch from the flagfile, `steps_per_execution=1`);
- `spe<N>`: `steps_per_execution=N` (Keras runs N steps per Python call);
- `jit`: `jit_compile=True` (XLA);
- `b<N>`: global batch N (images/s; the quality at that batch is a separate question);
- `b<N>spe<M>`: both;
- `k<N>`: `kernel_size=N` in G and D (other networks: a different recipe, whose quality is a separate question);
- `share`: `share_fakes=True` (G's update scores the D update's fakes: one G forward pass per step);
  every variant keeps the flagfile's own `share_fakes` otherwise (`--noshare_fakes` makes `base` the recipe without it);
- `bf16`: the `mixed_bfloat16` Keras policy (bfloat16 compute, float32 weights; oneDNN runs bfloat16
  convolutions on AMX where the CPU has it);
- `sim`: `simultaneous=True` (the last D update and G's from one generated batch and one D pass, both
  gradients taken before either update, as the TF DCGAN tutorial's step). A `sim` variant listed after its twin
  (the name without `sim` and `split`) trains the twin's very model with its own traced step, as `split` does;
- `fused`: `fused_kernels=True` (TensorFlow's fused kernels for each variable's Adam and EMA update,
  `kgan.optimizers.FusedAdam`, and BatchNorm's training pass, `kgan.nets.batchnorm`; on by default since
  2026-12-07, so compare with `--nofused_kernels`), and here also the projection discriminator's `RowDot` (a
  product and a sum; variants without `fused` compute it as `keras.layers.Dot` does, a batched matrix multiply,
  as kgan did before 2026-12-07: so `--nofused_kernels` makes `base` the recipe as it was). A `fused`
  variant listed after its twin (the name without `fused`, `sim` and `split`) trains the twin's very model with its
  own traced step, as `split` does;
- `kd`: Keras's dropout masks (float32 uniform draws) in a variant with the fused kernels, whose D otherwise draws
  kgan's 16-bit masks (`kgan.nets.dropout`, part of `fused_kernels` since 2026-12-07). A `kd` variant listed after
  its twin (the name without `kd`, `fused`, `sim` and `split`) trains the twin's very model with its own traced step:
  `base,kd` measures the dropout masks alone (under `--nofused_kernels`, `kd` needs `fused`, e.g. `share,sharefusedkd`);
- `ds`: in a variant with the fused kernels, the label embeddings' sparse gradients summed into dense ones and given
  to `FusedAdam`'s one-kernel update, which squares the summed rows (tf.compat.v1's and PyTorch's Adam) where Keras 3
  squares each row (kgan's `FusedAdam` keeps Keras's update for them): another optimizer on those variables, so
  only its step is measured here. Trains its twin's very model (the name without `ds`, `kd`, `fused`, `sim`,
  `split`) with its own traced step;
- `split`: D called on the real and the fake batch separately instead of once on [real; fake] (kgan's
  choice when D has no BatchNorm; the two calls can then run side by side with G's forward pass). A `split`
  variant listed after its twin (the name without `split`) trains the twin's very model with its own traced
  step, so the two differ in that only (no two-model effect, README "Benchmarks"). `flags/dcgan.cfg` calls D
  twice since 2026-12-06 (`--nojoint_d_call`), so there `base` already does: add `--joint_d_call` to compare;
- `d16`: D's dropout masks from 16-bit random numbers (two per 32-bit Philox draw, keep if >= round(0.3 * 2^16):
  p = 0.300003) instead of Keras's float32 uniform draws: half the random-number work, the same mask distribution
  (a bench-only layer, `Dropout16`, in a model of its own; the profile put D's random draws at ~10% of the step's
  kernel time). Superseded by kgan's layer (`fused`, `kd`), the same idea applied as one product;
- `cb` (last): the variant with the callbacks a real run installs (`kgan.training.default_callbacks`:
  checkpoint, divergence guard, preemption, sample grid, loss plot, CSV log, TensorBoard), writing into a
  temporary directory: the in-run step beside the bare loop (`base,cb`; a `cb` variant listed after its
  twin trains the twin's model, so the two differ in their callbacks only);
- combinations in the order b<N>, k<N>, spe<N>, share, sim, fused, kd, ds, bf16, d16, split, jit, cb, e.g. `b128share`,
  `k3share`, `sharesplit`, `sharecb`;
- `tutorial`: the TF DCGAN tutorial networks at batch 256 with a plain keras.io-style `train_step`
  (bench/throughput.py's reference) as keras.io writes it: its networks called without `training=True`,
  so in inference mode (no dropout, frozen BatchNorm statistics);
- `tf_tutorial`: the same with `training=True`, as the TF DCGAN tutorial's step calls its networks: the
  issue's yardstick. A tutorial row's ratio is its images/s over the baseline's.

Thread settings cannot change inside a process: `--intra_op=N --inter_op=M` runs every variant with
them (compare with a run without them, in a separate invocation).
Nothing is timed in the test suite; this is a benchmark.
"""

import dataclasses
import os
import re
import shutil
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

from absl import flags  # noqa: E402

from kgan.config import TrainConfig  # noqa: E402
from kgan_cli import common  # noqa: E402
from kgan_cli import train as train_cli  # noqa: E402,F401  (defines the train.py flags)

FLAGS = flags.FLAGS
flags.DEFINE_string("variants", "base,spe8,jit,b128,tutorial", "Comma-separated variants (see the docstring).")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds.", lower_bound=1)
flags.DEFINE_integer("steps", 60, "Training steps per variant per round.", lower_bound=1)
flags.DEFINE_integer("intra_op", 0, "tf.config.threading intra-op threads (0: TF's default).")
flags.DEFINE_integer("inter_op", 0, "tf.config.threading inter-op threads (0: TF's default).")


def _parse(variant):
    """`variant` as settings: `base`, or lever tokens in this order: b<N>, k<N>, spe<N>, share, sim, fused, kd, ds,
    bf16, d16, split, jit, cb."""
    m = re.fullmatch(r"(?:b([1-9]\d*))?(?:k([1-9]\d*))?(?:spe([1-9]\d*))?"
                     r"(share)?(sim)?(fused)?(kd)?(ds)?(bf16)?(d16)?(split)?(jit)?(cb)?", variant)
    if variant in ("base", "tutorial", "tf_tutorial"):
        return {}
    if not m or not any(m.groups()):
        raise SystemExit(f"unknown variant {variant!r}: base, tutorial, tf_tutorial, or in this order b<N>, k<N>, "
                         "spe<N>, share, sim, fused, kd, ds, bf16, d16, split, jit, cb, N a positive integer "
                         "(e.g. b128share, k3share)")
    return {"batch": int(m.group(1)) if m.group(1) else None, "kernel": int(m.group(2)) if m.group(2) else None,
            "spe": int(m.group(3)) if m.group(3) else 1, "share": bool(m.group(4)), "sim": bool(m.group(5)),
            "fused": bool(m.group(6)), "kd": bool(m.group(7)), "ds": bool(m.group(8)), "bf16": bool(m.group(9)),
            "d16": bool(m.group(10)), "split": bool(m.group(11)), "jit": bool(m.group(12)), "cb": bool(m.group(13))}


def _check_variants(value):
    """A flag validator: every variant parses (a bad one is one line and exit 2, before TensorFlow runs anything)."""
    if not value:
        raise flags.ValidationError("--variants is empty: give at least one variant, e.g. --variants=base")
    for name in value.split(","):
        try:
            _parse(name)
        except SystemExit as e:
            raise flags.ValidationError(str(e)) from None
    return True


flags.register_validator("variants", _check_variants)


def dropout16():
    """A Keras layer class: inverted dropout whose keep mask compares 16-bit random numbers (two per uint32 of
    TensorFlow's stateless Philox draw) with round(rate * 2^16)."""
    import keras
    import tensorflow as tf

    class Dropout16(keras.layers.Layer):
        def __init__(self, rate, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.rate = float(rate)
            self.threshold = int(round(self.rate * 65536))
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, x, training=False):
            if not training or not self.rate:
                return x
            seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
            n = tf.size(x)
            bits = tf.random.stateless_uniform([(n + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
            keep = tf.reshape(tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:n] >= self.threshold, tf.shape(x))
            return tf.where(keep, x * (1.0 / (1.0 - self.rate)), tf.zeros_like(x))

    return Dropout16


_BATCHED_DOT = {"on": False}  # read when a step is traced: RowDot as keras.layers.Dot computes it


def _batched_dot_switch():
    """Lets `_set_fused` make the projection D's `RowDot` compute as `keras.layers.Dot(axes=1)` (a batched matrix
    multiply, kgan's layer before 2026-12-07) in the next traced step."""
    import keras

    from kgan.nets import cdcgan

    row_dot = cdcgan.RowDot.call

    def call(self, inputs):
        if not _BATCHED_DOT["on"]:
            return row_dot(self, inputs)
        a, b = inputs
        return keras.ops.squeeze(keras.ops.matmul(a[:, None, :], b[:, :, None]), -1)

    cdcgan.RowDot.call = call


_DENSE_SPARSE = {"on": False}  # read when a step is traced: FusedAdam runs its kernel on summed sparse gradients


def _dense_sparse_switch():
    """Lets a `ds` variant's traced step give `kgan.optimizers.FusedAdam` the label embeddings' sparse gradients
    summed into dense ones (`tf.convert_to_tensor`), for the one-kernel update: squaring the summed rows, as
    tf.compat.v1's and PyTorch's Adam do, not each row as Keras 3's does (another optimizer on those variables:
    only the step is measured here)."""
    import tensorflow as tf

    from kgan import optimizers

    update_step = optimizers.FusedAdam.update_step

    def patched(self, gradient, variable, learning_rate):
        if _DENSE_SPARSE["on"] and self.fused and isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        return update_step(self, gradient, variable, learning_rate)

    optimizers.FusedAdam.update_step = patched


def _set_fused(gan, fused, dropout):
    """TensorFlow's fused kernels (Adam, EMA, BatchNorm) and `RowDot`, or Keras's own ops and `Dot`'s batched matrix
    multiply, and (`dropout`) kgan's 16-bit dropout masks or Keras's, in `gan`'s next traced step."""
    from kgan.nets import batchnorm, dropout as dropout_layer, fused as fused_layers

    _BATCHED_DOT["on"] = not fused
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        getattr(optimizer, "inner_optimizer", optimizer).fused = fused
    gan.fused_ema = fused
    for network in (gan.generator, gan.discriminator):
        fused_layers.set_fused(network, fused, kinds=(batchnorm.BatchNormalization,))
        fused_layers.set_fused(network, dropout, kinds=(dropout_layer.Dropout,))


def recipe_inputs(config):
    """`(cluster prior or None, dataset(batch))` for the recipe `config` describes: its k-means clusters of
    the training images, and its training batches with their cluster ids, cached and repeated."""
    from kgan import data, features

    images, _ = data.arrays(config.dataset, data_dir=config.data_dir, with_labels=False,
                            max_images=features.clusters.MAX_FIT_IMAGES, seed=config.seed)
    centroids, prior = features.fit_clusters(images, config.clusters, seed=config.seed) if config.clusters else (
        None, None)
    datasets = {}

    def dataset(batch):
        if batch not in datasets:
            ds = data.load(config.dataset, batch_size=batch, data_dir=config.data_dir, seed=config.seed)
            if centroids is not None:
                ds = features.label_batches(ds, centroids)
            for _ in ds:  # fill the cache
                pass
            datasets[batch] = ds.repeat()
        return datasets[batch]

    return prior, dataset


class Window:
    """Two callbacks, one to go first and one last in `fit`'s list: the wall time from the first step's begin
    hook to the last step's end hook, every callback's per-step hooks included, epoch-end work not."""

    def __init__(self):
        import keras

        window = self

        class First(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 0:
                    window.start = time.perf_counter()

        class Last(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                window.end = time.perf_counter()

        self.first, self.last = First(), Last()

    def callbacks(self, inner=()):
        return [self.first, *inner, self.last]

    @property
    def seconds(self):
        return self.end - self.start


def main(argv):
    del argv
    import machine

    print("machine:", machine.describe(), flush=True)
    import tempfile

    import tensorflow as tf

    if FLAGS.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.intra_op)
    if FLAGS.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op)
    import keras

    import kgan
    from kgan import data, training
    from throughput import build as build_tutorial

    config = common.config_from_flags(FLAGS, TrainConfig, verbose=0)
    prior, dataset = recipe_inputs(config)
    _batched_dot_switch()
    _dense_sparse_switch()

    models = {}
    # variant: its GAN's (`_joint_d_call` (D called once on [real; fake]), `simultaneous`, fused updates, fused dropout,
    # summed sparse rows) when traced
    joint = {}
    for name in FLAGS.variants.split(","):
        keras.utils.set_random_seed(config.seed)
        if name in ("tutorial", "tf_tutorial"):
            ds = data.load(config.dataset, batch_size=256, data_dir=config.data_dir, seed=config.seed)
            for _ in ds:
                pass
            kind = "reference" if name == "tutorial" else "reference_training"
            models[name] = (build_tutorial(kind), ds.repeat(), 256, False)
            continue
        v = _parse(name)
        batch = v.get("batch") or config.batch_size
        twin = name[:-2] or "base"  # `cb` runs its twin's very model: only the callbacks differ
        if v.get("cb") and twin in models:
            models[name] = (*models[twin][:3], True)
            if twin in joint:
                joint[name] = joint[twin]
            continue
        # `split`, `sim`, `fused`, `kd` and `ds` train their twin's very model, with its own step
        twin = re.sub("split|sim|fused|kd|ds", "", name) or "base"
        own_step = v.get("split") or v.get("sim") or v.get("fused") or v.get("kd") or v.get("ds")
        if own_step and twin in models and isinstance(models[twin][0], kgan.GAN):
            models[name] = models[twin]
            twin_joint, twin_sim, twin_fused, _, _ = joint[twin]
            fused = twin_fused or bool(v.get("fused"))
            joint[name] = (twin_joint and not v.get("split"), twin_sim or bool(v.get("sim")), fused,
                           fused and not v.get("kd"), fused and bool(v.get("ds")))
            continue
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if v.get("bf16") else config.precision)
        variant = dataclasses.replace(config, share_fakes=v.get("share") or config.share_fakes,
                                      kernel_size=config.kernel_size if v.get("kernel") is None else v["kernel"])
        from kgan.nets import dcgan as dcgan_nets, mlp as mlp_nets

        dropout = dcgan_nets.Dropout
        if v.get("d16"):  # kgan.nets.dcgan and .mlp build D's dropout as kgan.nets.dropout.Dropout(rate)
            dcgan_nets.Dropout = mlp_nets.Dropout = dropout16()
        try:
            gan = training.build_gan(variant, data.image_shape(dataset(config.batch_size)), prior,
                                     jit_compile=bool(v.get("jit")), steps_per_execution=v.get("spe", 1))
        finally:
            dcgan_nets.Dropout = mlp_nets.Dropout = dropout
        keras.mixed_precision.set_global_policy("float32")
        if v.get("split"):
            gan._joint_d_call = False
        if v.get("sim"):
            gan.simultaneous = True
        if v.get("fused"):
            _set_fused(gan, True, not v.get("kd"))
        joint[name] = (gan._joint_d_call, gan.simultaneous, gan.fused_ema,
                       "Dropout16" if v.get("d16") else gan.fused_ema and not v.get("kd"),
                       gan.fused_ema and bool(v.get("ds")))
        models[name] = (gan, dataset(batch), batch, bool(v.get("cb")))
    idle = [k for k, j in joint.items() if (_parse(k).get("kd") or _parse(k).get("ds")) and not j[2]]
    if idle:  # Keras's masks and update are all an unfused step has: the variant would time its twin again
        raise SystemExit(f"variant {idle[0]!r}: kd and ds need the fused kernels: add the fused token, or drop "
                         "--nofused_kernels")
    window = Window()
    scratch = tempfile.mkdtemp(prefix="kgan-levers-")

    def callbacks(with_run_callbacks):
        # A fresh run directory per fit: a checkpoint left by the last one would be resumed (its epoch done).
        return window.callbacks(training.default_callbacks(config, tempfile.mkdtemp(dir=scratch))
                                if with_run_callbacks else ())

    # (model, (D in one call, simultaneous, fused, fused dropout, summed sparse rows)): its traced train function
    # (`split`, `sim`, `fused`, `kd`, `ds` share a model, not its step)
    steps = {}

    def fit(name, m, ds, cb, num_steps):
        key = (id(m), joint.get(name))
        if name in joint:  # a kgan.GAN: the step traced for this D call and update (or traced now)
            (m._joint_d_call, m.simultaneous, fused, fused_dropout, _DENSE_SPARSE["on"]), m.train_function = (
                joint[name], steps.get(key))
            _set_fused(m, fused, fused_dropout is True)
        m.fit(ds, epochs=1, steps_per_epoch=num_steps, verbose=0, callbacks=callbacks(cb))
        steps[key] = m.train_function

    for name, (m, ds, batch, cb) in models.items():  # trace and warm up
        fit(name, m, ds, cb, 2 * (getattr(m, "steps_per_execution", 1) or 1))
    rates = {k: [] for k in models}
    names = list(models)
    for r in range(FLAGS.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # the order rotates: no variant always first
            m, ds, batch, cb = models[name]
            fit(name, m, ds, cb, FLAGS.steps)
            rates[name].append(FLAGS.steps * batch / window.seconds)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()) + " img/s", flush=True)
    base = next(iter(rates))
    print(f"\n{config.network} recipe from the flags, {FLAGS.rounds} interleaved rounds of {FLAGS.steps} steps; "
          f"threads intra {FLAGS.intra_op or 'default'}, inter {FLAGS.inter_op or 'default'}; ratio = median of "
          f"per-round ratios to {base}\n")
    # a line per setting some variant has other than the library's default (D in one call, alternating, fused)
    for i, (what, usual) in enumerate((("D on [real; fake] in one call", True), ("simultaneous updates", False),
                                       ("fused updates", True), ("kgan's 16-bit dropout masks", True),
                                       ("sparse gradients summed, then the fused Adam kernel", False))):
        if any(j[i] != usual for j in joint.values()):
            print(f"{what}: " + ", ".join(f"{k} {j[i] if isinstance(j[i], str) else 'yes' if j[i] else 'no'}"
                                          for k, j in joint.items()))
    print("| variant | images/s (median, range) | ms/step | ratio |")
    print("| --- | --- | --- | --- |")
    for name, v in rates.items():
        batch = models[name][2]
        ratio = statistics.median(a / b for a, b in zip(v, rates[base]))
        print(f"| {name} | {statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f}) | "
              f"{1000 * batch / statistics.median(v):.1f} | {ratio:.2f} |")
    shutil.rmtree(scratch, ignore_errors=True)
    del kgan


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    common.run(main)
