"""Labellers: where the labels of a conditional GAN's generated images come from.

A conditional discriminator takes `[images, labels]`. Real labels come with the
data (`(images, labels)` batches); a *labeller* gives generated images theirs.
`kgan.GAN(..., fake_labels=labeller)` asks it, for every batch of fakes (on
each replica, for this replica's rows):

1. `labeller.draw(sample, batch)`: labels drawn independently of the
   latents, or None. `sample(draw_fn, shape=())` is the GAN's seeded draw of
   the global batch (`draw_fn(shape, seed=...)`, e.g. `keras.random.randint`
   with bounds bound), already cut to this replica's `batch` rows.
2. `labeller(latents, labels)`: the fakes' final int32 labels `[batch]`,
   given their latents and the drawn labels (e.g. derived from the latents).
3. Only for mode seeking (`GAN.compile(mode_seeking=...)`), before step 2:
   `labeller.pair(latents, labels) -> (latents, labels)` makes each pair of
   rows (2i, 2i + 1) share its label.

Two facts describe it: `num_classes` (labels lie in [0, num_classes)) and
`feeds_generator` (True: G takes `[latents, labels]`; False: G derives the
labels from its latents itself, and its users see an unconditional generator).
`bind(generator, discriminator)` checks the networks fit and is called by
`GAN`.

Two labellers exist: `UniformLabels(num_classes)` here (class-conditional GANs:
labels uniform over the classes, what `GAN(num_classes=...)` uses) and
`kgan.features.clusters.ClusterLabels` (self-conditioning: the cluster a
latent falls in). A generator can offer its own labeller: `GAN` asks every
layer of the generator with a `labeller()` method when neither `fake_labels`
nor `num_classes` is given.

Example:

>>> import keras
>>> labeller = UniformLabels(10)
>>> labeller.bind(kgan.nets.cdcgan_generator(latent_dim=4), kgan.nets.cdcgan_discriminator())
>>> def sample(draw, shape=()):
...     return draw((6, *shape), seed=keras.random.SeedGenerator(0))
>>> labels = labeller(None, labeller.draw(sample, 6))
>>> labels.shape, str(labels.dtype)
(TensorShape([6]), "<dtype: 'int32'>")
>>> _, paired = labeller.pair(None, labels)
>>> bool(all(paired[0::2] == paired[1::2]))
True
"""

import keras

from kgan import checks
from kgan.errors import ConfigError
from kgan.losses import diversity


class Labeller:
    """The labeller protocol, with do-nothing defaults (see the module docstring)."""

    feeds_generator = True
    missing_labels = "a conditional GAN trains on (images, labels) batches: load data with_labels=True"

    @property
    def num_classes(self):
        raise NotImplementedError

    def bind(self, generator, discriminator):
        """Checks that the networks fit this labeller; raises ConfigError otherwise."""

    def draw(self, sample, batch):
        return None

    def __call__(self, latents, labels):
        return labels

    def pair(self, latents, labels):
        return latents, labels

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kgan")
class UniformLabels(Labeller):
    """Class-conditional: each fake gets a label drawn uniformly from [0, num_classes).

    G takes `[latents, labels]`, D `[images, labels]`. Mode-seeking pairs share
    the label of their first row (`kgan.losses.diversity.pair_labels`).
    """

    def __init__(self, num_classes):
        self._num_classes = num_classes

    @property
    def num_classes(self):
        return self._num_classes

    def bind(self, generator, discriminator):
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise ConfigError(
                "num_classes needs a conditional generator and discriminator taking [inputs, labels] "
                "(e.g. kgan.nets.cdcgan_*)"
            )
        self._num_classes = checks.integer("num_classes", self._num_classes, min=2)

    def draw(self, sample, batch):
        def randint(shape, seed):
            return keras.random.randint(shape, 0, self._num_classes, seed=seed, dtype="int32")

        return sample(randint)

    def pair(self, latents, labels):
        return latents, diversity.pair_labels(labels)

    def get_config(self):
        return {"num_classes": self._num_classes}


def offered_labeller(generator):
    """The labeller a layer of `generator` offers (its `labeller()` method), or None."""
    for layer in getattr(generator, "layers", []):
        offer = getattr(layer, "labeller", None)
        if callable(offer):
            return offer()
    return None
