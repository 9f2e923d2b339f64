"""Argument checks: each raises `ConfigError` with one line naming the value and what is allowed.

The code that uses a value checks it with these; `TrainConfig.validate` calls
the same functions (named in each field's metadata) so the command line fails
before it loads data or writes anything.

>>> positive_int("epochs", 3)
3
>>> positive_int("epochs", 0)
Traceback (most recent call last):
kgan.errors.ConfigError: epochs must be a positive integer, got 0
>>> integer("d_steps", True, min=1)
Traceback (most recent call last):
kgan.errors.ConfigError: d_steps must be an integer >= 1, got True
>>> fraction("beta_1", 1.0)
Traceback (most recent call last):
kgan.errors.ConfigError: beta_1 must be in [0, 1), got 1.0
>>> one_of("strategy", "tpu2", ("auto", "default"))
Traceback (most recent call last):
kgan.errors.ConfigError: unknown strategy 'tpu2': expected one of auto, default
"""

import math
import numbers

from kgan.errors import ConfigError


def is_int(value):
    """True for Python and numpy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """True for Python and numpy reals (ints, floats), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(name, value, min=None, max=None, hint="", error=ConfigError):
    """`value` as an int; raises `error` unless it is an integer (not a bool) in [min, max]."""
    bound = f" >= {min}" if max is None and min is not None else f" in [{min}, {max}]" if max is not None else ""
    if not is_int(value) or (min is not None and value < min) or (max is not None and value > max):
        raise error(f"{name} must be an integer{bound}{hint}, got {value!r}")
    return int(value)


def positive_int(name, value, hint="", error=ConfigError):
    """`value` as an int; raises unless it is an integer > 0 ("... must be a positive integer")."""
    if not is_int(value) or value <= 0:
        raise error(f"{name} must be a positive integer{hint}, got {value!r}")
    return int(value)


def positive(name, value, error=ConfigError):
    """`value` as a float; raises unless it is a finite number > 0 ("... must be a positive number")."""
    if not is_number(value) or not value > 0 or not math.isfinite(value):
        raise error(f"{name} must be a positive number, got {value!r}")
    return float(value)


def non_negative(name, value, error=ConfigError):
    """`value` as a float; raises unless it is a number >= 0 ("... must be a number >= 0")."""
    if not is_number(value) or not value >= 0:
        raise error(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def weight(name, value):
    """A loss term's weight (0 = off): `non_negative` as "<name> weight must be a number >= 0"."""
    return non_negative(f"{name} weight", value)


def fraction(name, value, hint=""):
    """`value` as a float; raises unless it is a number in [0, 1) (a rate, a decay, a β)."""
    if not is_number(value) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be in [0, 1){hint}, got {value!r}")
    return float(value)


def one_of(name, value, choices, error=ConfigError):
    """`value`; raises unless it is one of `choices` ("unknown <name> 'x': expected one of a, b")."""
    if value not in choices:
        raise error(f"unknown {name} {value!r}: expected one of {', '.join(map(str, choices))}")
    return value


def image_size(name, value, error=ConfigError):
    """`(H, W)` from two positive integers, or one for a square; raises otherwise ("... must be H,W or one size").

    >>> image_size("image_size", (64, 32)), image_size("image_size", 48), image_size("image_size", [48])
    ((64, 32), (48, 48), (48, 48))
    """
    size = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or not all(is_int(v) and v > 0 for v in size):
        shown = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else repr(value)
        raise error(f"{name} must be two positive integers H,W (or one, for a square), got {shown}")
    return tuple(int(v) for v in size)
