"""TFLite (LiteRT) variants of an exported generator: the converter.

Each variant is converted with `tf.lite.TFLiteConverter` from the SavedModel's
`serving_default` signature, so it computes exactly what TF Serving computes:
input `latent` float32 `[batch, latent_dim]`, output `images` float32
`[batch, H, W, C]` in [0, 1]. All variants keep a float32 interface, so they
are interchangeable:

| variant | weights | activations |
| --- | --- | --- |
| `float32` | float32 | float32 |
| `float16` | float16 (dequantized to float32 at load) | float32 |
| `int8_dynamic` | int8 (dynamic-range quantization) | float32, int8 kernels where the op supports it |
| `int8_full` | int8 | int8 throughout (calibrated on a representative set of latents), one quantize op at the input and one dequantize op at the output |

`fixed_batch=N` converts for batch N only. A dynamic batch leaves
Shape/Pack/StridedSlice ops in the graph (from `Conv2DTranspose`'s output
shape), which GPU delegates reject; a fixed batch removes them.

`kgan.serving.TFLiteGenerator` runs any of them.

Adding a variant is one entry in `VARIANT_SPECS`: the converter options, and
`quantized_activations=True` for a variant whose activations are integers
(calibrated on latents, like `int8_full`). The export skips such a variant,
with the reason, for a generator with a `quantization_sensitive` layer, and
when the converter rejects it; any other variant's failure fails the export.
"""

import dataclasses
import warnings

import numpy as np

from kgan.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """How one TFLite variant is converted (one entry of `VARIANT_SPECS`).

    Attributes:
        description: what it is, for log lines (e.g. "full-integer int8").
        optimize: set `converter.optimizations = [tf.lite.Optimize.DEFAULT]` (weight quantization).
        supported_types: names of `tf` dtypes for `converter.target_spec.supported_types`, e.g. ("float16",).
        supported_ops: names of `tf.lite.OpsSet` members for `converter.target_spec.supported_ops`.
        quantized_activations: integer activations, calibrated on `REPRESENTATIVE_SAMPLES` latents. The export
            skips the variant (recording why) for a `quantization_sensitive` generator or when it does not convert.
    """

    description: str
    optimize: bool = True
    supported_types: tuple = ()
    supported_ops: tuple = ()
    quantized_activations: bool = False


VARIANT_SPECS = {
    "float32": VariantSpec("float32", optimize=False),
    "float16": VariantSpec("float16 weights", supported_types=("float16",)),
    "int8_dynamic": VariantSpec("dynamic-range int8"),
    "int8_full": VariantSpec("full-integer int8", supported_ops=("TFLITE_BUILTINS_INT8",), quantized_activations=True),
}
VARIANTS = tuple(VARIANT_SPECS)
REPRESENTATIVE_SAMPLES = 256
REPRESENTATIVE_SEED = 1234


def filename(variant):
    """The file name of a variant: `generator_<variant>.tflite`."""
    return f"generator_{variant}.tflite"


def check_variants(variants):
    """Returns `variants` as a tuple; raises `ConfigError` for an unknown one."""
    variants = tuple(variants)
    for v in variants:
        if v not in VARIANT_SPECS:
            raise ConfigError(f"unknown TFLite variant {v!r}: expected one of {', '.join(VARIANT_SPECS)}")
    return variants


def spec(variant):
    """The `VariantSpec` of `variant`; raises `ConfigError` for an unknown one."""
    check_variants([variant])
    return VARIANT_SPECS[variant]


def convert(saved_model_dir, variant="float32", fixed_batch=None, representative_samples=REPRESENTATIVE_SAMPLES,
            num_classes=None):
    """Converts the `serving_default` signature of a kgan SavedModel to a TFLite flatbuffer (bytes).

    A conditional generator's model takes a second input `label` int32
    `[batch]`; `num_classes` is then needed to calibrate a variant with
    `quantized_activations` (`int8_full`).

    Example:

    ```python
    data = convert("exports/kgan/1", "int8_dynamic")
    open("generator_int8_dynamic.tflite", "wb").write(data)
    ```
    """
    import tensorflow as tf

    from kgan.export import saved_model as sm

    options = spec(variant)
    loaded = tf.saved_model.load(str(saved_model_dir))
    signature = loaded.signatures[sm.SERVING_DEFAULT]
    specs = signature.structured_input_signature[1]
    latent_dim = int(specs[sm.LATENT_INPUT].shape[-1])
    conditional = sm.LABEL_INPUT in specs
    if conditional and options.quantized_activations and not num_classes:
        raise ValueError(f"{variant} calibration of a conditional generator needs num_classes")
    if fixed_batch is None:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir),
                                                             signature_keys=[sm.SERVING_DEFAULT])
    else:
        # Re-trace the signature for one static batch size: shape inference then
        # folds away the dynamic-shape ops.
        latent_spec = tf.TensorSpec([int(fixed_batch), latent_dim], tf.float32, name=sm.LATENT_INPUT)
        if conditional:
            @tf.function(input_signature=[latent_spec,
                                          tf.TensorSpec([int(fixed_batch)], tf.int32, name=sm.LABEL_INPUT)])
            def serving_default(latent, label):
                return signature(latent=latent, label=label)
        else:
            @tf.function(input_signature=[latent_spec])
            def serving_default(latent):
                return signature(latent=latent)

        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [serving_default.get_concrete_function()], loaded)

    if options.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.supported_types:
        converter.target_spec.supported_types = [getattr(tf, name) for name in options.supported_types]
    if options.quantized_activations:
        batch = int(fixed_batch or 1)

        def representative_dataset():
            z = sm.stateless_latents(representative_samples, latent_dim, REPRESENTATIVE_SEED).numpy()
            for i in range(0, representative_samples - batch + 1, batch):
                sample = {sm.LATENT_INPUT: z[i : i + batch]}
                if conditional:
                    sample[sm.LABEL_INPUT] = (np.arange(i, i + batch) % num_classes).astype(np.int32)
                yield sample

        converter.representative_dataset = representative_dataset
    if options.supported_ops:
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, name) for name in options.supported_ops]
    with warnings.catch_warnings():
        # Calibration runs TF's own (deprecated) interpreter internally; nothing to act on here.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        return converter.convert()
