"""Bytes per generated image on the wire, for each output format of an exported generator.

    python bench/serving_sizes.py EXPORT_VERSION_DIR [--num_images=64]

Runs the `generate`, `generate_uint8` and `generate_png` signatures of the
SavedModel (seed 0) and sizes the answers as TF Serving would send them:

- REST (JSON): floats written as TF Serving writes them (shortest of `%g` and
  `%.9g` that round-trips a float32, `.0` appended to whole numbers; arrays on one
  line with ", " between items: tensorflow_serving/util/json_tensor.cc), uint8 as
  integers, PNGs as `{"b64": "..."}`.
- gRPC (PredictResponse protobuf): numeric tensors as `tensor_content` bytes
  (TF Serving's `--enable_serialization_as_tensor_content`, set in
  docker/serving/docker-compose.yml) and as typed repeated fields (TF Serving's
  default: packed `float_val`; uint8 travels in `int_val` varints, 1-2 bytes per
  pixel), PNGs as `string_val`.

Sizes depend on the images (PNG compresses flat backgrounds), not on the machine.
"""

import argparse
import base64
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)


def _json_float(x):
    s = "%g" % x
    if np.float32(s) != x:
        s = "%.9g" % x
    if "." not in s and "e" not in s and s not in ("nan", "inf", "-inf"):
        s += ".0"
    return s


def tf_serving_json(array, number=str):
    """A nested array as TF Serving's REST API writes it (single-line arrays, ", " separators)."""
    if isinstance(array, np.ndarray) and array.ndim > 0:
        return "[" + ", ".join(tf_serving_json(a, number) for a in array) + "]"
    return number(array)


def measure(saved_model_dir, num_images=64, seed=0):
    """{format: bytes per image}; keys rest_float_json, rest_uint8_json, rest_png_b64, grpc_float32,
    grpc_float32_fields, grpc_uint8, grpc_uint8_fields, grpc_png."""
    import tensorflow as tf

    from kgan.serving import grpc as grpc_lib

    m = tf.saved_model.load(str(saved_model_dir))
    args = dict(num_images=tf.constant(num_images), seed=tf.constant(seed, tf.int64), truncation=tf.constant(1.0))
    floats = m.signatures["generate"](**args)["images"].numpy()
    u8 = m.signatures["generate_uint8"](**args)["images"].numpy()
    pngs = m.signatures["generate_png"](**args)["png_bytes"].numpy()
    n = float(num_images)
    out = {
        # columnar answers with one output: {"outputs": <tensor>}
        "rest_float_json": len('{"outputs": ' + tf_serving_json(floats, _json_float) + "}") / n,
        "rest_uint8_json": len('{"outputs": ' + tf_serving_json(u8) + "}") / n,
        "rest_png_b64": len(json.dumps({"outputs": [{"b64": base64.b64encode(p).decode()} for p in pngs]})) / n,
    }

    def response(name, proto):
        r = grpc_lib.PredictResponse()
        r.model_spec.name = "kgan"
        r.outputs[name].CopyFrom(proto)
        return len(r.SerializeToString()) / n

    out["grpc_float32"] = response("images", grpc_lib.tensor_proto(floats))
    out["grpc_float32_fields"] = response("images", tf.make_tensor_proto(floats.ravel().tolist(), tf.float32,
                                                                          floats.shape))
    out["grpc_uint8"] = response("images", grpc_lib.tensor_proto(u8))
    fields = grpc_lib.tensor_proto(u8)
    fields.ClearField("tensor_content")
    fields.int_val.extend(u8.ravel().tolist())  # TF Serving's default: uint8 values in int_val
    out["grpc_uint8_fields"] = response("images", fields)
    out["grpc_png"] = response("png_bytes", tf.make_tensor_proto(pngs))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model", help="an export version directory, e.g. runs/dcgan/export/kgan/1")
    parser.add_argument("--num_images", type=int, default=64)
    args = parser.parse_args()
    sizes = measure(args.saved_model, args.num_images)
    base = sizes["rest_float_json"]
    print(f"bytes per image, {args.num_images} images from seed 0 of {args.saved_model}\n")
    print("| format | bytes per image | vs JSON floats |")
    print("| --- | --- | --- |")
    for k, v in sizes.items():
        print(f"| {k} | {v:,.0f} | {v / base:.3f} |")


if __name__ == "__main__":
    main()
