"""Ship the generator: a TF Serving SavedModel and TFLite variants, written atomically.

Modules: `writer` (`export_generator`, the manifest), `publish` (atomic
versions), `saved_model` (the signatures), `tflite` (the converter). Clients
that read exports live in `kgan.serving`.

`export_generator(gan, "exports")` writes one new *version* in TF Serving's
layout and returns what it wrote:

    exports/                          export base (TF Serving --model_base_path is exports/kgan)
      kgan/                           model name
        1/                            version: max existing integer + 1
          saved_model.pb              signatures serving_default, generate, generate_uint8, generate_png
          variables/
          kgan_export.json            manifest: shapes, signatures, files and sizes
          tflite/                     TFLite variants, converted from this SavedModel
            generator_float32.tflite
            generator_float16.tflite
            generator_int8_dynamic.tflite
            generator_int8_full.tflite
        2/ ...

The TFLite files live inside the version directory so that a version is one
self-consistent unit (same weights, published by the same rename); TF Serving
reads only `saved_model.pb` and `variables/` and ignores the rest. Every
version directory holds the SavedModel, even with `formats=("tflite",)`: TF
Serving serves the highest version it finds, and a version it cannot load
would take the model down.

A version is built in a hidden temporary directory inside the export base
(`.kgan-export-*`, same filesystem) and published with one `os.rename`, so a
server polling the base never sees half a version, and a failed export leaves
no version behind. An existing version is never overwritten. (A process killed
mid-export can leave a `.kgan-export-*` directory behind; it is never served
and can be deleted.)

Signatures (see `kgan.export.saved_model`): `serving_default` maps `latent`
float32 `[batch, latent_dim]` to `images` float32 `[batch, H, W, C]` in
[0, 1]; `generate` maps scalars `num_images` (int32, 1..1024), `seed`
(int64) and optionally `truncation` (float32, default 1) to `images`, drawing
the same latents as `GAN.generate(n, seed, truncation=psi)`; `generate_uint8`
and `generate_png` answer the same images as uint8 or PNG files.

Adding a format or a TFLite variant: one entry in `FORMAT_SPECS` (a
`FormatSpec`: the function that writes its files, see `kgan.export.writer`) or
in `TFLITE_VARIANT_SPECS` (a `tflite.VariantSpec`: converter options, and
`quantized_activations` for the skip rules of `int8_full`). `FORMATS`,
`TFLITE_VARIANTS`, the checks, the manifest, `ExportResult` (`sizes`, `files`)
and kgan-export's help and summary follow from the tables.

Which weights: a `GAN` exports the network `GAN.generate` samples with
(`gan.sampling_generator`: the EMA copy `gan.ema_generator` when the run keeps
one, else `gan.generator`); pass a generator model (or `generator=`) to choose. The exported
graph is inference-only (`training=False`: BatchNorm moving averages, no
dropout).

Example:

```python
import kgan.export, kgan.serving, kgan.workdir   # `import kgan` alone loads neither kgan.export nor kgan.serving
gan, _ = kgan.workdir.load_run("runs/dcgan")
result = kgan.export.export_generator(gan, "runs/dcgan/export")
result.version_dir   # 'runs/dcgan/export/kgan/1'
run = kgan.serving.TFLiteGenerator(result.tflite["float32"])
images = run.generate(16, seed=0)
```
"""

from kgan.export import publish, saved_model, tflite, writer
from kgan.export.publish import MANIFEST, TMP_PREFIX, versions
from kgan.export.saved_model import MAX_IMAGES, SIGNATURES, latents
from kgan.export.tflite import VARIANT_SPECS as TFLITE_VARIANT_SPECS
from kgan.export.tflite import VARIANTS as TFLITE_VARIANTS
from kgan.export.writer import (FORMAT_SPECS, FORMATS, ExportJob, ExportResult, FormatOutput, FormatSpec,
                                check_export_args, export_generator, inference_generator, run_metadata)

__all__ = ["ExportJob", "ExportResult", "FORMATS", "FORMAT_SPECS", "FormatOutput", "FormatSpec", "MANIFEST",
           "MAX_IMAGES", "SIGNATURES", "TFLITE_VARIANTS", "TFLITE_VARIANT_SPECS", "TMP_PREFIX", "check_export_args",
           "export_generator", "inference_generator", "latents", "publish", "run_metadata", "saved_model", "tflite",
           "versions", "writer"]
