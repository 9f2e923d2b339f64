"""`set_fused`: switches kgan's fused-kernel layers in a model (`BatchNormalization`, `Dropout`) on or off.

`TrainConfig.fused_kernels` sets them when a run builds its networks (`kgan.training.build_gan`); a traced step
keeps what it was traced with, so switch before the next trace.
"""

from kgan.nets.batchnorm import BatchNormalization
from kgan.nets.dropout import Dropout

FUSED_LAYERS = (BatchNormalization, Dropout)


def set_fused(model, fused, kinds=FUSED_LAYERS):
    """Sets `fused` on every layer of `kinds` inside `model` (its next traced call uses it); returns how many.

    Example:

    >>> import kgan
    >>> D = kgan.nets.dcgan_discriminator(filters=(8, 16))
    >>> set_fused(D, False), set_fused(D, True, kinds=(Dropout,))
    (2, 2)
    """
    if not isinstance(fused, bool):
        raise ValueError(f"fused must be True or False, got {fused!r}")
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, tuple(kinds))]
    for layer in layers:
        layer.fused = fused
    return len(layers)
