"""One worker of the flagfile smoke test: `python tests/multi_worker_flagfiles.py OUT_DIR FLAGFILE[=DATA_DIR]...`.

Under `launch.py`, every worker parses each flagfile exactly as `train.py` does (the same flags, the same
nesting; DATA_DIR, if given, instead of the real MNIST digits), caps the run at 2 steps of one epoch and trains it with `kgan.training.train_and_evaluate` on one
`MultiWorkerMirroredStrategy` shared by all runs (a process can make only one). Prints `started <name>`
after each run, so the test can see which flagfiles got through.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from kgan import distribute, training  # noqa: E402
from kgan.config import TrainConfig  # noqa: E402
from kgan_cli import common  # noqa: E402
from kgan_cli import train as train_cli  # noqa: E402  (defines the CLI's flags)

MNIST_DIR = os.environ.get("KGAN_MNIST_DIR")


def config_of(flagfile, data_dir):
    train_cli.FLAGS.unparse_flags()
    train_cli.FLAGS(["train.py", f"--flagfile={flagfile}", f"--data_dir={data_dir}", "--epochs=1",
                     "--steps_per_epoch=2", "--num_samples=4", "--strategy=multi_worker", "--connect_timeout=60"])
    return common.config_from_flags(train_cli.FLAGS, TrainConfig, verbose=0)


def main(out, *flagfiles):
    strategy = None
    for arg in flagfiles:
        flagfile, _, data_dir = arg.partition("=")
        config = config_of(flagfile, data_dir or MNIST_DIR)
        if strategy is None:
            strategy = distribute.make_strategy(config.strategy, timeout_s=config.connect_timeout)
        name = os.path.splitext(os.path.basename(flagfile))[0]
        training.train_and_evaluate(config, os.path.join(out, name), strategy=strategy)
        print(f"started {name}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
