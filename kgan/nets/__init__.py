"""Generator and discriminator networks, picked by name.

Each network family is one file holding a `<name>_generator` and a
`<name>_discriminator` function that return functional `keras.Model`s. The
generator maps latents `[batch, latent_dim]` to images in [-1, 1]
(`[batch, H, W, C]`, tanh); the discriminator maps images to one logit per
image (`[batch, 1]`). Adding a family means adding one file and one line to
`NETWORKS`.

Example:

```python
G = kgan.nets.get_generator("dcgan", latent_dim=100, image_shape=(28, 28, 1))
D = kgan.nets.get_discriminator("dcgan", image_shape=(28, 28, 1))
```
"""

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


def _family(name):
    if name not in NETWORKS:
        raise ConfigError(
            f"unknown network {name!r}: expected one of {', '.join(sorted(NETWORKS))}"
        )
    return NETWORKS[name]


def get_generator(name, **kwargs):
    """Builds the generator of the network family `name`."""
    return _family(name)[0](**kwargs)


def get_discriminator(name, **kwargs):
    """Builds the discriminator of the network family `name`."""
    return _family(name)[1](**kwargs)
