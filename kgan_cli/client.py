"""Query an exported generator and write a PNG grid: `kgan-client -n 16 --seed 0 --out grid.png` (in a clone:
`python -m kgan_cli.client ...`).

Three back ends (pass at most one of `--server`, `--grpc`, `--tflite`), the same grid:

- TF Serving's REST API (`--server`, default http://localhost:8501, model
  `--model=kgan`): by default the `generate` signature (the server draws the
  latents from `--seed`); with `--signature=serving_default` or
  `--latents=z.npy` the client sends latents in the row (`instances`) or
  columnar (`inputs`) format of `--request_format`.
- TF Serving's gRPC API (`--grpc=localhost:8500`): the same requests as
  tensors in protobuf `tensor_content` bytes (kgan.serving.grpc).
- A local TFLite file (`--tflite=.../tflite/generator_float32.tflite`), no server.

`--output=uint8` or `--output=png` asks the `generate_uint8` / `generate_png`
signature: the same images (rounded to 8 bits), 4x / ~10x fewer bytes than
float32 on the wire. `--truncation=psi` (in [0, 1]) shrinks the server's latents.
Both need a server's `generate*` signatures: with `--tflite` they are refused
(a TFLite file does not record which latent components truncation keeps; pass
truncated `--latents` instead, e.g. from `kgan.sampling.truncate`).

The latents for a seed are those of `GAN.generate(n, seed)`, so every path
gives the same images. Bad input (a wrong latent width, num_images outside
[1, 1024] (or the export's --max_images), --truncation outside [0, 1], a --server that is not an http(s) URL,
an option the back end cannot honour, an --out under a file, a request the
server rejects) ends with one line on stderr and exit code 2; an unreachable
server, a server failure or a failed write of --out with one line and exit code 1.
"""

import os
import sys

import numpy as np
from absl import flags

from kgan_cli import common

common.import_tensorflow_quietly()

from kgan import export, serving  # noqa: E402
from kgan import images as images_lib  # noqa: E402
from kgan.errors import ConfigError  # noqa: E402
from kgan.io import atomic_write, existing_ancestor  # noqa: E402
from kgan.serving import ServingError, rest  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("server", "http://localhost:8501", "TF Serving REST address.")
flags.DEFINE_string("model", "kgan", "Model name on the server.")
flags.DEFINE_integer("version", None, "Model version (default: the latest the server has).")
flags.DEFINE_integer("num_images", 16, "How many images.", short_name="n")
flags.DEFINE_integer("seed", 0, "Seed of the latents: the same seed gives the same images.")
flags.DEFINE_enum("signature", "generate", ["generate", "serving_default"],
                  "generate: the server draws the latents; serving_default: the client sends them.")
flags.DEFINE_enum("request_format", "inputs", ["inputs", "instances"],
                  "JSON request format for serving_default: columnar 'inputs' or row 'instances'.")
flags.DEFINE_string("latents", None, "A .npy file of latents [n, latent_dim] to send (implies serving_default).")
flags.DEFINE_integer("label", None, "Conditional models only: the class of every image, or -1 to cycle "
                     "0, 1, ..., num_classes - 1 (with --tflite, the default; outside its export "
                     "folder it needs --num_classes).")
flags.DEFINE_integer("num_classes", None, "Conditional TFLite models only: how many classes --label=-1 cycles "
                     "(default: the export's kgan_export.json beside the file).")
flags.DEFINE_string("grpc", None, "Ask TF Serving's gRPC API at host:port (e.g. localhost:8500) instead of REST.")
flags.DEFINE_enum("output", "float32", ["float32", "uint8", "png"],
                  "What the generate signature answers: float32 images, uint8 images or PNG files.")
flags.DEFINE_float("truncation", None, "Truncation psi in [0, 1] for the generate signature (default: none).")
flags.DEFINE_string("tflite", None, "Run this .tflite file locally instead of asking a server.")
flags.DEFINE_integer("num_threads", None, "TFLite interpreter threads (default: the runtime's).")
flags.DEFINE_string("out", "grid.png", "Where the PNG grid goes.")
flags.DEFINE_integer("ncols", None, "Grid columns (default: about square).")
flags.DEFINE_float("timeout", 60.0, "Seconds to wait for the server.")


def _load_latents(path):
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read latents from {path}: {e}") from e
    if z.ndim != 2 or z.shape[0] == 0 or not np.issubdtype(z.dtype, np.number):
        raise ConfigError(f"latents in {path} must be a numeric array [n >= 1, latent_dim], "
                          f"got {z.dtype} {list(z.shape)}")
    return z.astype("float32")


def _check_flags():
    """What every back end checks before it runs: one back end, the ranges of --truncation and --label, --out."""
    backends = [f"--{name}" for name in ("server", "grpc", "tflite") if FLAGS[name].present]
    if len(backends) > 1:
        raise ConfigError(f"{' and '.join(backends)} are different back ends: pass one")
    if FLAGS.truncation is not None and not 0.0 <= FLAGS.truncation <= 1.0:  # NaN fails too
        raise ConfigError(f"--truncation={FLAGS.truncation:g} is outside [0, 1] (1 = no truncation)")
    if FLAGS.num_classes is not None and FLAGS.num_classes < 1:
        raise ConfigError(f"--num_classes={FLAGS.num_classes} must be at least 1")
    if FLAGS.label is not None:
        high = "" if FLAGS.num_classes is None else f", at most {FLAGS.num_classes - 1}"
        if FLAGS.label < -1 or (FLAGS.num_classes is not None and FLAGS.label >= FLAGS.num_classes):
            raise ConfigError(f"--label={FLAGS.label} is not a class: expected a class >= 0{high}, "
                              "or -1 to cycle the classes")
    _check_out(FLAGS.out)


def _check_out(path):
    """A ConfigError, before anything runs, if `path` cannot be a file: empty, a directory, or under a file."""
    if not path:
        raise ConfigError("--out is empty: pass the path of the PNG grid, e.g. --out=grid.png")
    if os.path.isdir(path):
        raise ConfigError(f"--out={path} is a directory: pass a file path, e.g. --out={os.path.join(path, 'grid.png')}")
    parent = existing_ancestor(os.path.dirname(os.path.abspath(path)))  # atomic_write creates the missing ones
    if not os.path.isdir(parent):
        raise ConfigError(f"--out={path} cannot be written: {parent} is a file, not a directory")


def _images():
    _check_flags()
    z = _load_latents(FLAGS.latents) if FLAGS.latents else None
    if z is None and FLAGS.num_images < 1:
        raise ConfigError(f"num_images must be at least 1, got {FLAGS.num_images}")
    if FLAGS.tflite:
        # What only a server's generate* signatures do is refused, not ignored. Truncation is not redone here:
        # the TFLite file does not record which latent components it keeps (a self-conditioned generator keeps 0).
        if FLAGS.truncation is not None:
            raise ConfigError(f"--truncation={FLAGS.truncation:g} needs a server (the generate signature): a TFLite "
                              "file does not record which latent components truncation keeps; pass truncated "
                              "--latents instead")
        if FLAGS.output != "float32":
            raise ConfigError(f"--output={FLAGS.output} asks a server's generate_{FLAGS.output} signature; "
                              "--tflite answers float32 images (the same grid): leave --output out")
        run = serving.TFLiteGenerator(FLAGS.tflite, num_threads=FLAGS.num_threads)
        if not run.conditional and (FLAGS.label is not None or FLAGS.num_classes is not None):
            name, value = ("label", FLAGS.label) if FLAGS.label is not None else ("num_classes", FLAGS.num_classes)
            raise ConfigError(f"--{name}={value}: {FLAGS.tflite} is not a conditional generator (it takes no label)")
        labels = None
        if run.conditional and FLAGS.label is not None and FLAGS.label >= 0:
            labels = FLAGS.label
        if z is not None:
            if run.conditional and labels is None:
                num_classes = FLAGS.num_classes or run.num_classes  # the export's manifest, when beside the file
                if not num_classes:
                    raise ConfigError("a conditional model needs --label=K, or --label=-1 with --num_classes")
                labels = np.arange(len(z)) % num_classes
            return run(z, labels)
        return run.generate(FLAGS.num_images, FLAGS.seed, labels=labels, num_classes=FLAGS.num_classes)
    if FLAGS.grpc:
        from kgan.serving import grpc as grpc_lib

        client = grpc_lib.GrpcClient(FLAGS.grpc, FLAGS.model, FLAGS.version, timeout=FLAGS.timeout)
    else:
        client = rest.RestClient(FLAGS.server, FLAGS.model, FLAGS.version, timeout=FLAGS.timeout)
    if z is None and FLAGS.signature == "generate":
        if FLAGS.request_format == "instances":
            raise ConfigError("--request_format=instances needs --signature=serving_default: generate takes "
                              "scalars, which only the columnar 'inputs' format can send")
        # the server enforces its num_images cap, the label and truncation ranges
        images = client.generate(FLAGS.num_images, FLAGS.seed, FLAGS.label, truncation=FLAGS.truncation,
                                 output=FLAGS.output)
        return images.astype("float32") / 255.0 if images.dtype == np.uint8 else images
    if FLAGS.output != "float32" or FLAGS.truncation is not None:
        given = f"--output={FLAGS.output}" if FLAGS.output != "float32" else f"--truncation={FLAGS.truncation:g}"
        raise ConfigError(f"{given}: --output and --truncation apply to --signature=generate without --latents "
                          "(the server draws the latents)")
    if FLAGS.grpc:
        if z is None:
            raise ConfigError("--grpc with --signature=serving_default needs --latents=z.npy (gRPC has no metadata "
                              "call here to learn latent_dim)")
        labels = None if FLAGS.label is None else np.full(len(z), FLAGS.label)
        return client.predict(z, labels)
    latent_dim = client.latent_dim()
    if z is None:
        z = export.latents(FLAGS.num_images, latent_dim, FLAGS.seed)
    if z.shape[1] != latent_dim:
        raise ConfigError(f"latents have width {z.shape[1]}, but model {FLAGS.model!r} takes latent_dim={latent_dim}")
    labels = None
    if FLAGS.label is not None:
        if FLAGS.label < 0 and not FLAGS.num_classes:
            raise ConfigError("--label=-1 with --signature=serving_default needs --num_classes to cycle")
        labels = np.full(len(z), FLAGS.label) if FLAGS.label >= 0 else np.arange(len(z)) % FLAGS.num_classes
    return client.predict(z, FLAGS.request_format, labels)


class _WriteFailed(Exception):
    """--out could not be written (the OS said why); what was there is left as it was."""


def _write_grid(images):
    data = images_lib.png_bytes(images_lib.make_grid(images, ncols=FLAGS.ncols))
    try:
        atomic_write(FLAGS.out, data)
    except OSError as e:
        raise _WriteFailed(f"cannot write {FLAGS.out}: {e.strerror or e}") from e


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    with common.errors_exit():
        try:
            # What native code prints (TFLite's "Created TensorFlow Lite XNNPACK delegate for CPU.") is replayed
            # only on success, so that an error stays one line.
            with common.native_stderr_held():
                images = _images()
                _write_grid(images)
        except (ServingError, _WriteFailed) as e:
            message = str(e).splitlines()[0]
            status = getattr(e, "status", None)
            if status is not None and 400 <= status < 500:
                common.fail(message)  # the server rejected the request: bad input, exit 2
            print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
            sys.exit(1)
    n, h, w, c = images.shape
    print(f"wrote {FLAGS.out}: {n} images {h}x{w}x{c}")


def main():
    common.register_key_flags(["server", "model", "version", "num_images", "seed", "signature", "request_format",
                               "latents", "label", "num_classes", "grpc", "output", "truncation", "tflite",
                               "num_threads", "out", "ncols", "timeout"])
    common.run(_main)


if __name__ == "__main__":
    main()
