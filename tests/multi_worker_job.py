"""One process of the multi-worker tests:
`python tests/multi_worker_job.py WORKDIR OUT.npz STRATEGY [EPOCHS [REPLICAS [KINDS]]]`.

For each of KINDS (comma-separated) trains a tiny GAN of that kind on the real MNIST digits (`dcgan`:
unconditional; `cdcgan`: conditional on the digit labels, with mode seeking; `clusters`: self-conditioned
on k-means clusters, with mode seeking) with `kgan.training.train_and_evaluate` in WORKDIR/KIND, all on one
strategy (a process can make only one MultiWorkerMirroredStrategy; TF_CONFIG, if set, names the
cluster), and saves every weight of both networks to OUT-KIND-TASK.npz (TASK: the worker's index, 0
without TF_CONFIG), so the test can compare workers with each other and with one process.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kgan import distribute, optimizers, training  # noqa: E402
from kgan.config import TrainConfig  # noqa: E402

MNIST_DIR = os.environ.get("KGAN_MNIST_DIR")

# Plain SGD instead of the config's Adam, as in tests/test_gan.py: Adam divides by the gradient's
# running RMS, which turns float rounding of near-zero gradients (a ring all-reduce sums in another
# order than one device) into full-size steps; SGD keeps equal updates equal to float precision and
# is sensitive to a wrongly scaled (e.g. 2x) gradient.
keras.optimizers.Adam = lambda learning_rate, **_: keras.optimizers.SGD(learning_rate)
optimizers.FusedAdam = keras.optimizers.Adam  # what kgan.training builds


class SaveWeights(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def _weights(self):
        return [v.numpy() for v in self.model.generator.weights + self.model.discriminator.weights]

    def on_train_begin(self, logs=None):
        self.initial = self._weights()

    def on_train_end(self, logs=None):
        gan = self.model
        np.savez(self.path, step=int(gan.g_optimizer.iterations.numpy()), *self._weights(),
                 **{f"initial_{i}": w for i, w in enumerate(self.initial)})


KINDS = {
    "dcgan": dict(network="dcgan"),
    "cdcgan": dict(network="cdcgan", num_classes=10, mode_seeking=0.1),
    "clusters": dict(network="cdcgan", clusters=5, mode_seeking=0.1),
}


def main(workdir, out, strategy_name, epochs=2, cpu_replicas=1, kinds="dcgan"):
    task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    strategy = None
    for kind in kinds.split(","):
        config = TrainConfig(dataset="idx", data_dir=MNIST_DIR, **KINDS[kind], g_filters=(16, 8, 4),
                             d_filters=(4, 8), latent_dim=8, batch_size=16, epochs=int(epochs),
                             steps_per_epoch=3, strategy=strategy_name, verbose=0, num_samples=4, connect_timeout=60,
                             sync_batchnorm=True, d_dropout=0.0, d_learning_rate=0.05,
                             g_learning_rate=0.05, cpu_replicas=int(cpu_replicas))
        if strategy is None:
            strategy = distribute.make_strategy(config.strategy, config.cpu_replicas, timeout_s=config.connect_timeout)
        path = out.replace(".npz", f"-{kind}-{task.get('index', 0)}.npz")
        training.train_and_evaluate(config, os.path.join(workdir, kind), extra_callbacks=[SaveWeights(path)],
                                    strategy=strategy)


if __name__ == "__main__":
    main(*sys.argv[1:])
