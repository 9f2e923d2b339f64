"""Where the default recipe's training step spends its time, op by op (TensorFlow's profiler).

    python bench/profile_step.py --flagfile=flags/dcgan.cfg --data_dir=../shared/data/mnist --steps=40

Builds the GAN `flags/dcgan.cfg` describes (as bench/step_levers.py does), warms it up, then runs
`--steps` steps of `fit` under `tf.profiler.experimental` and reads the trace (the XPlane protobuf the
profiler writes) back: for each op type, the time its kernels ran per step summed over the threads
that ran them (so it can exceed wall time on 2 cores), and the number of kernels per step. Also prints
the wall time per step and the kernels' busy time over it. `--by=name` lists single ops (which convolution, which
dropout) instead of op types. `--share_fakes`, `--precision` and `--batch_size` profile a lever; `--steps` is
bench/step_levers.py's flag. Nothing is timed in the test suite; this is a benchmark.
"""

import collections
import glob
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

from absl import flags  # noqa: E402

from kgan.config import TrainConfig  # noqa: E402
from kgan_cli import common  # noqa: E402
from kgan_cli import train as train_cli  # noqa: E402,F401  (defines the train.py flags)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_levers import recipe_inputs  # noqa: E402  (and its --steps flag)

FLAGS = flags.FLAGS
flags.DEFINE_integer("top", 30, "Op types (or ops) to list.")
flags.DEFINE_enum("by", "type", ["type", "name"], "Group kernel time by op type, or by op (its name in the graph "
                  "and type: which convolution, which dropout).")


_NOT_KERNELS = {"Process", "Run", "Start", "RunAsync"}


def _kernel_times(logdir, by="type"):
    """`({op type: total ns}, {op type: kernel count}, busy ns over all threads)` from the profiler's XPlane;
    `by="name"`: keyed by the op's name and type instead."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals, counts, busy = collections.Counter(), collections.Counter(), 0
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if plane.name != "/host:CPU":
                continue
            names = {k: v.name for k, v in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    # TF's executor names a kernel "op_name:OpType"; Python and runtime events have no ':'
                    if ":" not in name or name.startswith(("tf_", "Thread", "Iterator")) or " " in name:
                        continue
                    op_type = name.rsplit(":", 1)[1]
                    # kernels' types are CamelCase, oneDNN's fused ones start with '_'; the executor's own
                    # events ("Process", "Run", "Start") and tf.data's iterators are not kernels
                    if (not op_type or not op_type.lstrip("_")[:1].isupper() or op_type in _NOT_KERNELS
                            or op_type.endswith("Dataset")):
                        continue
                    key = op_type if by == "type" else name.replace("StatefulPartitionedCall/", "")
                    totals[key] += event.duration_ps // 1000
                    counts[key] += 1
                    busy += event.duration_ps // 1000
    return totals, counts, busy


def main(argv):
    del argv
    import machine

    print("machine:", machine.describe(), flush=True)
    import keras
    import tensorflow as tf

    from kgan import data, training

    config = common.config_from_flags(FLAGS, TrainConfig, verbose=0)
    prior, dataset = recipe_inputs(config)
    ds = dataset(config.batch_size)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    gan = training.build_gan(config, data.image_shape(ds), prior)
    keras.mixed_precision.set_global_policy("float32")
    gan.fit(ds, epochs=1, steps_per_epoch=20, verbose=0)  # trace and warm up
    start = time.perf_counter()
    gan.fit(ds, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
    unprofiled = (time.perf_counter() - start) / FLAGS.steps
    logdir = tempfile.mkdtemp(prefix="kgan_profile_")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    gan.fit(ds, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
    profiled = (time.perf_counter() - start) / FLAGS.steps
    tf.profiler.experimental.stop()
    totals, counts, busy = _kernel_times(logdir, FLAGS.by)
    shutil.rmtree(logdir, ignore_errors=True)
    n = FLAGS.steps
    print(f"\n{config.network} recipe, batch {config.batch_size}, share_fakes={config.share_fakes}, "
          f"precision={config.precision}: {1000 * unprofiled:.1f} ms per step unprofiled, "
          f"{1000 * profiled:.1f} ms profiled; kernels busy {busy / n / 1e6:.1f} ms per step over all threads "
          f"({busy / n / 1e6 / (1000 * profiled):.2f} threads busy), {sum(counts.values()) / n:.0f} kernels per "
          f"step\n")
    print(f"| op {'type' if FLAGS.by == 'type' else '(name:type)'} | ms per step (all threads) | share | kernels "
          "per step | us per kernel |")
    print("| --- | --- | --- | --- | --- |")
    for op, ns in totals.most_common(FLAGS.top):
        print(f"| {op} | {ns / n / 1e6:.2f} | {ns / busy:.1%} | {counts[op] / n:.0f} | {ns / counts[op] / 1e3:.0f} |")
    small = sum(ns for op, ns in totals.items() if ns / counts[op] < 20_000)
    print(f"\nkernels under 20 us: {sum(c for op, c in counts.items() if totals[op] / c < 20_000) / n:.0f} per step, "
          f"{small / n / 1e6:.2f} ms per step ({small / busy:.1%})")


if __name__ == "__main__":
    common.run(main)
