"""DiffAugment: differentiable augmentation of every image the discriminator sees.

Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN
Training", NeurIPS 2020 (https://arxiv.org/abs/2006.10738). With few training
images D memorizes them and G stops learning; augmenting real *and* generated
images with the same random, differentiable transforms, in D's steps and in
G's step (and inside the gradient penalties), keeps D from overfitting without
teaching G to draw augmented images. Ported from the authors' TensorFlow code
(github.com/mit-han-lab/data-efficient-gans, DiffAugment_tf.py), same transforms
and magnitudes, on images in [-1, 1] `[B, H, W, C]`:

- `color`: brightness + U(-0.5, 0.5); saturation ×U(0, 2) around the pixel's
  channel mean; contrast ×U(0.5, 1.5) around the image mean (one draw per image each);
- `translation`: shift by up to 1/8 of the size in each direction, zeros shifted in;
- `cutout`: zero a random square of half the size (it may cross the border).

The transforms take their randomness as an argument, `u` `[B, num_params]`
uniform in [0, 1), instead of calling a random op: `kgan.GAN` draws `u` for the
*global* batch from its seeded noise and gives each replica its rows, so N
replicas augment exactly as one device does (`tests/test_augment.py`).

Example:

```python
gan.compile(..., diff_augment="color,translation,cutout")   # kgan.GAN does the rest
aug = DiffAugment("translation,cutout")
y = aug.apply(images, keras.random.uniform((len(images), aug.num_params)))
```
"""

import keras
import tensorflow as tf

from kgan.errors import ConfigError

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
# Uniform numbers each transform takes per image.
PARAMS = {"color": 3, "translation": 2, "cutout": 2}


def _brightness(x, u):
    return x + (u[:, None, None, None] - 0.5)


def _saturation(x, u):
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    return (x - mean) * (2.0 * u[:, None, None, None]) + mean


def _contrast(x, u):
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (u[:, None, None, None] + 0.5) + mean


def color(x, u):
    """Brightness, saturation and contrast, in that order; `u` `[B, 3]`."""
    return _contrast(_saturation(_brightness(x, u[:, 0]), u[:, 1]), u[:, 2])


def _uniform_int(u, low, high):
    """Integers uniform in [low, high] from `u` uniform in [0, 1)."""
    n = high - low + 1
    return tf.minimum(tf.cast(tf.floor(u * n), tf.int32), n - 1) + low


def _shift(x, t, axis, size):
    """Shifts every image along `axis` (1 rows, 2 columns) by `t` `[B]` pixels, zeros shifted in."""
    pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
    pad[axis] = [1, 1]
    index = tf.clip_by_value(tf.range(size)[None, :] + t[:, None] + 1, 0, size + 1)  # [B, size] into the padded axis
    return tf.gather(tf.pad(x, pad), index, axis=axis, batch_dims=1)


def translation(x, u, ratio=TRANSLATION_RATIO):
    """Shifts each image by up to `ratio` of its height and width (as DiffAugment's rand_translation); `u` `[B, 2]`."""
    h, w = int(x.shape[1]), int(x.shape[2])
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    x = _shift(x, _uniform_int(u[:, 0], -sh, sh), 1, h)
    return _shift(x, _uniform_int(u[:, 1], -sw, sw), 2, w)


def cutout(x, u, ratio=CUTOUT_RATIO):
    """Zeros a `ratio`-sized rectangle at a random centre in each image (as DiffAugment's rand_cutout); `u` `[B, 2]`."""
    h, w = int(x.shape[1]), int(x.shape[2])
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = _uniform_int(u[:, 0], 0, h - ch % 2) - ch // 2
    left = _uniform_int(u[:, 1], 0, w - cw % 2) - cw // 2
    rows, cols = tf.range(h)[None, :], tf.range(w)[None, :]
    inside_rows = (rows >= top[:, None]) & (rows < top[:, None] + ch)  # [B, H]
    inside_cols = (cols >= left[:, None]) & (cols < left[:, None] + cw)  # [B, W]
    hole = tf.logical_and(inside_rows[:, :, None], inside_cols[:, None, :])
    return x * tf.cast(tf.logical_not(hole), x.dtype)[..., None]


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment:
    """A DiffAugment policy: comma-separated transforms out of `TRANSFORMS`, applied in the order given.

    `DiffAugment.get(policy)` returns None for no augmentation ("" or None).
    """

    def __init__(self, policy):
        names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else None
        if not names or any(n not in TRANSFORMS for n in names) or len(set(names)) != len(names):
            raise ConfigError(f"diff_augment must be comma-separated transforms out of "
                              f"{', '.join(TRANSFORMS)} (each at most once), got {policy!r}")
        self.names = tuple(names)
        self.policy = ",".join(self.names)
        self.num_params = sum(PARAMS[n] for n in self.names)

    @staticmethod
    def get(policy):
        if policy is None or policy == "" or isinstance(policy, DiffAugment):
            return policy or None
        return DiffAugment(policy)

    def apply(self, images, u):
        """The augmented `images` for uniform numbers `u` `[B, num_params]` (deterministic, differentiable)."""
        u = tf.cast(u, images.dtype)
        i = 0
        for name in self.names:
            images = TRANSFORMS[name](images, u[:, i : i + PARAMS[name]])
            i += PARAMS[name]
        return images

    def __call__(self, images, seed, groups=1):
        """`images` augmented with this replica's rows of a global draw from `seed` (a `keras.random.SeedGenerator`).

        `images` holds `groups` equal blocks of this replica's rows (e.g. 2 for
        D's one call on `[real; fake]`); each block takes its rows of its own
        global draw, so the augmentation of an image does not depend on how
        many replicas share the batch.
        """
        local = images.shape[0] if images.shape[0] is not None else tf.shape(images)[0]
        per_group = local // groups
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        u = keras.random.uniform((groups, per_group * replicas, self.num_params), seed=seed)
        if replicas > 1:
            start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * per_group
            u = u[:, start : start + per_group]
        return self.apply(images, tf.reshape(u, (local, self.num_params)))

    def __repr__(self):
        return f"DiffAugment({self.policy!r})"
