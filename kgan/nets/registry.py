"""The network families by name: `NETWORKS` (one line per family), and building them from their own arguments.

A family added here is re-exported by hand as `kgan.nets.<name>_generator` and `<name>_discriminator` too
(kgan/nets/__init__.py: its imports and `__all__`; tests/test_gan.py names one that is not).
"""

import inspect

from kgan.errors import ConfigError
from kgan.nets.cdcgan import cdcgan_discriminator, cdcgan_generator
from kgan.nets.dcgan import dcgan_discriminator, dcgan_generator
from kgan.nets.mlp import mlp_discriminator, mlp_generator

NETWORKS = {
    "dcgan": (dcgan_generator, dcgan_discriminator),
    "mlp": (mlp_generator, mlp_discriminator),
    "cdcgan": (cdcgan_generator, cdcgan_discriminator),
}

# Families whose models take [inputs, labels] (class-conditional).
CONDITIONAL = {"cdcgan"}


def family(name):
    """`(generator builder, discriminator builder)` of the network family `name`, or a ConfigError."""
    if name not in NETWORKS:
        raise ConfigError(
            f"unknown network {name!r}: expected one of {', '.join(sorted(NETWORKS))}"
        )
    return NETWORKS[name]


def _check_arguments(name, role, builder, kwargs):
    params = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for arg in kwargs:
        if arg not in params:
            raise ConfigError(f"network {name!r}: the {role} takes no argument {arg!r} "
                              f"(it takes {', '.join(params)})")


def check_arguments(name, generator_kwargs=(), discriminator_kwargs=()):
    """Raises ConfigError naming the family and the argument if a builder of `name` does not take one.

    What the builders do with the values they take is theirs to check.

    >>> check_arguments("mlp", {"latent_dim": 8}, {"spectral_norm": True})
    Traceback (most recent call last):
    kgan.errors.ConfigError: network 'mlp': the discriminator takes no argument 'spectral_norm' \
(it takes image_shape, units, dropout, negative_slope, filters)
    """
    g, d = family(name)
    _check_arguments(name, "generator", g, generator_kwargs)
    _check_arguments(name, "discriminator", d, discriminator_kwargs)


def arguments(name):
    """`(generator arguments, discriminator arguments)` of family `name`, each {name: default}."""
    return tuple({k: p.default for k, p in inspect.signature(builder).parameters.items()
                  if p.kind is not p.VAR_KEYWORD} for builder in family(name))


def get_generator(name, **kwargs):
    """Builds the generator of the network family `name` from its own arguments."""
    check_arguments(name, generator_kwargs=kwargs)
    return family(name)[0](**kwargs)


def get_discriminator(name, **kwargs):
    """Builds the discriminator of the network family `name` from its own arguments."""
    check_arguments(name, discriminator_kwargs=kwargs)
    return family(name)[1](**kwargs)
