"""Train a GAN from the command line: `python train.py --flagfile=flags/dcgan.cfg`.

Every flag maps onto a field of `kgan.train.TrainConfig`; values after the
`--flagfile` override it. The run goes to `--output_dir` (default
`runs/<flagfile name>`), and running the same command again resumes it.
Bad input ends with one line on stderr and exit code 2.
"""

import os
import sys

from absl import app, flags, logging

import kgan_cli

FLAGS = flags.FLAGS

flags.DEFINE_string("output_dir", None, "Where the run goes; default runs/<flagfile name>. Rerunning resumes it.")
# data
flags.DEFINE_string("dataset", "mnist", "A TFDS image dataset name (mnist, fashion_mnist, ...), 'idx' or 'folder'.")
flags.DEFINE_string("data_dir", None, "Local data: a folder of IDX files (e.g. ../shared/data/mnist) or of "
                    "PNG/JPEG images; for TFDS names, the TFDS data directory.")
flags.DEFINE_string("split", None, "Which split to train on (default: all a local folder holds; TFDS: train).")
# networks
flags.DEFINE_string("network", "dcgan", "Network family of G and D (kgan.nets): dcgan, mlp, cdcgan "
                    "(class-conditional DCGAN with a projection discriminator).")
flags.DEFINE_integer("latent_dim", 100, "Size of the latent vector z.")
flags.DEFINE_list("g_filters", None, "Generator widths: dcgan 3 conv filters, mlp hidden units (default: the paper's).")
flags.DEFINE_list("d_filters", None, "Discriminator widths: dcgan conv filters, mlp hidden units.")
flags.DEFINE_integer("kernel_size", 5, "dcgan convolution kernel size.")
flags.DEFINE_float("negative_slope", 0.2, "LeakyReLU negative slope in G and D.")
flags.DEFINE_float("d_dropout", 0.3, "Dropout rate in D, in [0, 1).")
flags.DEFINE_boolean("d_batchnorm", False, "BatchNorm in the dcgan discriminator.")
flags.DEFINE_boolean("sync_batchnorm", False, "Synchronize BatchNorm statistics across replicas.")
flags.DEFINE_boolean("spectral_norm", False, "Spectral normalization on every D layer (dcgan, cdcgan).")
flags.DEFINE_integer("num_classes", 10, "Classes of a conditional network (cdcgan).")
flags.DEFINE_integer("clusters", 0, "Condition a conditional network (cdcgan) on this many k-means clusters of the "
                     "images instead of labels: an unconditional GAN to its users (kgan.features.clusters; 0 = off).")
# objective
flags.DEFINE_string("loss", "non_saturating", "GAN loss (kgan.losses): non_saturating, minimax, wasserstein, "
                    "hinge, least_squares, relativistic_average.")
flags.DEFINE_integer("d_steps", 1, "Discriminator updates per generator update.")
flags.DEFINE_float("clip_value", None, "Clip D weights to [-c, c] after each update (WGAN; default 0.01 for "
                   "the wasserstein loss without gradient penalty).")
flags.DEFINE_float("gradient_penalty", 0.0, "WGAN-GP weight lambda (10 in the paper; 0 = off).")
flags.DEFINE_float("r1_penalty", 0.0, "R1 penalty weight gamma on real data (0 = off).")
flags.DEFINE_integer("r1_every", 1, "Apply R1 every this many D steps (lazy regularization).")
flags.DEFINE_float("mode_seeking", 0.0, "MSGAN weight lambda: penalize G for alike images from one label and two "
                   "latents (for conditional GANs that ignore z; 0 = off).")
flags.DEFINE_float("label_smoothing", 0.0, "One-sided label smoothing s: real targets 1 - s (cross-entropy losses).")
flags.DEFINE_float("instance_noise", 0.0, "Std of Gaussian noise on D's inputs, decaying linearly to 0.")
flags.DEFINE_integer("instance_noise_steps", 10_000, "D steps over which the instance noise decays to 0.")
flags.DEFINE_float("ema_decay", None, "Keep an EMA of G's weights with this decay (e.g. 0.999) for samples and "
                   "export; unset = off.")
flags.DEFINE_boolean("mixed_precision", False, "Train with the mixed_float16 policy (helps on GPUs, not CPUs).")
# optimization
flags.DEFINE_integer("epochs", 20, "Passes over the data.")
flags.DEFINE_integer("steps_per_epoch", None, "Cap on generator steps per epoch, for quick runs.")
flags.DEFINE_integer("batch_size", 256, "Global batch size, split over all replicas.")
flags.DEFINE_float("d_learning_rate", 2e-4, "Adam learning rate of D (a larger D rate than G rate is TTUR).")
flags.DEFINE_float("g_learning_rate", 2e-4, "Adam learning rate of G.")
flags.DEFINE_float("beta_1", 0.5, "Adam beta_1 of both optimizers.")
flags.DEFINE_float("beta_2", 0.999, "Adam beta_2 of both optimizers.")
flags.DEFINE_integer("seed", 0, "Seeds weights, data order and noise: the same seed gives the same run.")
# distribution
flags.DEFINE_enum("strategy", "auto", ["auto", "default", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy; auto = mirrored with more than one GPU or --cpu_replicas > 1; "
                  "multi_worker = MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (try it locally with "
                  "launch.py); tpu = TPUStrategy on --tpu (untested: no TPU here).")
flags.DEFINE_string("tpu", "", "--strategy=tpu: the TPU name or grpc:// address (empty on a TPU VM).")
flags.DEFINE_integer("connect_timeout", 120, "--strategy=multi_worker: seconds to wait for the other workers "
                     "(at start and in each collective) before failing.")
flags.DEFINE_integer("cpu_replicas", 1, "Split the CPU into this many logical devices (mirrored training "
                     "without GPUs).")
# outputs
# quality metrics
flags.DEFINE_integer("eval_every", 0, "Score samples with kgan's quality metrics (classifier score, FCD, precision/"
                     "recall, modes) every N epochs; 0 = off. Needs labelled real data (--data_dir).")
flags.DEFINE_integer("eval_samples", 10000, "Generated images per quality evaluation.")
flags.DEFINE_string("classifier_cache", "~/.cache/kgan", "Where the reference classifier is cached (trained on "
                    "first use from the real data, keyed by its checksum).")
flags.DEFINE_float("max_minutes", None, "Stop after this many minutes of training (the epoch in progress ends "
                   "early and is checkpointed); for equal-time comparisons. Default: no limit.")
flags.DEFINE_integer("num_samples", 64, "Images in each sample grid.")
flags.DEFINE_integer("sample_every", 1, "Write a sample grid every this many epochs.")
flags.DEFINE_integer("checkpoint_every_steps", None, "Also checkpoint every this many steps (default: each epoch).")
flags.DEFINE_integer("keep_checkpoints", 3, "How many recent checkpoints to keep.")
flags.DEFINE_enum("on_nan", "stop", ["stop", "rollback"],
                  "When a loss turns NaN/inf: stop (exit 3, last good checkpoint kept) or roll back to it and "
                  "halve the learning rates.")
flags.DEFINE_enum("progress", "auto", ["auto", "bar", "epoch", "none"],
                  "Progress display: a bar per step, a line per epoch, or nothing (auto: bar on a terminal).")


def main(argv):
    if len(argv) > 1:
        kgan_cli.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    kgan_cli.import_tensorflow_quietly()
    from kgan import train

    values = kgan_cli.flag_values(FLAGS, train.TrainConfig)
    values["verbose"] = {"bar": 1, "epoch": 2, "none": 0}.get(FLAGS.progress, 1 if sys.stdout.isatty() else 2)
    workdir = FLAGS.output_dir or os.path.join("runs", kgan_cli.run_name(sys.argv))
    config = train.TrainConfig(**values)
    with kgan_cli.errors_exit():
        config.validate()
        train.check_output_dir(workdir)  # before the strategy and the data: a bad --output_dir is one line
        from kgan import distribute

        with kgan_cli.native_stderr_held():  # a worker that cannot join the cluster: one line, not TF's log
            strategy = distribute.make_strategy(config.strategy, config.cpu_replicas, tpu=config.tpu,
                                                timeout_s=config.connect_timeout)
        train.train_and_evaluate(config, workdir, run_files={"flags.cfg": kgan_cli.flags_text(FLAGS)},
                                 strategy=strategy)
    logging.info("done: outputs in %s", workdir)


if __name__ == "__main__":
    app.run(main, flags_parser=kgan_cli.parse_flags)
