"""Measuring samples: distances between sets of images or of their features."""

from kgan.eval.frechet import frechet_distance, pixel_features

__all__ = ["frechet_distance", "pixel_features"]
