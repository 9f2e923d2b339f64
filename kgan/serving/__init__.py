"""Clients that run or ask for an exported generator (the exports are written by `kgan.export`).

- `rest`: a TF Serving REST client (`RestClient`) on the standard library.
- `grpc`: a TF Serving gRPC client (`GrpcClient`, PredictionService on port 8500, `tensor_content` bytes).
- `tflite`: `TFLiteGenerator`, which runs an exported `.tflite` file.
"""

from kgan.serving import grpc, rest
from kgan.serving.grpc import GrpcClient
from kgan.serving.rest import RestClient, ServingError
from kgan.serving.tflite import TFLiteGenerator

__all__ = ["GrpcClient", "RestClient", "ServingError", "TFLiteGenerator", "grpc", "rest"]
