"""Conditioning features: what a GAN is conditioned on besides noise.

`clusters`: self-conditioning on k-means clusters of the data (no labels needed).
"""

from kgan.features.clusters import ClusterLabels, LatentCluster, fit_clusters, label_batches, self_conditioned

__all__ = ["ClusterLabels", "LatentCluster", "fit_clusters", "label_batches", "self_conditioned"]
