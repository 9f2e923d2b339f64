"""The registry of adversarial losses by name: one line in `LOSSES` per loss.

A loss added here is re-exported by hand as `kgan.losses.<name>` too (kgan/losses/__init__.py: its import and
`__all__`; tests/test_gan.py names one that is not), and declares `d_output` if its logits are scores (see
kgan/losses/__init__.py).
"""

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
