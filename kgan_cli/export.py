"""Export a trained run's generator for serving: `kgan-export --run_dir=runs/dcgan` (in a clone:
`python -m common.export ...`).

Writes a new version `<export_base>/<model_name>/<N>/` (TF Serving layout:
`saved_model.pb` + `variables/`, plus `tflite/*.tflite` and a manifest
`kgan_export.json`), built in a temporary directory and renamed into place.
Defaults: export base `<run_dir>/export`, model name `kgan`, every format (`kgan.export.FORMATS`).
A thin shell over `kgan.workdir.load_run` and `kgan.export.export_generator`;
bad input ends with one line on stderr and exit code 2, nothing written.
"""

import os

from absl import flags, logging

from kgan_cli import common

common.import_tensorflow_quietly()

from kgan import export, workdir  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "The --output_dir of a train.py run (holds config.json and checkpoints/).")
flags.DEFINE_string("export_base", None, "Where versions go: <export_base>/<model_name>/<N>/ (default <run_dir>/export). "
                    "Point TF Serving's model base path at <export_base>/<model_name>.")
flags.DEFINE_string("model_name", "kgan", "The model's name in TF Serving (its directory under --export_base).")
flags.DEFINE_list("formats", list(export.FORMATS), f"What to write: {', '.join(export.FORMATS)} (the "
                  "SavedModel is always written: TFLite is converted from it and every version must be servable).")
flags.DEFINE_list("tflite_variants", None, f"TFLite variants (default all): {', '.join(export.TFLITE_VARIANTS)}.")
flags.DEFINE_integer("fixed_batch", None, "Convert TFLite for this batch size only (GPU delegates reject the "
                     "dynamic-shape ops of a dynamic batch). Default: any batch.")
flags.DEFINE_integer("max_images", 1024, "Largest num_images the generate signature accepts.")


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    if not FLAGS.run_dir:
        common.fail("--run_dir is required: the --output_dir of a train.py run")
    for name in ("tflite_variants", "fixed_batch"):  # TFLite's options without TFLite: silently ignored before
        if FLAGS[name].value is not None and "tflite" not in FLAGS.formats:
            common.fail(f"--{name}={FLAGS[name].serialize().split('=', 1)[1]} applies to TFLite files, but "
                        f"--formats={','.join(FLAGS.formats)} writes none: add tflite to --formats, or drop --{name}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # TF's saving chatter; the summary goes to stdout
    with common.errors_exit():
        kwargs = dict(model_name=FLAGS.model_name, formats=FLAGS.formats, fixed_batch=FLAGS.fixed_batch,
                      tflite_variants=FLAGS.tflite_variants or export.TFLITE_VARIANTS, max_images=FLAGS.max_images)
        export_base = FLAGS.export_base or workdir.path(FLAGS.run_dir, workdir.EXPORT)
        export.check_export_args(export_base, **kwargs)  # fail on bad flags before loading the run
        gan, _ = workdir.load_run(FLAGS.run_dir)
        result = export.export_generator(gan, export_base, metadata=export.run_metadata(FLAGS.run_dir, export_base,
                                                                                        FLAGS.model_name), **kwargs)
    print(summary(result), end="")


def summary(result):
    """What an `ExportResult` holds, one line per part written (size, and the SavedModel's signatures or the part's
    path) and per part skipped (why)."""
    lines = [f"exported {result.model_name} version {result.version} to {result.version_dir}"]
    for part, path in result.files.items():
        where = (f"signatures {', '.join(export.SIGNATURES)}" if part == "saved_model"
                 else os.path.relpath(path, result.version_dir))
        lines.append(f"  {part:<12} {result.sizes[part] / 1e6:8.2f} MB  {where}")
    lines.extend(f"  {part:<12} skipped: {reason}" for part, reason in result.skipped.items())
    return "".join(line + "\n" for line in lines)


def main():
    common.register_key_flags(["run_dir", "export_base", "model_name", "formats", "tflite_variants", "fixed_batch",
                               "max_images"])
    common.run(_main)


if __name__ == "__main__":
    main()
