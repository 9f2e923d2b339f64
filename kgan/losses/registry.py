"""The registry of adversarial losses by name: add a loss here with one line in `LOSSES`."""

from kgan.errors import ConfigError
from kgan.losses.adversarial import (
    hinge,
    least_squares,
    minimax,
    non_saturating,
    relativistic_average,
    wasserstein,
)

LOSSES = {
    "minimax": minimax,
    "non_saturating": non_saturating,
    "wasserstein": wasserstein,
    "hinge": hinge,
    "least_squares": least_squares,
    "relativistic_average": relativistic_average,
}


def get(name):
    """Returns the loss function registered under `name` (or `name` if callable)."""
    if callable(name):
        return name
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}: expected one of {', '.join(sorted(LOSSES))}")
    return LOSSES[name]


def d_output(loss_fn):
    """How to show discriminator logits for `loss_fn`: a probability or a raw score."""
    return getattr(loss_fn, "d_output", "probability")
