"""Which images the GAN trains on and which it never sees (the held-out reference of the metrics).

kgan's quality metrics compare samples with real images the generator never
trained on. `plan(...)` decides, once per run, where those come from:

- a source with a test split (TFDS `mnist`: train/test; an IDX folder holding
  both `train-*` and `t10k-*` files) trains on `train` and scores against `test`;
- a source with one split (the local 10k IDX copy of MNIST, an image folder)
  sets aside a seeded fraction `holdout` of its images, chosen by index
  (`holdout_mask`), and never trains on it.

The plan is plain JSON (`config.json` keeps it as `data_split`), and its two
parts are keyword arguments of `kgan.data.load` / `kgan.data.arrays`, so the
training pipeline, `evaluate.py` and a resumed run see exactly the same images:

>>> p = plan("idx", data_dir="../shared/data/mnist", holdout=0.2)
>>> p["train"], p["heldout"]
({'split': None, 'holdout': 0.2, 'holdout_seed': 0, 'part': 'train'}, {'split': None, 'holdout': 0.2, 'holdout_seed': 0, 'part': 'heldout'})
"""

import logging
import os

import numpy as np

from kgan.errors import DataError

log = logging.getLogger(__name__)

# Held out of a one-split source when metrics are requested and `holdout` is not set: a fifth of
# 10,000 MNIST digits leaves 2,000 reference images (enough for FCD and a per-cell copying test at
# 20 cells of ~100) while the GAN keeps 8,000 to learn from.
DEFAULT_HOLDOUT = 0.2
PARTS = ("train", "heldout", "all")


def check_holdout(holdout):
    if holdout is None:
        return None
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise DataError(f"holdout must be a fraction in [0, 1), got {holdout!r}")
    return float(holdout)


def holdout_mask(num, holdout, seed=0):
    """Boolean `[num]`, True for the images held out: round(num * holdout) of them, a seeded choice by index.

    Depends only on (num, holdout, seed), never on the images, so every reader agrees.

    >>> int(holdout_mask(10, 0.2).sum())
    2
    """
    holdout = check_holdout(holdout) or 0.0
    mask = np.zeros(int(num), bool)
    k = int(round(num * holdout))
    if holdout > 0 and (k < 1 or k >= num):
        raise DataError(f"holdout={holdout} of {num} images leaves {k} held out and {num - k} to train on: "
                        "use a fraction that keeps at least one of each")
    mask[np.random.default_rng(seed).permutation(int(num))[:k]] = True
    return mask


def select(num, holdout, part, seed=0):
    """Indices (sorted, into the source's order) of `part` ("train", "heldout" or "all")."""
    if part not in PARTS:
        raise DataError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if part == "all" or not holdout:
        if part == "heldout":
            raise DataError("part='heldout' needs holdout > 0")
        return np.arange(int(num))
    mask = holdout_mask(num, holdout, seed)
    return np.flatnonzero(mask if part == "heldout" else ~mask)


def second_split(name, data_dir=None, split=None):
    """The source's separate test split when training on its train split, else None."""
    from kgan.data import idx as idx_source, loader  # here, not at the top: loader imports this module

    if split not in (None, "train"):
        return None
    source = loader.source_for(name, data_dir)
    if source == "idx":
        splits = idx_source.find_splits(data_dir)
        return "test" if {"train", "test"} <= set(splits) else None
    if source == "tfds":
        try:
            import tensorflow_datasets as tfds

            splits = tfds.builder(name, data_dir=data_dir).info.splits
            return "test" if "test" in splits and "train" in splits else None
        except Exception:  # unknown or unprepared: loading it reports the problem
            return None
    return None


def plan(name, data_dir=None, split=None, holdout=None, holdout_seed=0, metrics=False):
    """Where the run's training and held-out images come from: `{"train": kwargs, "heldout": kwargs or None}`.

    `holdout=None` means: `DEFAULT_HOLDOUT` when `metrics` are requested and the
    source has one split, else 0 (train on everything, no held-out reference).
    A source with a test split ignores `holdout`.
    """
    holdout = check_holdout(holdout)
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
    other = second_split(name, data_dir, split)
    if other:
        return {"train": {"split": "train", "holdout": 0.0, "holdout_seed": 0, "part": "all"},
                "heldout": {"split": other, "holdout": 0.0, "holdout_seed": 0, "part": "all"}}
    if holdout is None:
        holdout = DEFAULT_HOLDOUT if metrics else 0.0
    if not holdout:
        return {"train": {"split": split, "holdout": 0.0, "holdout_seed": 0, "part": "all"}, "heldout": None}
    common = {"split": split, "holdout": holdout, "holdout_seed": int(holdout_seed)}
    return {"train": {**common, "part": "train"}, "heldout": {**common, "part": "heldout"}}


def describe(p):
    """One line naming the plan's two sides, for logs and evaluate.py."""
    if p is None or p.get("heldout") is None:
        return "no held-out images: the GAN trained on every image"
    h = p["heldout"]
    if h["part"] == "all":
        return f"trained on split {p['train']['split']!r}, scored against split {h['split']!r}"
    return (f"a seeded {h['holdout']:.0%} of the images held out (seed {h['holdout_seed']}), never trained on;"
            " the rest trained on")


def for_run(fresh, recorded=None, explicit=False, resuming=False):
    """The split a run uses: `fresh` (from `plan`) for a new run; on resume the one it `recorded`.

    `explicit`: the caller set `holdout` itself, so a different recorded split is an error,
    not silently replaced. A run from before splits were recorded (`resuming`, nothing
    recorded) trained on every image: it keeps doing so.
    Raises `DataError` when the split would change.
    """
    if not resuming:
        return fresh
    if recorded is None:
        recorded = {"train": {**fresh["train"], "holdout": 0.0, "holdout_seed": 0, "part": "all"}, "heldout": None}
        if fresh.get("heldout") and fresh["heldout"]["part"] == "all":
            recorded["train"]["split"] = None  # it trained on every split the source holds
    if explicit and recorded != fresh:
        raise DataError(f"the run in this directory used {describe(recorded)}; this run asks for {describe(fresh)}: "
                        "use another output directory or the same holdout")
    return recorded
