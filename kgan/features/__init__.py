"""Conditioning features: what a GAN is conditioned on besides noise.

`clusters`: self-conditioning on k-means clusters of the data (no labels needed).
"""

from kgan.features.clusters import LatentCluster, fit_clusters, label_batches, self_conditioned

__all__ = ["LatentCluster", "fit_clusters", "label_batches", "self_conditioned"]
