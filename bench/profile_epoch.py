"""Where a training run's wall time goes: `python bench/profile_epoch.py --flagfile=flags/dcgan.cfg --epochs=3`.

Runs `kgan.training.train_and_evaluate` on the flagfile's settings (the same code path as `train.py`)
with every default callback wrapped in a timer, and prints, per epoch and in total:

- steps: wall time inside `fit`'s training function (from `on_train_batch_begin` to the next
  `on_train_batch_end` hook, minus the time the callbacks' own batch hooks took);
- per-step callbacks: time in each callback's `on_train_batch_*` hooks (a loss row, a NaN check, ...);
- epoch-end work: each callback's `on_epoch_end` (checkpoint write with its fsync, sample grid and
  TensorBoard image, loss plot, CSV row, quality metrics when on);
- other: wall time not in any of the above (Python and `fit` per-step overhead, data waits);
- CPU: process CPU seconds (user + system, all threads) per wall second during the steps: 2.0 = both
  cores of this machine busy; and, on Linux, the machine's steal time over the same steps (from
  /proc/stat: time a virtual machine's cores were ready to run but the hypervisor ran something else),
  so a slow hour can be told apart from a slow step.

Two switches measure TensorFlow's "remapper failed ... LeakyReluGrad" log line (README, "What lands in
the output directory"): `--nograppler_remapping` turns Grappler's remapper pass off (so it never runs, never
fails), `--leaky_relu_as_max` computes every LeakyReLU as max(x, a*x), a graph the remapper rewrites
without failing (and without the fused LeakyReLU kernel).

Nothing is timed in the test suite; this is a benchmark. It writes into `--output_dir`
(default a temporary directory, removed afterwards).
"""

import collections
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

import keras  # noqa: E402
from absl import flags  # noqa: E402

from kgan import training  # noqa: E402
from kgan.config import TrainConfig  # noqa: E402
from kgan_cli import common  # noqa: E402
from kgan_cli import train as train_cli  # noqa: E402  (defines the train.py flags)

FLAGS = flags.FLAGS
flags.DEFINE_boolean("grappler_remapping", True, "Grappler's remapper pass (op fusions); off: never run.")
flags.DEFINE_boolean("leaky_relu_as_max", False, "Compute keras.layers.LeakyReLU as max(x, negative_slope * x).")


def _cpu():
    t = os.times()
    return t.user + t.system


def _steal():
    """Seconds of steal time on all of the machine's cores so far (/proc/stat), or None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Timed(keras.callbacks.Callback):
    """Forwards every hook to `inner` and adds the time each took to `totals[(name, hook kind)]`."""

    def __init__(self, inner, totals):
        super().__init__()
        self.inner = inner
        self.totals = totals
        self.name = type(inner).__name__

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)

    def __getattribute__(self, attr):
        if attr.startswith("on_") and attr != "on_":
            inner = object.__getattribute__(self, "inner")
            method = getattr(inner, attr)
            totals = object.__getattribute__(self, "totals")
            name = object.__getattribute__(self, "name")
            kind = "batch" if "batch" in attr else ("epoch_end" if attr == "on_epoch_end" else "other")

            def timed(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    totals[(name, kind)] += time.perf_counter() - t0

            return timed
        return object.__getattribute__(self, attr)


class StepClock(keras.callbacks.Callback):
    """First in the list: wall and CPU time from each batch's begin hook to its end hook."""

    def __init__(self, totals):
        super().__init__()
        self.totals = totals

    def on_train_batch_begin(self, batch, logs=None):
        self._t, self._c, self._s = time.perf_counter(), _cpu(), _steal()

    def on_train_batch_end(self, batch, logs=None):
        wall = time.perf_counter() - self._t
        if not self.totals[("steps", "count")] and not self.totals[("first", "wall")]:
            self.totals[("first", "wall")] = wall  # the first step traces the graph: reported apart
            return
        self.totals[("steps", "wall")] += wall
        self.totals[("steps", "cpu")] += _cpu() - self._c
        if self._s is not None:
            self.totals[("steps", "steal")] += _steal() - self._s
        self.totals[("steps", "count")] += 1


def main(argv):
    del argv
    import machine

    print("machine:", machine.describe(), flush=True)
    out = FLAGS.output_dir or tempfile.mkdtemp(prefix="kgan-profile-")
    config = common.config_from_flags(FLAGS, TrainConfig, verbose=0)
    if not FLAGS.grappler_remapping:
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"remapping": False})
    if FLAGS.leaky_relu_as_max:
        keras.layers.LeakyReLU.call = lambda self, x: keras.ops.maximum(x, x * self.negative_slope)
    totals = collections.defaultdict(float)
    make = training.default_callbacks

    def wrapped(*args, **kwargs):
        return [StepClock(totals)] + [Timed(cb, totals) for cb in make(*args, **kwargs)]

    training.default_callbacks = wrapped
    start = time.perf_counter()
    try:
        training.train_and_evaluate(config, out)
    finally:
        training.default_callbacks = make
        if not FLAGS.output_dir:
            shutil.rmtree(out, ignore_errors=True)
    total = time.perf_counter() - start
    steps = totals.pop(("steps", "wall"))
    cpu = totals.pop(("steps", "cpu"))
    count = int(totals.pop(("steps", "count")))
    first = totals.pop(("first", "wall"))
    steal = totals.pop(("steps", "steal"), None)
    batch_hooks = sum(v for (name, kind), v in totals.items() if kind == "batch")
    print(f"\n{count + 1} steps, {total:.1f} s wall in all (start-up, k-means and data included)\n")
    print("| where | seconds | share of wall |")
    print("| --- | --- | --- |")
    print(f"| the first training step (graph tracing) | {first:.1f} | {first / total:.1%} |")
    print(f"| the other training steps | {steps - batch_hooks:.1f} | {(steps - batch_hooks) / total:.1%} |")
    for (name, kind), v in sorted(totals.items(), key=lambda kv: -kv[1]):
        if v >= 0.05:
            print(f"| {name} {kind.replace('_', ' ')} hooks | {v:.1f} | {v / total:.1%} |")
    rest = total - steps - first - sum(v for (n, k), v in totals.items() if k != "batch")
    print(f"| other (start-up, k-means, data, fit overhead) | {rest:.1f} | {rest / total:.1%} |")
    print(f"\nCPU during steps: {cpu / steps:.2f} cores busy of {os.cpu_count()}; "
          f"{1000 * (steps - batch_hooks) / max(count, 1):.1f} ms per step")
    if steal is not None:
        print(f"steal time during steps: {steal / steps:.2f} cores' worth (the hypervisor ran something else)")


if __name__ == "__main__":
    common.run(main)
