"""Measuring samples: distances between sets of images or of their features, and kgan's quality metrics.

- `frechet.py`: the Fréchet distance (FID's formula) and raw-pixel features.
- `classifier.py`: the reference MNIST classifier kgan trains itself from real data (cached by checksum).
- `quality.py`: classifier score, Fréchet classifier distance, precision/recall, mode coverage,
  class KL and conditional label accuracy, with the real-data floor (`Evaluator`).
"""

from kgan.eval.classifier import build_classifier, data_checksum, reference_classifier, train_classifier
from kgan.eval.frechet import frechet_distance, pixel_features
from kgan.eval.quality import (Evaluator, class_histogram_kl, classifier_score, modes_covered,
                               precision_recall)

__all__ = ["Evaluator", "build_classifier", "class_histogram_kl", "classifier_score", "data_checksum",
           "frechet_distance", "modes_covered", "pixel_features", "precision_recall", "reference_classifier",
           "train_classifier"]
