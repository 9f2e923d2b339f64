"""A TF Serving gRPC client (PredictionService.Predict on port 8500) sending tensors as `tensor_content` bytes.

Why no `tensorflow-serving-api`: its wheel (30 KB of generated protobuf code)
declares a dependency on `tensorflow`, which pip installs as the 572 MB GPU
wheel next to an installed `tensorflow-cpu` (two distributions writing the same
`tensorflow/` package). Users could only avoid that with `pip install --no-deps`.
The Predict call needs three messages, so this module declares them here, at
import time, with protobuf's descriptor API, on top of TensorFlow's own
`tensorflow.TensorProto`:

    message ModelSpec       { string name = 1; google.protobuf.Int64Value version = 2;
                              string signature_name = 3; string version_label = 4; }
    message PredictRequest  { ModelSpec model_spec = 1; map<string, TensorProto> inputs = 2;
                              repeated string output_filter = 3; }
    message PredictResponse { map<string, TensorProto> outputs = 1; ModelSpec model_spec = 2; }

Field numbers and types are those of `tensorflow_serving/apis/{model,predict}.proto`
(protobuf's wire format depends on nothing else; fields this client does not
send are simply absent). They live in the package `kgan.tfserving`, so they do
not clash with `tensorflow_serving.apis` when both are imported. `grpcio` and
`protobuf` come with TensorFlow: the client needs nothing more.
`tests/export/test_grpc.py` checks the declarations field by field against
TF Serving's own generated protos and runs the client against a server that
decodes requests with them.

Example:

```python
with GrpcClient("localhost:8500", "kgan") as client:
    images = client.generate(16, seed=0, truncation=0.7)          # float32 [16, H, W, C] in [0, 1]
    pngs = client.generate(16, seed=0, output="png")              # uint8, sent as PNG bytes
    images = client.predict(kgan.export.latents(16, 100, seed=0))  # serving_default
```
"""

import numpy as np

from kgan.errors import ConfigError
from kgan.serving.rest import OUTPUT_FORMATS, ServingError, decode_png, signature_for
from kgan.export.saved_model import LABEL_INPUT, LATENT_INPUT, OUTPUT, PNG_OUTPUT, SERVING_DEFAULT, TRUNCATION_INPUT

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
DEFAULT_TARGET = "localhost:8500"
_FILE = "kgan/serving/tfserving_predict.proto"
_PACKAGE = "kgan.tfserving"


def _declare_messages():
    """(ModelSpec, PredictRequest, PredictResponse) classes, wire-compatible with TF Serving's."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import wrappers_pb2  # noqa: F401 - registers google/protobuf/wrappers.proto
    from tensorflow.core.framework import tensor_pb2  # noqa: F401 - registers tensorflow.TensorProto

    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_FILE)
    except KeyError:
        F = descriptor_pb2.FieldDescriptorProto
        f = descriptor_pb2.FileDescriptorProto(name=_FILE, package=_PACKAGE, syntax="proto3")
        f.dependency.extend(["tensorflow/core/framework/tensor.proto", "google/protobuf/wrappers.proto"])

        def field(msg, name, number, type_, type_name=None, repeated=False):
            fd = msg.field.add(name=name, number=number, type=type_,
                               label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                fd.type_name = type_name

        def tensor_map(msg, name, number):
            entry = msg.nested_type.add(name="".join(p.title() for p in name.split("_")) + "Entry")
            entry.options.map_entry = True
            field(entry, "key", 1, F.TYPE_STRING)
            field(entry, "value", 2, F.TYPE_MESSAGE, ".tensorflow.TensorProto")
            field(msg, name, number, F.TYPE_MESSAGE, f".{_PACKAGE}.{msg.name}.{entry.name}", repeated=True)

        spec = f.message_type.add(name="ModelSpec")
        field(spec, "name", 1, F.TYPE_STRING)
        field(spec, "version", 2, F.TYPE_MESSAGE, ".google.protobuf.Int64Value")
        field(spec, "signature_name", 3, F.TYPE_STRING)
        field(spec, "version_label", 4, F.TYPE_STRING)
        request = f.message_type.add(name="PredictRequest")
        field(request, "model_spec", 1, F.TYPE_MESSAGE, f".{_PACKAGE}.ModelSpec")
        tensor_map(request, "inputs", 2)
        field(request, "output_filter", 3, F.TYPE_STRING, repeated=True)
        response = f.message_type.add(name="PredictResponse")
        tensor_map(response, "outputs", 1)
        field(response, "model_spec", 2, F.TYPE_MESSAGE, f".{_PACKAGE}.ModelSpec")
        pool.Add(f)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
                 for name in ("ModelSpec", "PredictRequest", "PredictResponse"))


ModelSpec, PredictRequest, PredictResponse = _declare_messages()


def tensor_proto(array):
    """A numeric numpy array as a `tensorflow.TensorProto` whose data is `tensor_content` (raw little-endian bytes)."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ConfigError(f"only numeric tensors are sent, got {array.dtype}")
    proto = tensor_pb2.TensorProto(dtype=tf.as_dtype(array.dtype).as_datatype_enum)
    for d in array.shape:
        proto.tensor_shape.dim.add(size=int(d))
    proto.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return proto


def to_array(proto):
    """A `tensorflow.TensorProto` (tensor_content or typed values; strings as bytes objects) as numpy."""
    import tensorflow as tf

    return tf.make_ndarray(proto)


def predict_request(model, signature, inputs, version=None):
    """A `PredictRequest` for `signature` of `model` with `inputs` {name: array} as tensor_content."""
    request = PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tensor_proto(value))
    return request


def images_from_response(response, output="float32"):
    """The images of a `PredictResponse`: float32 in [0, 1], or uint8 for `output` "uint8" / "png"."""
    signature_for(output)
    name = PNG_OUTPUT if output == "png" else OUTPUT
    if name not in response.outputs:
        raise ServingError(f"predict response has no {name!r} output (has {sorted(response.outputs)})")
    array = to_array(response.outputs[name])
    if output == "png":
        if array.ndim != 1 or not len(array):
            raise ServingError(f"predict response {name!r} must be a non-empty list of PNGs, got {list(array.shape)}")
        images = [decode_png(bytes(b)) for b in array]
        if len({im.shape for im in images}) != 1:
            raise ServingError("predict response PNGs differ in size")
        return np.stack(images)
    if array.ndim != 4:
        raise ServingError(f"predict response images must be [batch, H, W, C], got shape {list(array.shape)}")
    want = np.uint8 if output == "uint8" else np.float32
    if array.dtype != want:
        raise ServingError(f"predict response images are {array.dtype}, expected {np.dtype(want).name}")
    return array


# gRPC status -> the HTTP status TF Serving's REST API gives the same error (a 4xx means bad input).
_HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
                "UNIMPLEMENTED": 501}


class GrpcClient:
    """Asks a TF Serving model server (gRPC, port 8500) for generated images.

    Args:
        target: "host:port" of the server's gRPC port.
        model: the model name; `version`: a version number (default: the latest).
        timeout: seconds per call.
        max_message_mb: the largest answer accepted (gRPC's default is 4 MB:
            1024 float32 28x28 images are 3.2 MB, 1024 64x64 RGB ones 50 MB).
    """

    def __init__(self, target=DEFAULT_TARGET, model="kgan", version=None, timeout=60.0, max_message_mb=256):
        import grpc

        if str(target).lower().startswith(("http://", "https://")):
            raise ConfigError(f"gRPC target {target!r} is a URL: pass host:port, e.g. localhost:8500")
        self.target, self.model, self.version, self.timeout = target, model, version, timeout
        limit = int(max_message_mb * 1024 * 1024)
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", limit),
                                                               ("grpc.max_send_message_length", limit)])
        self._predict = self._channel.unary_unary(PREDICT_METHOD, request_serializer=PredictRequest.SerializeToString,
                                                  response_deserializer=PredictResponse.FromString)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._channel.close()

    def call(self, signature, inputs):
        """The `PredictResponse` of `signature` for `inputs` {name: array}; a `ServingError` on failure."""
        import grpc

        request = predict_request(self.model, signature, inputs, self.version)
        try:
            return self._predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            code = e.code().name if hasattr(e, "code") and e.code() is not None else "UNKNOWN"
            details = (e.details() or "").strip().splitlines() if hasattr(e, "details") else []
            where = f"{self.target} ({self.model}, {signature})"
            detail = details[0] if details else ""
            if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                raise ServingError(f"cannot reach {where}: {code}: {detail}", status=None) from e
            raise ServingError(f"{where}: {code}: {detail}", status=_HTTP_STATUS.get(code)) from e

    def predict(self, latents, labels=None):
        """Images float32 `[batch, H, W, C]` in [0, 1] for `latents` (and `labels`), via `serving_default`."""
        z = np.asarray(latents, dtype=np.float32)
        if z.ndim != 2 or z.shape[0] == 0:
            raise ConfigError(f"latents must have shape [batch >= 1, latent_dim], got {list(z.shape)}")
        inputs = {LATENT_INPUT: z}
        if labels is not None:
            y = np.asarray(labels).reshape(-1)
            if y.shape != (len(z),) or not np.issubdtype(y.dtype, np.integer):
                raise ConfigError(f"labels must be {len(z)} integers (one per latent), got {y.dtype} {list(y.shape)}")
            inputs[LABEL_INPUT] = y.astype(np.int32)
        return images_from_response(self.call(SERVING_DEFAULT, inputs))

    def generate(self, num_images, seed=0, label=None, truncation=None, output="float32"):
        """Images `[num_images, H, W, C]` from a `generate*` signature: float32 in [0, 1], or uint8 for
        `output` "uint8" / "png". `truncation` (psi in [0, 1]) is sent only when given (default 1.0)."""
        signature = signature_for(output)
        inputs = {"num_images": np.int32(num_images), "seed": np.int64(seed)}
        if label is not None:
            inputs[LABEL_INPUT] = np.int32(label)
        if truncation is not None:
            inputs[TRUNCATION_INPUT] = np.float32(truncation)
        return images_from_response(self.call(signature, inputs), output)


__all__ = ["GrpcClient", "ModelSpec", "OUTPUT_FORMATS", "PredictRequest", "PredictResponse", "images_from_response",
           "predict_request", "tensor_proto", "to_array"]
