"""Sample a trained run: `kgan-generate --run_dir=runs/dcgan --num=50000 --out=samples/`.

Two jobs:

- A sample set for external metrics: `--num` images from `--seed` as
  `000000.png, 000001.png, ...` in the folder `--out` (what clean-fid,
  torch-fidelity and pytorch-fid read), or one `--out=FILE.npz` holding uint8
  `[num, H, W, C]` under `arr_0`. Same flags, same bytes.
- A latent interpolation: `--interpolate=0,1,2 --steps=16 --out=interp.gif`
  writes an animated GIF and, beside it, the frames as one PNG grid
  (`interp.png`): great circles through the seeds' latents.

`--truncation=psi` in [0, 1] shrinks the latents toward their mean (the
truncation trick; 1 = off), as `GAN.generate(..., truncation=psi)` and the
exported `generate` signature do. Uses the run's latest checkpoint (the EMA
generator if the run keeps one). Bad input ends with one line on stderr and
exit code 2, before anything is written or generated: that includes an `--out`
that cannot be written (a path under a file, a folder that takes no new files)
and an existing output, which is never overwritten (a `.npz`, the GIF or its
grid, a folder that already holds PNGs). An error while writing (a full disk)
ends with one line and exit code 1.
"""

import os
import sys

from absl import flags

from kgan_cli import common

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "The --output_dir of a train.py run.")
flags.DEFINE_integer("num", 50000, "How many images to write (sample sets).")
flags.DEFINE_string("out", None, "A folder for PNGs, a FILE.npz, or (with --interpolate) a FILE.gif.")
flags.DEFINE_integer("seed", 0, "Seed of the latents: the same seed writes the same files.")
flags.DEFINE_float("truncation", 1.0, "Truncation psi in [0, 1]: shrink the latents toward their mean (1 = off).")
flags.DEFINE_integer("batch_size", 256, "Images generated per batch.")
flags.DEFINE_list("interpolate", None, "Seeds to interpolate between, e.g. 0,1,2 (writes a GIF and a PNG grid).")
flags.DEFINE_integer("steps", 16, "Frames from one seed to the next (with --interpolate).")
flags.DEFINE_integer("label", None, "Conditional runs only: the class of every image (default: cycle the classes).")
flags.DEFINE_bool("progress", True, "Show a progress bar.")

EXIT_WRITE_FAILED = 1


def _check_flags():
    if not FLAGS.run_dir:
        common.fail("--run_dir is required: the --output_dir of a train.py run")
    if not FLAGS.out:
        common.fail("--out is required: a folder, a FILE.npz, or (with --interpolate) a FILE.gif")
    if not 0.0 <= FLAGS.truncation <= 1.0:
        common.fail(f"--truncation must be in [0, 1] (1 = off), got {FLAGS.truncation}")
    if FLAGS.batch_size < 1:
        common.fail(f"--batch_size must be at least 1, got {FLAGS.batch_size}")
    if FLAGS.interpolate is not None:
        try:
            seeds = [int(s) for s in FLAGS.interpolate]
        except ValueError:
            common.fail(f"--interpolate must be comma-separated integer seeds, got {','.join(FLAGS.interpolate)}")
        if len(seeds) < 2:
            common.fail("--interpolate needs at least two seeds, e.g. --interpolate=0,1")
        if FLAGS.steps < 1:
            common.fail(f"--steps must be at least 1, got {FLAGS.steps}")
        if not FLAGS.out.lower().endswith(".gif"):
            common.fail(f"--out must end in .gif with --interpolate (the grid goes beside it), got {FLAGS.out}")
        return seeds
    if FLAGS.num < 1:
        common.fail(f"--num must be at least 1, got {FLAGS.num}")
    if FLAGS.out.lower().endswith(".gif") and not os.path.isdir(FLAGS.out):
        common.fail(f"--out={FLAGS.out}: a GIF is written with --interpolate; a sample set goes to a folder or a "
                    "FILE.npz")
    return None


def _write_failed(path, error):
    """An OSError while writing (after the checks): one line naming `path` and the OS's reason, exit code 1."""
    prog = os.path.basename(sys.argv[0] or "kgan")
    print(f"{prog}: error: cannot write {path}: {error.strerror or error}", file=sys.stderr)
    sys.exit(EXIT_WRITE_FAILED)


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    seeds = _check_flags()
    psi = None if FLAGS.truncation == 1.0 else FLAGS.truncation
    with common.errors_exit():
        from kgan import sampling, workdir
        from kgan.errors import ConfigError

        # A bad, unwritable or existing --out fails before the run is loaded and anything generated.
        grid = os.path.splitext(FLAGS.out)[0] + ".png"
        if seeds is None:
            sampling.check_output(FLAGS.out)
        else:
            sampling.check_new_file(FLAGS.out, make_parents=True)
            try:
                sampling.check_new_file(grid, make_parents=True)
            except ConfigError as e:
                raise ConfigError(f"{e} (the grid that goes beside --out={FLAGS.out})") from None
        gan, _ = workdir.load_run(FLAGS.run_dir)
        if seeds is not None:
            frames = gan.interpolate(seeds, steps=FLAGS.steps, truncation=psi, label=FLAGS.label)
            try:
                sampling.write_interpolation(frames, gif_path=FLAGS.out, grid_path=grid, steps=FLAGS.steps)
            except OSError as e:  # the grid is written first
                _write_failed(FLAGS.out if os.path.exists(grid) else grid, e)
            print(f"wrote {FLAGS.out} and {grid}: {len(frames)} frames through seeds {','.join(map(str, seeds))}")
            return
        labels = FLAGS.label if FLAGS.label is not None else None
        try:
            out = gan.write_samples(FLAGS.num, FLAGS.out, seed=FLAGS.seed, batch_size=FLAGS.batch_size,
                                    progress=FLAGS.progress, truncation=psi, labels=labels)
        except OSError as e:
            _write_failed(FLAGS.out, e)
    print(f"wrote {FLAGS.num} images to {out} (seed {FLAGS.seed}, truncation {FLAGS.truncation:g})")


def main():
    common.register_key_flags(["run_dir", "num", "out", "seed", "truncation", "batch_size", "interpolate", "steps",
                               "label", "progress"])
    common.run(_main)


if __name__ == "__main__":
    main()
