"""Adversarial losses, picked by name.

A loss is one function `fn(real_logits, fake_logits) -> (d_loss, g_loss)` that
returns per-example losses (shape `[batch]`) for the discriminator and for the
generator. `kgan.GAN` reduces them over the *global* batch, so a loss never has
to know about replicas. Adding a loss means adding one function and one line to
`LOSSES` in `registry.py`. `with_label_smoothing(fn, s)` wraps a cross-entropy loss with
one-sided label smoothing.

Example:

```python
d_loss, g_loss = kgan.losses.get("non_saturating")(real_logits, fake_logits)
```
"""

from kgan.losses import adversarial, diversity, penalties, wrappers
from kgan.losses.adversarial import (
    hinge,
    least_squares,
    minimax,
    non_saturating,
    relativistic_average,
    wasserstein,
)
from kgan.losses.registry import LOSSES, d_output, get
from kgan.losses.wrappers import with_label_smoothing

__all__ = ["LOSSES", "adversarial", "d_output", "diversity", "get", "hinge", "least_squares", "minimax",
           "non_saturating", "penalties", "relativistic_average", "wasserstein", "with_label_smoothing", "wrappers"]
