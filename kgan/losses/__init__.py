"""Adversarial losses, picked by name.

A loss is one function `fn(real_logits, fake_logits) -> (d_loss, g_loss)` that
returns per-example losses (shape `[batch]`) for the discriminator and for the
generator. `kgan.GAN` reduces them over the *global* batch, so a loss never has
to know about replicas. `with_label_smoothing(fn, s)` wraps a cross-entropy loss with
one-sided label smoothing.

What D's logits mean, `fn.d_output`: the training logs show D's mean output on the real and
the fake batch (`d_real`, `d_fake`), and how depends on the loss. `"probability"`: the loss
reads a logit as log-odds that the image is real (the cross-entropy losses, minimax and
non_saturating), and the logs show the mean of `sigmoid(logit)`, in [0, 1]. `"score"`: the
logit is a raw critic score (wasserstein, hinge, least_squares, relativistic_average), and
the logs show its mean. A loss declares it as an attribute after its definition,
`my_loss.d_output = "score"`; `d_output(fn)` reads it. A loss that declares nothing is taken
as `"probability"`: a score loss that forgets it still trains the same, but logs the sigmoid
of its scores (squashed into (0, 1), near 0.5 around 0), which reads like a probability it is
not. Any value other than `"probability"` is shown as a score (a misspelt `"probabilty"` too).

Adding a loss `my_loss`: the function (in `adversarial.py`, with a `>>>` example), its
`d_output` if it is a score, one line in `LOSSES` in `registry.py` (`compile(loss="my_loss")`,
saving by name), and its re-export here, in the import from `adversarial` and in `__all__`
(`kgan.losses.my_loss`; a test names a registered loss this module does not re-export).
`with_label_smoothing` takes only the losses in `wrappers.CROSS_ENTROPY`.

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
