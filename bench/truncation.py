"""The truncation trade-off of a trained run: psi against classifier score, precision and recall.

    python bench/truncation.py --run_dir=runs/dcgan [--data_dir=../shared/data/mnist] [--num=5000]
                               [--psi=1,0.9,0.8,0.7,0.5,0.3] [--seed=0] [--json=out.json]

For each psi it draws `--num` images with `GAN.generate(num, seed, truncation=psi)` (the same
latents for every psi, shrunk toward the mean; a self-conditioned generator keeps its cluster
component) and scores them as evaluate.py does (kgan.eval.Evaluator: the reference classifier
trained on the run's labelled real data, cached in --classifier_cache). Truncation should raise
precision (samples nearer the real manifold) and lower recall (less of it covered); the table
shows how much, next to the real-data floor.
"""

import argparse
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

COLUMNS = ("classifier_score", "fcd", "precision", "recall", "modes", "swd")
DEFAULT_PSI = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3)


def table(gan, evaluator, psis=DEFAULT_PSI, num=5000, seed=0):
    """[{"psi": psi, metric: value, ...}] for each psi (psi = 1: no truncation)."""
    rows = []
    labels = gan.check_labels(None, num) if getattr(gan, "num_classes", None) else None
    for psi in psis:
        images = gan.generate(num, seed=seed, labels=labels, truncation=None if psi == 1.0 else psi)
        result = evaluator.evaluate(images, labels=labels)
        rows.append({"psi": float(psi), **{k: float(result[k]) for k in COLUMNS if k in result}})
    return rows


def format_table(rows, floor=None):
    """A markdown table of `rows` (and the real-data `floor` as the last line)."""
    cols = [c for c in COLUMNS if c in rows[0]]
    lines = ["| psi | " + " | ".join(cols) + " |", "| --- |" + " --- |" * len(cols)]
    for r in rows:
        lines.append(f"| {r['psi']:g} | " + " | ".join(f"{r[c]:.4g}" for c in cols) + " |")
    if floor:
        lines.append("| real floor | " + " | ".join(f"{floor[c]:.4g}" if c in floor else "" for c in cols) + " |")
    return "\n".join(lines)


def _psis(text):
    try:
        psis = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--psi must be comma-separated numbers, got {text!r}")
    if not psis or any(not 0.0 <= p <= 1.0 for p in psis):
        raise argparse.ArgumentTypeError(f"every psi must be in [0, 1], got {text!r}")
    return psis


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run_dir", required=True, help="the --output_dir of a train.py run")
    p.add_argument("--data_dir", default=None, help="labelled real data (default: the run's --data_dir)")
    p.add_argument("--num", type=int, default=5000, help="images per psi")
    p.add_argument("--psi", type=_psis, default=list(DEFAULT_PSI), help="comma-separated psi values in [0, 1]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier_cache", default="~/.cache/kgan")
    p.add_argument("--json", default=None, help="also write the rows here")
    args = p.parse_args(argv)
    if args.num < 100:
        p.error(f"--num must be at least 100, got {args.num}")
    from kgan import data, eval as eval_lib, workdir

    gan, config = workdir.load_run(args.run_dir)
    images, labels = data.arrays(config.dataset, data_dir=args.data_dir or config.data_dir, split=config.split,
                                 with_labels=True)
    classifier, info = eval_lib.reference_classifier(images, labels, args.classifier_cache)
    evaluator = eval_lib.Evaluator(classifier, images)
    rows = table(gan, evaluator, args.psi, args.num, args.seed)
    print(f"{args.num} samples per psi from {args.run_dir} (seed {args.seed}); reference classifier held-out "
          f"accuracy {info['accuracy']:.4f}\n")
    print(format_table(rows, evaluator.real_floor()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"run_dir": os.path.basename(os.path.abspath(args.run_dir)), "num": args.num,
                       "seed": args.seed, "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
