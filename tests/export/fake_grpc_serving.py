"""A stand-in for TF Serving's gRPC PredictionService, in-process on 127.0.0.1, backed by a real SavedModel.

It is built from TF Serving's own generated code (`tensorflow_serving.apis`: `predict_pb2`,
`prediction_service_pb2_grpc`), so the requests a client sends are decoded exactly as TF Serving
decodes them. Like TF Serving it looks the signature up by `model_spec.signature_name` (default
`serving_default`), fills inputs a request leaves out from the SignatureDef's `defaults`, answers
the signature's outputs as TensorProtos, and fails with INVALID_ARGUMENT (bad input) or NOT_FOUND
(unknown model or version).
"""

from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.python.tools import saved_model_utils
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


class FakeGrpcServing(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model_name, saved_model_dir, version=1):
        self.model_name = model_name
        self.version = int(version)
        self.loaded = tf.saved_model.load(saved_model_dir)
        meta = saved_model_utils.get_meta_graph_def(saved_model_dir, "serve")
        self.defaults = {k: {n: tf.make_ndarray(t) for n, t in v.defaults.items()} for k, v in meta.signature_def.items()}
        self.requests = []  # the decoded predict_pb2.PredictRequest of every call
        self._server = None
        self.port = None

    def __enter__(self):
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                                   options=[("grpc.max_send_message_length", 256 << 20)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")  # a free port
        self._server.start()
        return self

    def __exit__(self, *exc):
        self._server.stop(grace=None)

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def Predict(self, request, context):  # noqa: N802 - the gRPC method name
        assert isinstance(request, predict_pb2.PredictRequest)
        self.requests.append(request)
        spec = request.model_spec
        if spec.name != self.model_name or (spec.HasField("version") and spec.version.value != self.version):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({spec.name}, "
                                                     f"{spec.version.value})")
        name = spec.signature_name or "serving_default"
        if name not in self.loaded.signatures:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f'Serving signature name: "{name}" not found in signature def')
        fn = self.loaded.signatures[name]
        _, specs = fn.structured_input_signature
        values = {**self.defaults.get(name, {}), **{k: tf.make_ndarray(v) for k, v in request.inputs.items()}}
        if set(values) != set(specs):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"input size does not match signature: {sorted(request.inputs)} vs {sorted(specs)}")
        try:
            tensors = {k: tf.constant(np.asarray(values[k]), dtype=specs[k].dtype) for k in specs}
            outputs = fn(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
            message = getattr(e, "message", None) or str(e)
            lines = [ln for ln in message.splitlines()
                     if ln.strip() and not ln.startswith(("Graph execution error", "Detected at node", "<stack"))]
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "\n".join(lines) or message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(spec)
        response.model_spec.version.value = self.version
        for k, v in outputs.items():
            response.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
        return response
