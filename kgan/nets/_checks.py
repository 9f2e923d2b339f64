"""Argument checks shared by the network builders (the general ones are `kgan.checks`)."""

from kgan import checks
from kgan.errors import ConfigError

positive_int = checks.positive_int
rate = checks.fraction


def image_shape(value, multiple=1):
    shape = tuple(value)
    if len(shape) != 3 or not all(checks.is_int(d) and d > 0 for d in shape):
        raise ConfigError(f"image_shape must be (height, width, channels) of positive ints, got {value!r}")
    if shape[0] % multiple or shape[1] % multiple:
        raise ConfigError(
            f"image_shape {shape}: height and width must be multiples of {multiple} for this network"
        )
    return shape
