"""Train a GAN from the command line: `kgan-train --flagfile=flags/dcgan.cfg` (in a clone: `python train.py ...`).

Every field of `kgan.config.TrainConfig` is a flag (generated from the fields,
with their help); values after the `--flagfile` override it. The run goes to
`--output_dir` (default `runs/<flagfile name>`), and running the same command
again resumes it. Bad input ends with one line on stderr and exit code 2.
"""

import os
import sys

from absl import flags, logging

from kgan_cli import common

common.import_tensorflow_quietly()  # the flags come from kgan's TrainConfig: import TF without its start-up noise

from kgan import distribute, training, workdir as workdir_lib  # noqa: E402
from kgan.config import TrainConfig  # noqa: E402

FLAGS = flags.FLAGS

CONFIG_FLAGS = common.define_config_flags(TrainConfig)
# Flags of the command line only.
flags.DEFINE_string("output_dir", None, "Where the run goes; default runs/<flagfile name>. Rerunning resumes it.")
flags.DEFINE_enum("progress", "auto", ["auto", "bar", "epoch", "none"],
                  "Progress display: a bar per step, a line per epoch, or nothing (auto: bar on a terminal).")
FLAG_NAMES = ["output_dir", *CONFIG_FLAGS, "progress"]


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    verbose = {"bar": 1, "epoch": 2, "none": 0}.get(FLAGS.progress, 1 if sys.stdout.isatty() else 2)
    config = common.config_from_flags(FLAGS, TrainConfig, verbose=verbose)
    if FLAGS.output_dir is not None and not FLAGS.output_dir.strip():
        common.fail(f"--output_dir={FLAGS.output_dir!r} is empty: pass a folder, or leave the flag out for "
                    f"runs/<flagfile name>")
    workdir = FLAGS.output_dir or os.path.join("runs", common.run_name(sys.argv))
    with common.errors_exit():
        config.validate()
        common.warn_about_precision(config)
        workdir_lib.check_output_dir(workdir)  # before the strategy and the data: a bad --output_dir is one line
        with common.native_stderr_held():  # a worker that cannot join the cluster: one line, not TF's log
            strategy = distribute.make_strategy(config.strategy, config.cpu_replicas, tpu=config.tpu,
                                                timeout_s=config.connect_timeout)
        training.train_and_evaluate(config, workdir, strategy=strategy,
                                    run_files={workdir_lib.FLAGS: common.flags_text(FLAGS, FLAG_NAMES)})
    logging.info("done: outputs in %s", workdir)


def main():
    common.register_key_flags(FLAG_NAMES)
    common.run(_main)


if __name__ == "__main__":
    main()
