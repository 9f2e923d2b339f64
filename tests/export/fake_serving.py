"""A stand-in for TF Serving's REST API, on http.server in a thread, backed by a real SavedModel.

It follows https://www.tensorflow.org/tfx/serving/api_rest: `GET /v1/models/<name>[/versions/<v>]/metadata`
answers a GetModelMetadataResponse (signature defs as proto JSON), `POST .../<name>[/versions/<v>]:predict`
takes the row (`instances`) or columnar (`inputs`) format and answers `predictions` or `outputs` (the
bare tensor for a single output, as TF Serving does; `named_outputs=True` answers objects keyed by
output name, as TF Serving does for models with several outputs). Errors are `{"error": "..."}` with
HTTP 400 (bad request / InvalidArgument) or 404 (unknown model). As TF Serving 2.14+ does, an input
left out of a request takes its SignatureDef default (`defaults`), and a string output whose name ends
in `_bytes` is sent as `{"b64": "<base64>"}` (tensorflow_serving/util/json_tensor.cc).
"""

import base64

import http.server
import json
import re
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.python.tools import saved_model_utils

_URL = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<verb>/metadata|:predict)$")


class FakeTFServing:
    def __init__(self, model_name, saved_model_dir, version=1, named_outputs=False):
        self.model_name = model_name
        self.version = str(version)
        self.named_outputs = named_outputs
        self.loaded = tf.saved_model.load(saved_model_dir)
        meta_graph = saved_model_utils.get_meta_graph_def(saved_model_dir, "serve")
        self.signature_defs = {k: json_format.MessageToDict(v, preserving_proto_field_name=True)
                               for k, v in meta_graph.signature_def.items() if not k.startswith("__")}
        self.defaults = {k: {name: tf.make_ndarray(t) for name, t in v.defaults.items()}
                         for k, v in meta_graph.signature_def.items()}
        self.requests = []  # (method, path, parsed JSON body or None)
        self._server = None

    # -------------------------------------------------------------- lifecycle
    def __enter__(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append(("GET", self.path, None))
                self._reply(*fake.handle("GET", self.path, None))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    fake.requests.append(("POST", self.path, None))
                    return self._reply(400, {"error": f"JSON Parse error: {e}"})
                fake.requests.append(("POST", self.path, body))
                self._reply(*fake.handle("POST", self.path, body))

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    # ---------------------------------------------------------------- handling
    def handle(self, method, path, body):
        m = _URL.match(path)
        if not m or m["name"] != self.model_name or (m["version"] and m["version"] != self.version):
            return 404, {"error": f"Servable not found for request: Latest({path})"}
        if m["verb"] == "/metadata":
            if method != "GET":
                return 400, {"error": "metadata takes GET"}
            return 200, {
                "model_spec": {"name": self.model_name, "signature_name": "", "version": self.version},
                "metadata": {"signature_def": {
                    "signature_def": self.signature_defs,
                    "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                }},
            }
        if method != "POST":
            return 400, {"error": "predict takes POST"}
        return self.predict(body)

    def predict(self, body):
        if not isinstance(body, dict):
            return 400, {"error": "JSON Value: not an object"}
        name = body.get("signature_name", "serving_default")
        if name not in self.loaded.signatures:
            return 400, {"error": f"Serving signature name: \"{name}\" not found in signature def"}
        fn = self.loaded.signatures[name]
        _, specs = fn.structured_input_signature
        if ("instances" in body) == ("inputs" in body):
            return 400, {"error": "JSON Value: missing or both 'instances' and 'inputs'"}
        row = "instances" in body
        if row:
            instances = body["instances"]
            if not isinstance(instances, list) or not instances:
                return 400, {"error": "Expecting 'instances' to be an non-empty list/array"}
            if isinstance(instances[0], dict):
                values = {k: [inst.get(k) for inst in instances] for k in specs}
            elif len(specs) == 1:
                values = {next(iter(specs)): instances}
            else:
                return 400, {"error": "instances must be objects for a signature with several inputs"}
        else:
            inputs = body["inputs"]
            values = inputs if isinstance(inputs, dict) else ({next(iter(specs)): inputs} if len(specs) == 1 else None)
            if values is None:
                return 400, {"error": "inputs must be an object for a signature with several inputs"}
        defaults = self.defaults.get(name, {})
        missing = set(specs) - set(values) - set(defaults)
        if missing:
            return 400, {"error": f"input size does not match signature. Missing but required: {sorted(missing)}"}
        values = {**defaults, **values}
        try:
            tensors = {k: tf.constant(np.asarray(values[k]), dtype=specs[k].dtype) for k in specs}
            outputs = {k: _json_ready(k, v.numpy()) for k, v in fn(**tensors).items()}
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
            # TF Serving sends the C++ status message, without the Python-side preamble.
            message = getattr(e, "message", None) or str(e)
            lines = [ln for ln in message.splitlines()
                     if ln.strip() and not ln.startswith(("Graph execution error", "Detected at node", "<stack"))]
            return 400, {"error": "\n".join(lines) or message}
        if row:
            n = len(next(iter(outputs.values())))
            if self.named_outputs or len(outputs) > 1:
                return 200, {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(n)]}
            return 200, {"predictions": next(iter(outputs.values())).tolist()}
        if self.named_outputs or len(outputs) > 1:
            return 200, {"outputs": {k: v.tolist() for k, v in outputs.items()}}
        return 200, {"outputs": next(iter(outputs.values())).tolist()}


def _json_ready(name, array):
    """Strings named *_bytes as {"b64": ...} objects (as TF Serving's REST API); other tensors unchanged."""
    if array.dtype == object and name.endswith("_bytes"):
        encoded = np.empty(array.shape, dtype=object)
        for idx, value in np.ndenumerate(array):
            encoded[idx] = {"b64": base64.b64encode(value).decode("ascii")}
        return encoded
    return array
