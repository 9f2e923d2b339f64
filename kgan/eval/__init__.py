"""Measuring samples: distances between sets of images or of their features, and kgan's quality metrics.

- `frechet.py`: the Fréchet distance (FID's formula) and raw-pixel features.
- `classifier.py`: the reference MNIST classifier kgan trains itself from real data (cached by checksum).
- `quality.py`: classifier score, Fréchet classifier distance, precision/recall, mode coverage,
  class KL, conditional label accuracy and the label-free SWD against held-out real images,
  with the equal-N real floor (`Evaluator`).
- `copying.py`: the C_T data-copying test (Meehan et al. 2020) and the samples-beside-their-
  nearest-training-images picture.
- `swd.py`: the multi-scale sliced Wasserstein distance (ProGAN's label-free metric).
- `reference.py`: a run's evaluator: classifier on the training part, real side the held-out part.
"""

from kgan.eval import copying
from kgan.eval.classifier import (build_classifier, cluster_labels, data_checksum, reference_classifier,
                                  train_classifier)
from kgan.eval.copying import CopyingTest
from kgan.eval.frechet import frechet_distance, pixel_features
from kgan.eval.quality import (Evaluator, class_histogram_kl, classifier_score, modes_covered,
                               precision_recall)
from kgan.eval.reference import run_evaluator, run_images, run_split

__all__ = ["CopyingTest", "Evaluator", "build_classifier", "class_histogram_kl", "classifier_score",
           "cluster_labels", "copying", "data_checksum", "frechet_distance", "modes_covered", "pixel_features",
           "precision_recall", "reference_classifier", "run_evaluator", "run_images", "run_split",
           "train_classifier"]
