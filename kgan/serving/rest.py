"""A TF Serving REST client for exported generators, on the standard library (`urllib`).

Requests and responses follow TF Serving's documented JSON formats
(https://www.tensorflow.org/tfx/serving/api_rest):

- `POST {server}/v1/models/{model}[/versions/{v}]:predict` with either the
  *row* format `{"signature_name": ..., "instances": [{"latent": [...]}, ...]}`
  (answered with `{"predictions": ...}`) or the *columnar* format
  `{"signature_name": ..., "inputs": {"latent": [[...], ...]}}` (answered with
  `{"outputs": ...}`). With one named output TF Serving omits its name, so a
  response holds either the tensor itself or an object `{"images": ...}`; both
  are accepted.
- The `generate` signatures take scalars, which only the columnar format can
  send: `{"signature_name": "generate", "inputs": {"num_images": 16, "seed": 0}}`
  (+ `"truncation": 0.7`; left out, the SignatureDef default 1.0 applies).
- Compact outputs: `generate_uint8` answers uint8 pixels (JSON integers),
  `generate_png` answers one PNG per image; string outputs named `*_bytes`
  come base64-encoded as `{"b64": "..."}`. `parse_images` decodes both.
- `GET {server}/v1/models/{model}[/versions/{v}]/metadata` gives the signatures'
  shapes, from which the client learns `latent_dim`.
- Errors come back as `{"error": "..."}` with an HTTP error status.
"""

import base64
import http.client
import io
import json
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from kgan.errors import ConfigError
from kgan.export.saved_model import (GENERATE, GENERATE_PNG, GENERATE_UINT8, LABEL_INPUT, LATENT_INPUT, OUTPUT,
                                     PNG_OUTPUT, SERVING_DEFAULT, TRUNCATION_INPUT)

REQUEST_FORMATS = ("inputs", "instances")
# What `generate` asks for: the signature, and what its answer decodes to.
OUTPUT_FORMATS = {"float32": GENERATE, "uint8": GENERATE_UINT8, "png": GENERATE_PNG}


class ServingError(RuntimeError):
    """The server could not be reached or answered with an error (`status`: HTTP status or None)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def check_server(server):
    """`server` if it is an http:// or https:// URL naming a host (and maybe a port), else a `ConfigError`.

    Example:

    >>> check_server("http://localhost:8501")
    'http://localhost:8501'
    """
    try:
        parts = urllib.parse.urlsplit(str(server))
        # `.port` raises ValueError for a port that is not a number in [0, 65535]
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port >= 0)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"server {server!r} is not an http:// or https:// URL with a host, "
                          "e.g. http://localhost:8501")
    return server


def model_url(server, model, version=None):
    """`{server}/v1/models/{model}[/versions/{version}]`.

    Example:

    >>> model_url("http://localhost:8501/", "kgan", 3)
    'http://localhost:8501/v1/models/kgan/versions/3'
    """
    url = f"{server.rstrip('/')}/v1/models/{model}"
    return url if version is None else f"{url}/versions/{int(version)}"


def latents_request(latents, request_format="inputs", labels=None):
    """The JSON body asking `serving_default` for the images of `latents` `[batch, latent_dim]`.

    `labels` (ints, one per latent) is for conditional models.

    Example:

    >>> latents_request([[0.5, -1.0]], "instances")
    {'signature_name': 'serving_default', 'instances': [{'latent': [0.5, -1.0]}]}
    """
    z = np.asarray(latents, dtype=np.float32)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ConfigError(f"latents must have shape [batch >= 1, latent_dim], got {list(z.shape)}")
    rows = z.tolist()
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        if y.shape != (len(rows),) or not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(f"labels must be {len(rows)} integers (one per latent), got {y.dtype} {list(y.shape)}")
        y = [int(v) for v in y]
    if request_format == "instances":
        if labels is None:
            return {"signature_name": SERVING_DEFAULT, "instances": [{LATENT_INPUT: row} for row in rows]}
        return {"signature_name": SERVING_DEFAULT,
                "instances": [{LATENT_INPUT: row, LABEL_INPUT: v} for row, v in zip(rows, y)]}
    if request_format == "inputs":
        inputs = {LATENT_INPUT: rows} if labels is None else {LATENT_INPUT: rows, LABEL_INPUT: y}
        return {"signature_name": SERVING_DEFAULT, "inputs": inputs}
    raise ConfigError(f"unknown request format {request_format!r}: expected one of {', '.join(REQUEST_FORMATS)}")


def signature_for(output):
    """The `generate*` signature answering in `output` ("float32", "uint8" or "png")."""
    if output not in OUTPUT_FORMATS:
        raise ConfigError(f"unknown output format {output!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[output]


def generate_request(num_images, seed=0, label=None, truncation=None, output="float32"):
    """The JSON body asking a `generate*` signature for `num_images` images from `seed` (columnar format).

    `label` is for conditional models: a class for every image, or -1 to cycle them.
    `truncation` (psi in [0, 1]) is sent only when given (the signature's default is 1.0).
    `output` picks the signature: "float32" (`generate`), "uint8" or "png".

    Example:

    >>> generate_request(16, 0)
    {'signature_name': 'generate', 'inputs': {'num_images': 16, 'seed': 0}}
    >>> generate_request(4, 1, truncation=0.7, output="png")["signature_name"]
    'generate_png'
    """
    inputs = {"num_images": int(num_images), "seed": int(seed)}
    if label is not None:
        inputs[LABEL_INPUT] = int(label)
    if truncation is not None:
        inputs[TRUNCATION_INPUT] = float(truncation)
    return {"signature_name": signature_for(output), "inputs": inputs}


def decode_png(data):
    """One PNG file (bytes) to uint8 `[H, W, C]` (C = 1 for grayscale)."""
    from PIL import Image

    try:
        image = np.asarray(Image.open(io.BytesIO(data)))
    except Exception as e:  # noqa: BLE001 - PIL raises several types for bad data
        raise ServingError(f"predict response holds an image that is not a PNG: {e}") from e
    return image[..., None] if image.ndim == 2 else image


def _decode_png_list(out):
    images = []
    for item in out:
        if not (isinstance(item, dict) and isinstance(item.get("b64"), str)):
            raise ServingError(f"predict response {PNG_OUTPUT!r} items must be {{\"b64\": ...}} objects")
        try:
            images.append(decode_png(base64.b64decode(item["b64"], validate=True)))
        except ValueError as e:
            raise ServingError(f"predict response holds invalid base64: {e}") from e
    if not images:
        raise ServingError("predict response holds no images")
    if len({im.shape for im in images}) != 1:
        raise ServingError("predict response PNGs differ in size")
    return np.stack(images)


def parse_images(body, output="float32"):
    """The images of a predict response (row or columnar, named or not) as numpy `[n, H, W, C]`.

    `output="float32"` (the `images` of `serving_default` / `generate`): float32 in [0, 1].
    `output="uint8"` (`generate_uint8`): uint8. `output="png"` (`generate_png`:
    `png_bytes`, one `{"b64": ...}` per image): the decoded PNGs, uint8.

    Example:

    >>> parse_images({"outputs": {"images": [[[[0.5]]]]}}).shape
    (1, 1, 1, 1)
    """
    signature_for(output)
    name = PNG_OUTPUT if output == "png" else OUTPUT
    if not isinstance(body, dict):
        raise ServingError(f"unexpected predict response: expected a JSON object, got {type(body).__name__}")
    if "error" in body:
        raise ServingError(f"server error: {body['error']}")
    if "outputs" in body:  # columnar: the tensor, or {name: tensor}
        out = body["outputs"]
        if isinstance(out, dict):
            if name not in out:
                raise ServingError(f"predict response has no {name!r} output (has {sorted(out)})")
            out = out[name]
    elif "predictions" in body:  # row: a list of per-image tensors, or of {name: tensor}
        out = body["predictions"]
        if not isinstance(out, list):
            raise ServingError("unexpected predict response: 'predictions' is not a list")
        if out and isinstance(out[0], dict) and "b64" not in out[0]:
            if any(name not in row for row in out):
                raise ServingError(f"predict response rows have no {name!r} output (have {sorted(out[0])})")
            out = [row[name] for row in out]
    else:
        raise ServingError(f"unexpected predict response: no 'outputs' or 'predictions' key (keys {sorted(body)})")
    if output == "png":
        if not isinstance(out, list):
            raise ServingError(f"predict response {PNG_OUTPUT!r} is not a list")
        return _decode_png_list(out)
    try:
        images = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ServingError(f"predict response images are not a numeric tensor: {e}") from e
    if images.ndim != 4:
        raise ServingError(f"predict response images must be [batch, H, W, C], got shape {list(images.shape)}")
    if output == "uint8":
        if images.size and (images.min() < 0 or images.max() > 255 or np.any(images != np.round(images))):
            raise ServingError("predict response uint8 images hold values that are not integers in [0, 255]")
        return images.astype(np.uint8)
    return images


def latent_dim_from_metadata(body):
    """`latent_dim` of the `serving_default` signature in a TF Serving metadata response.

    Example:

    ```python
    latent_dim_from_metadata(get_json("http://localhost:8501/v1/models/kgan/metadata"))  # 100
    ```
    """
    try:
        sig = body["metadata"]["signature_def"]["signature_def"][SERVING_DEFAULT]
        dims = sig["inputs"][LATENT_INPUT]["tensor_shape"]["dim"]
        return int(dims[-1]["size"])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ServingError(f"model metadata has no {SERVING_DEFAULT} signature with a {LATENT_INPUT!r} input "
                           "[batch, latent_dim]: is this a kgan export?") from e


def _summary(message):
    """The informative line of a (multi-line) TensorFlow error message."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for ln in lines:
        if "assertion failed" in ln:
            return ln
    noise = ("Graph execution error", "Detected at node", "<stack traces unavailable>")
    useful = [ln for ln in lines if not ln.startswith(noise)]
    return (useful or lines or [""])[0]


def _request(url, payload=None, timeout=60.0):
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            message = json.loads(raw)["error"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace").strip() or e.reason
        raise ServingError(f"{url}: HTTP {e.code}: {_summary(str(message)) or e.reason}", status=e.code) from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ServingError(f"cannot reach {url}: {reason}") from e
    except (ValueError, http.client.InvalidURL) as e:  # e.g. a space in the model name
        raise ConfigError(f"cannot ask {url!r}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ServingError(f"{url}: the response is not JSON: {e}") from e


class RestClient:
    """Asks a TF Serving model server (REST API) for generated images.

    Example:

    ```python
    client = RestClient("http://localhost:8501", "kgan")
    images = client.generate(16, seed=0)                   # the server draws the latents
    images = client.predict(kgan.export.latents(16, client.latent_dim(), 0), "instances")
    ```
    """

    def __init__(self, server, model="kgan", version=None, timeout=60.0):
        self.url = model_url(check_server(server), model, version)
        self.timeout = timeout

    def metadata(self):
        """The model's metadata response (signatures and shapes)."""
        return _request(self.url + "/metadata", timeout=self.timeout)

    def latent_dim(self):
        """The width of the `latent` input, from the model metadata."""
        return latent_dim_from_metadata(self.metadata())

    def predict(self, latents, request_format="inputs", labels=None):
        """Images float32 `[batch, H, W, C]` in [0, 1] for `latents` (and `labels`), via `serving_default`."""
        body = latents_request(latents, request_format, labels)
        return parse_images(_request(self.url + ":predict", body, self.timeout))

    def generate(self, num_images, seed=0, label=None, truncation=None, output="float32"):
        """Images `[num_images, H, W, C]` from a `generate*` signature (the server draws the latents).

        `output="float32"`: float32 in [0, 1] (signature `generate`); "uint8" or
        "png": uint8 in [0, 255] (`generate_uint8`, `generate_png`; 4x and about
        10-20x fewer bytes on the wire than JSON floats). `truncation` = psi in [0, 1].
        """
        body = generate_request(num_images, seed, label, truncation, output)
        return parse_images(_request(self.url + ":predict", body, self.timeout), output)
