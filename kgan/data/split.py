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


def holdout_mask(num, holdout, seed=0, groups=None):
    """Boolean `[num]`, True for the images held out: round(num * holdout) of them, a seeded choice by index.

    Depends only on (num, holdout, seed) and, given `groups`, on which images are copies of which, so every
    reader agrees. `groups` (int `[num]`, equal for copies of one image: `kgan.data.loader.identity`): a held-out
    image with a copy among the training images is trained on instead, so the held-out part holds no image the GAN
    trained on (it can end up a little smaller).

    >>> int(holdout_mask(10, 0.2).sum())
    2
    >>> holdout_mask(4, 0.5, groups=[0, 0, 1, 2]).tolist()  # without groups: [True, False, True, False]
    [False, False, True, False]
    """
    holdout = check_holdout(holdout) or 0.0
    mask = np.zeros(int(num), bool)
    k = int(round(num * holdout))
    if holdout > 0 and (k < 1 or k >= num):
        raise DataError(f"holdout={holdout} of {num} images leaves {k} held out and {num - k} to train on: "
                        "use a fraction that keeps at least one of each")
    mask[np.random.default_rng(seed).permutation(int(num))[:k]] = True
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != mask.shape:
            raise DataError(f"groups must be one per image ({num}), got {list(groups.shape)}")
        mask &= ~np.isin(groups, groups[~mask])  # a copy of a training image is trained on
        if not mask.any():
            raise DataError(f"holdout={holdout} of {num} images: every held-out image is a copy of a training image")
    return mask


def select(num, holdout, part, seed=0, groups=None):
    """Indices (sorted, into the source's order) of `part` ("train", "heldout" or "all"); `groups` as in
    `holdout_mask`."""
    if part not in PARTS:
        raise DataError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if part == "all" or not holdout:
        if part == "heldout":
            raise DataError("part='heldout' needs holdout > 0")
        return np.arange(int(num))
    mask = holdout_mask(num, holdout, seed, groups)
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
    p = {"train": {**common, "part": "train"}, "heldout": {**common, "part": "heldout"}}
    return with_fingerprint(p, name, data_dir)


def with_fingerprint(p, name, data_dir):
    """Plan `p` with `"data"`, the fingerprint of the images it splits by index (`kgan.data.loader.identity`), if
    it holds images out of one split of a source that has one: `check_data` then notices other images in their
    place."""
    from kgan.data import loader  # here, not at the top: loader imports this module

    if p.get("heldout") is None or p["heldout"]["part"] == "all" or "data" in p:
        return p
    fingerprint, _ = loader.identity(name, data_dir, p["train"]["split"])
    return {**p, "data": fingerprint} if fingerprint else p


def check_data(p, name, data_dir, use="the run"):
    """Raises `DataError` unless the images plan `p` split are still the ones it recorded (`with_fingerprint`).

    The held-out part is chosen by index: with an image added, removed, renamed or changed, the same indices name
    other images, and images the GAN trained on would be scored as never seen. A plan without a fingerprint (no
    held-out part, TFDS, a run from before kgan recorded one) is not checked.
    """
    from kgan.data import loader

    recorded = p.get("data") if p else None
    if not recorded:
        return
    now, _ = loader.identity(name, data_dir, p["train"]["split"])
    if now is None or now == recorded:
        return
    change = (f"{recorded['images']} images then, {now['images']} now" if now["images"] != recorded["images"]
              else f"the same {now['images']} images in count, but other files or contents")
    raise DataError(f"the images in {data_dir} are not those {use} split into training and held-out images ({change}):"
                    " the held-out part would now include images the GAN trained on; restore the data, or train a new"
                    " run on the new images")


def _without_data(p):
    return {k: v for k, v in p.items() if k != "data"}


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
    if explicit and _without_data(recorded) != _without_data(fresh):
        raise DataError(f"the run in this directory used {describe(recorded)}; this run asks for {describe(fresh)}: "
                        "use another output directory or the same holdout")
    return recorded
