"""Keras callbacks for GAN training: sample grids, loss plots, quality metrics, resumable checkpoints.

They work beside Keras's own callbacks (TensorBoard, CSVLogger, BackupAndRestore,
ModelCheckpoint, TerminateOnNaN, EarlyStopping), which work with `kgan.GAN` as is;
`TensorBoard` here is Keras's with both networks' learning rates.
"""

from kgan.callbacks.checkpoint import Checkpoint
from kgan.callbacks.cluster_preemption import ClusterPreemption
from kgan.callbacks.guards import DivergenceGuard, Preemption, TimeLimit
from kgan.callbacks.metrics_log import MetricsLog
from kgan.callbacks.plot import LossPlot
from kgan.callbacks.progbar import ProgbarLogger
from kgan.callbacks.quality import QualityMetrics
from kgan.callbacks.samples import SampleGrid
from kgan.callbacks.tensorboard import TensorBoard

__all__ = ["Checkpoint", "ClusterPreemption", "DivergenceGuard", "LossPlot", "MetricsLog", "Preemption",
           "ProgbarLogger", "QualityMetrics", "SampleGrid", "TensorBoard", "TimeLimit"]
