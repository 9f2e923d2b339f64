"""Clients that run or ask for an exported generator (the exports are written by `kgan.export`).

- `rest`: a TF Serving REST client (`RestClient`) on the standard library.
- `tflite`: `TFLiteGenerator`, which runs an exported `.tflite` file.
"""

from kgan.serving import rest
from kgan.serving.rest import RestClient, ServingError
from kgan.serving.tflite import TFLiteGenerator

__all__ = ["RestClient", "ServingError", "TFLiteGenerator", "rest"]
