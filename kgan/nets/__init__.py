"""Generator and discriminator networks, picked by name.

Each network family is one file holding a `<name>_generator` and a
`<name>_discriminator` function that return functional `keras.Model`s. The
generator maps latents `[batch, latent_dim]` to images in [-1, 1]
(`[batch, H, W, C]`, tanh); the discriminator maps images to one logit per
image (`[batch, 1]`). Adding a family means adding one file (its `>>>` examples are run by
tests/test_doctests.py, which finds every module here), one line to `NETWORKS` in `registry.py` (and
to `CONDITIONAL` if its models take labels), and its two builders' re-export here, in the imports
and in `__all__` (tests/test_gan.py names a registered builder that is not). The builders own
their arguments: `kgan.training.build_gan` passes the settings a run sets
(`filters`, `kernel_size`, ...) straight through, and an argument a family does
not take is a ConfigError naming the family.

Example:

```python
G = kgan.nets.get_generator("dcgan", latent_dim=100, image_shape=(28, 28, 1))
D = kgan.nets.get_discriminator("dcgan", image_shape=(28, 28, 1))
```
"""

from kgan.nets import batchnorm, dropout, fused
from kgan.nets.cdcgan import cdcgan_discriminator, cdcgan_generator
from kgan.nets.dcgan import dcgan_discriminator, dcgan_generator
from kgan.nets.mlp import mlp_discriminator, mlp_generator
from kgan.nets.registry import (CONDITIONAL, NETWORKS, arguments, check_arguments, family, get_discriminator,
                                get_generator)

__all__ = ["CONDITIONAL", "NETWORKS", "arguments", "batchnorm", "check_arguments", "dropout", "family", "fused",
           "get_discriminator", "get_generator", "cdcgan_discriminator", "cdcgan_generator", "dcgan_discriminator",
           "dcgan_generator", "mlp_discriminator", "mlp_generator"]
