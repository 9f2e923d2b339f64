"""kgan: train generative adversarial networks with Keras and ship the generator.

Example:

```python
import keras, kgan
gan = kgan.GAN(kgan.nets.dcgan_generator(latent_dim=100), kgan.nets.dcgan_discriminator())
gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="non_saturating")
gan.fit(kgan.data.load("mnist", batch_size=256, data_dir="../shared/data/mnist"), epochs=20,
        callbacks=[kgan.callbacks.SampleGrid("samples/")])
images = gan.generate(16, seed=0)
```
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import tensorflow as _tf  # noqa: F401
except ImportError as _e:  # pragma: no cover - depends on the install
    raise ImportError(
        "kgan needs TensorFlow: pip install 'kgan[cpu]' (CPU only) or 'kgan[gpu]' (with CUDA)"
    ) from _e

from kgan import callbacks, checks, config, data, errors, eval, features, losses, nets, optimizers  # noqa: E402
from kgan import training, workdir  # noqa: E402
from kgan import eval as metrics  # noqa: E402  (the quality metrics, also as kgan.metrics)
from kgan.errors import ConfigError, DataError, StorageError  # noqa: E402
from kgan.gan import GAN  # noqa: E402

__version__ = "0.1.0"
