"""Score a trained run's samples: `kgan-evaluate --run_dir=runs/dcgan`.

Generates `--num_samples` images from the run's latest checkpoint (the EMA
generator if the run keeps one) and prints kgan's quality metrics against the
real images the run never trained on (its held-out split, recorded in
`config.json`), next to the equal-N real floor (real training images scored
against the same held-out images, as many as the samples), and the C_T
data-copying statistic in pixel and classifier-feature space with its
threshold. The reference classifier is trained on first use from the run's
training images only (labels if the data has them, else k-means clusters) and
cached in `--classifier_cache`. For images of at least 16 px on each side it
also prints the label-free multi-scale sliced Wasserstein distance (`swd`, and
`swd_<size>` per pyramid level; `kgan.eval.swd`) against the same held-out
images, with its floor. Unlabelled images whose cluster classifier stays below
its accuracy gate get those label-free metrics only (the SWD and the pixel C_T),
and the output says so and why. A C_T verdict needs the samples to fill cells
holding at least half of the held-out images ("inconclusive" otherwise:
`kgan.eval.copying.verdict`). The output first says which metrics apply. Writes
`<run_dir>/quality.json` and `<run_dir>/nearest.png` (the samples nearest to a
training image, each beside it). A thin shell over `kgan.workdir.load_run` and
`kgan.eval`; bad input ends with one line on stderr and exit code 2.
"""

import json
import time

from absl import flags

from kgan_cli import common

common.import_tensorflow_quietly()

from kgan import eval as eval_lib, workdir  # noqa: E402
from kgan.data.split import describe  # noqa: E402
from kgan.eval.classifier import format_ranking  # noqa: E402
from kgan.eval.copying import THRESHOLD, nearest_pairs_grid  # noqa: E402
from kgan.images import png_bytes  # noqa: E402
from kgan.io import atomic_write  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "The --output_dir of a train.py run.")
flags.DEFINE_string("data_dir", None, "Where the run's real data is now (default: the run's --data_dir); the run's "
                    "split (config.json) is applied to it.")
flags.DEFINE_string("dataset", None, "Dataset name of the real data (default: the run's --dataset).")
flags.DEFINE_integer("num_samples", 10000, "Generated images to score.")
flags.DEFINE_integer("seed", 0, "Seed of the latents.")
flags.DEFINE_string("classifier_cache", "~/.cache/kgan", "Where the reference classifier is cached.")

NEAREST = "nearest.png"
_ORDER = ("classifier_score", "fcd", "precision", "recall", "modes", "class_kl", "label_accuracy")
_BETTER = {"classifier_score": "higher, max: classes", "fcd": "lower", "precision": "higher", "recall": "higher",
           "modes": "all classes", "class_kl": "lower", "label_accuracy": "higher", "swd": "lower (label-free, x1e3)"}
_SPACES = (("ct_pixels", "pixels, shift-tolerant by 1 px"), ("ct_features", "classifier features"))


def _applies(evaluator, info):
    """Which metrics apply: what the classifier's classes are, and whether the label-free SWD is computed."""
    if evaluator.label_free:
        classes = None
    elif info.get("labels") == "clusters":
        classes = (f"no labels: the classifier's {evaluator.num_classes} classes are k-means clusters of the training "
                   "images' pixels (modes and class_kl count clusters)")
    else:
        classes = "the data's labels"
    if evaluator.swd is None:
        swd = "no swd (the label-free SWD needs images of at least 16 px on each side)"
    else:
        swd = f"label-free: swd, the multi-scale sliced Wasserstein distance (levels {', '.join(evaluator.swd.names)})"
    if classes is None:
        return (f"label-free only ({info.get('reason', 'no reference classifier')}): no FCD, precision/recall or "
                f"modes; {swd}; the copying test in pixels")
    return f"classifier-feature metrics with {classes}; {swd}"


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    if not FLAGS.run_dir:
        common.fail("--run_dir is required: the --output_dir of a train.py run")
    if FLAGS.num_samples < 100:
        common.fail(f"--num_samples must be at least 100, got {FLAGS.num_samples}")
    with common.errors_exit():
        gan, config = workdir.load_run(FLAGS.run_dir)
        data_split = workdir.read_data_split(FLAGS.run_dir)
        dataset, data_dir = FLAGS.dataset or config.dataset, FLAGS.data_dir or config.data_dir
        evaluator, info = eval_lib.run_evaluator(dataset, data_dir, data_split, FLAGS.classifier_cache,
                                                 image_size=tuple(config.image_size) if config.image_size else None)
        start = time.perf_counter()
        gen_labels = gan.check_labels(None, FLAGS.num_samples) if gan.num_classes else None
        samples = gan.generate(FLAGS.num_samples, seed=FLAGS.seed, labels=gen_labels)
        details = {}
        result = evaluator.evaluate(samples, labels=gen_labels, details=details)
        seconds = time.perf_counter() - start
        floor = evaluator.real_floor(FLAGS.num_samples)
    if evaluator.label_free:
        print(f"reference classifier: none ({info.get('reason')})")
    else:
        ranking = info.get("ranking")
        ranked = f"; sanity sets' FCD over the real floor's: {format_ranking(ranking)}" if ranking else ""
        print(f"reference classifier: trained on the run's training images ({info.get('labels', 'classes')}), "
              f"held-out accuracy {info['accuracy']:.4f} (gate {info.get('gate', float('nan')):.4f}{ranked}) "
              f"({info['path']})")
    print(f"data: {describe(data_split)}")
    print(f"metrics: {_applies(evaluator, info)}")
    if evaluator.held_out:
        print(f"{FLAGS.num_samples} samples from {FLAGS.run_dir} scored against {evaluator.num_real} held-out real "
              f"images in {seconds:.1f} s; real floor: {floor['num_images']} real training images against the same "
              f"{evaluator.num_real}\n")
    else:
        print(f"WARNING: {FLAGS.run_dir} trained on every image: the metrics compare samples with its own training "
              "images, the floor is half of them against the other half, and there is no copying test (train with "
              "--holdout=0.2 for a held-out reference)\n")
    print("| metric | samples | real floor | better |")
    print("| --- | --- | --- | --- |")
    for k in (*_ORDER, "swd", *(k for k in result if k.startswith("swd_"))):
        if k in result:
            f = floor.get(k)
            print(f"| {k} | {result[k]:.4g} | {'' if f is None else f'{f:.4g}'} | {_BETTER.get(k, 'lower')} |")
    for k, space in _SPACES:
        if k in result:
            r = details[k]
            said = evaluator.copying_verdict(r)
            said = "COPYING" if said == "copying" else said
            print(f"| C_T ({space}) | {result[k]:.3g} | ~0 (new real images) | > {THRESHOLD:g}: {said} "
                  f"({r['cells_used']}/{len(r['cell_z'])} cells) |")
    if "ct_pixels" in details:
        r = details["ct_pixels"]
        train_rows = evaluator.copying_tests["ct_pixels"].train
        nearest_path = workdir.path(FLAGS.run_dir, NEAREST)
        atomic_write(nearest_path, png_bytes(nearest_pairs_grid(samples, train_rows, r["distances"], r["nearest"])))
        print(f"\n{nearest_path}: the 32 samples nearest to a training image (pixels), each beside it")
    copying = {k: {"ct": v["ct"], "cells_used": v["cells_used"], "coverage": v["coverage"],
                   "verdict": evaluator.copying_verdict(v),
                   "cell_z": [None if z != z else float(z) for z in v["cell_z"]]} for k, v in details.items()}
    atomic_write(workdir.path(FLAGS.run_dir, workdir.QUALITY),
                 json.dumps({"samples": result, "real_floor": floor, "num_samples": FLAGS.num_samples,
                             "num_heldout": evaluator.num_real if evaluator.held_out else 0, "data_split": data_split,
                             "copying": copying, "copying_threshold": THRESHOLD,
                             "classifier_accuracy": info["accuracy"], "classifier_gate": info.get("gate"),
                             "classifier_labels": info.get("labels"), "seconds": seconds}, indent=2))


def main():
    common.register_key_flags(["run_dir", "data_dir", "dataset", "num_samples", "seed", "classifier_cache"])
    common.run(_main)


if __name__ == "__main__":
    main()
