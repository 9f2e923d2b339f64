"""The real side of a run's metrics, built the same way by training (`--eval_every`) and `evaluate.py`.

`run_evaluator(dataset, data_dir, data_split, cache_dir)` reads the run's two
parts (`kgan.data.split.plan`, recorded in `config.json` as `data_split`),
trains (or loads) the reference classifier on the *training* part only, and
returns an `Evaluator` whose real side is the held-out part. A run that trained
on every image (no held-out part) gets the old reference, its own training
images, and `Evaluator.held_out` is False: callers say so. The evaluator also
reports the label-free SWD (`swd=True`, the default; `Evaluator`) against the
same real side, for images of at least 16 px on each side.

Unlabelled data on which the k-means-cluster classifier stays below its gate
(too few images, or clusters it cannot learn; `kgan.eval.classifier`): the evaluator is
label-free (`Evaluator(None, ...)`: SWD and pixel C_T, against the same held-out
images, with the same floor), a warning says why, and `info["labels"]` is "none".
Labelled data below its gate is an error: the labels are there to be learned.
"""

import logging

from kgan.errors import ClassifierBelowGate, DataError

log = logging.getLogger(__name__)


def run_images(dataset, data_dir, data_split, with_labels=True, image_size=None):
    """`(train_images, train_labels or None, heldout_images or None)` of a run's data split
    (resized to `image_size` (H, W) if given, as the run trained). A `DataError` if the images under `data_dir`
    are not those the split recorded (`kgan.data.split.check_data`: its held-out part would hold trained images)."""
    from kgan import data

    data.split.check_data(data_split, dataset, data_dir)

    def read(part, labels):
        return data.arrays(dataset, data_dir=data_dir, with_labels=labels, image_size=image_size, **part)

    try:
        train, labels = read(data_split["train"], with_labels)
    except DataError as e:
        if not with_labels or "label" not in str(e):
            raise
        log.info("no labels in %s (%s): the reference classifier learns k-means clusters instead", data_dir, e)
        train, labels = read(data_split["train"], False)
    heldout = read(data_split["heldout"], False)[0] if data_split.get("heldout") else None
    return train, labels, heldout


def run_evaluator(dataset, data_dir, data_split, cache_dir, copying=True, image_size=None, swd=True):
    """`(Evaluator, classifier info)` for a run (see the module docstring); `copying` and `swd` go to `Evaluator`.

    Example:

    ```python
    evaluator, info = run_evaluator("folder", "data/rgb64", workdir.read_data_split("runs/rgb64"), "~/.cache/kgan",
                                    image_size=(64, 64))
    info["labels"]                       # "clusters": an unlabelled folder; the classifier learned k-means ids
                                         # ("none": it stayed below its gate, `evaluator.label_free`)
    evaluator.swd.names                  # ['swd_64', 'swd_32', 'swd_16']: the label-free SWD applies
    ```
    """
    from kgan.eval.classifier import reference_classifier
    from kgan.eval.quality import Evaluator

    train, labels, heldout = run_images(dataset, data_dir, data_split, image_size=image_size)
    try:
        classifier, info = reference_classifier(train, labels, cache_dir)
        log.info("reference classifier %s: held-out accuracy %.4f (gate %.4f)", info["path"], info["accuracy"],
                 info.get("gate", float("nan")))
    except ClassifierBelowGate as e:
        if labels is not None:
            raise
        classifier = None
        info = {"labels": "none", "accuracy": e.accuracy, "gate": e.gate, "path": None,
                "reason": f"the k-means-cluster classifier {e.reason}"}
        log.warning("%s: label-free metrics only (SWD and pixel C_T; no FCD, precision/recall or modes)",
                    info["reason"])
    if heldout is None:
        log.warning("this run trained on every image of its data: the metrics compare samples with the images "
                    "it trained on (no held-out reference, no copying test); train with --holdout=0.2 for one")
        return Evaluator(classifier, train, swd=swd), info
    log.info("metrics against %d held-out images; the generator trains on the other %d", len(heldout), len(train))
    return Evaluator(classifier, heldout, train, copying=copying, swd=swd), info


def run_split(workdir):
    """The data split a run recorded in its config.json (`kgan.workdir.read_data_split`)."""
    from kgan import workdir as workdir_lib

    return workdir_lib.read_data_split(workdir)
