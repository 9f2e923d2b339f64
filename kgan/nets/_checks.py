"""Argument checks shared by the network builders."""

from kgan.errors import ConfigError


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def image_shape(value, multiple=1):
    shape = tuple(value)
    if len(shape) != 3 or any(
        isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in shape
    ):
        raise ConfigError(f"image_shape must be (height, width, channels) of positive ints, got {value!r}")
    if shape[0] % multiple or shape[1] % multiple:
        raise ConfigError(
            f"image_shape {shape}: height and width must be multiples of {multiple} for this network"
        )
    return shape


def rate(name, value):
    if not 0 <= value < 1:
        raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
    return value
