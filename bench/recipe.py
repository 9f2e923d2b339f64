"""The default recipe against the plain DCGAN: quality metrics against training wall time, one run.

    python bench/recipe.py --minutes=15          # ~55 minutes: three runs, one after the other, plus scoring
    python bench/recipe.py --replot              # no training: figures and table from the last runs

Trains `flags/dcgan.cfg` (kgan's default recipe, self-conditioned on k-means clusters: no labels),
`flags/dcgan_plain.cfg` (the keras.io-style DCGAN) and `flags/cdcgan.cfg` (the same recipe
conditioned on the digit labels instead of clusters) on the real MNIST digits
for the same training wall time each, scoring 10,000 samples about every `minutes / --evals`
minutes (each run's own epoch interval, set in RUNS) with kgan's quality metrics. Scoring time is
not counted as training time (train.py's --max_minutes leaves it out). Writes bench/recipe.png
(each metric against minutes of training, all runs, with the quality issue's targets) and
bench/recipe_samples.png (each run's last sample grid), both kept in git because the README shows
them, and bench/results/recipe.json, and prints a Markdown table of every evaluation.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# label: (flagfile name, seconds per epoch on this CPU, roughly: spaces the evaluations evenly in time)
RUNS = {"kgan default (flags/dcgan.cfg)": ("dcgan", 11.0),
        "plain DCGAN (flags/dcgan_plain.cfg)": ("dcgan_plain", 30.0),
        "kgan with labels (flags/cdcgan.cfg)": ("cdcgan", 11.0)}
METRICS = ("classifier_score", "fcd", "precision", "recall", "modes", "class_kl")
TARGETS = {"classifier_score": 8.5, "precision": 0.75, "recall": 0.80, "modes": 10, "class_kl": 0.05}  # issue 4


def _curve(run_dir):
    rows = []
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for r in csv.DictReader(f):
            if r.get("classifier_score") not in (None, "", "NA"):
                rows.append({k: float(r[k]) for k in ("epoch", "train_minutes", *METRICS, "label_accuracy")
                             if r.get(k) not in (None, "", "NA")})
    return rows


def _samples_figure():
    """bench/recipe_samples.png: each run's last sample grid, side by side (tracked: the README shows it)."""
    import matplotlib.image
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.9), tight_layout=True)
    for ax, (label, (cfg, _)) in zip(fig.subplots(1, len(RUNS)), RUNS.items()):
        samples = os.path.join(HERE, "results", "recipe", cfg, "samples")
        last = sorted(os.listdir(samples))[-1]
        ax.imshow(matplotlib.image.imread(os.path.join(samples, last)), cmap="gray")
        ax.set_title(f"{label}\nafter {int(last.split('_')[1].split('.')[0])} epochs", fontsize=10)
        ax.axis("off")
    fig.savefig(os.path.join(HERE, "recipe_samples.png"), dpi=80)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15.0, help="training minutes per run")
    p.add_argument("--evals", type=int, default=8, help="about this many evaluations per run")
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    p.add_argument("--classifier_cache", default="~/.cache/kgan")
    p.add_argument("--replot", action="store_true", help="no training: redraw the figures and table from the "
                   "runs already in bench/results/recipe")
    args = p.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    curves = {}
    for label, (cfg, epoch_seconds) in RUNS.items():
        eval_every = max(1, round(60 * args.minutes / args.evals / epoch_seconds))
        out = os.path.join(HERE, "results", "recipe", cfg)
        if args.replot:
            curves[label] = _curve(out)
            continue
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, os.path.join(REPO, "train.py"), f"--flagfile=flags/{cfg}.cfg",
               f"--data_dir={args.data_dir}", f"--output_dir={out}", f"--max_minutes={args.minutes}",
               "--epochs=100000", f"--eval_every={eval_every}", f"--classifier_cache={args.classifier_cache}",
               "--progress=none"]
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{cfg}: train.py failed ({r.returncode}): {r.stderr[-2000:]}")
        curves[label] = _curve(out)
        last = curves[label][-1]
        print(f"{label}: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items()), flush=True)

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6.5), tight_layout=True)
    axes = fig.subplots(2, 3).ravel()
    for ax, metric in zip(axes, METRICS):
        for label, rows in curves.items():
            ax.plot([r["train_minutes"] for r in rows], [r[metric] for r in rows], marker="o", ms=3, label=label)
        if metric in TARGETS:
            ax.axhline(TARGETS[metric], color="gray", ls="--", lw=1, label="target")
        ax.set_title(metric)
        if metric == "fcd":
            ax.set_yscale("log")
        ax.set_xlabel("minutes of training")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(os.path.join(HERE, "recipe.png"), dpi=80)  # tracked: the README shows it
    _samples_figure()
    with open(os.path.join(HERE, "results", "recipe.json"), "w") as f:
        json.dump({"minutes": args.minutes, "curves": curves}, f, indent=2)

    print(f"\n| run | minutes | epoch | " + " | ".join(METRICS) + " | label_accuracy |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " | --- |")
    for label, rows in curves.items():
        for r in rows:
            print(f"| {label} | {r['train_minutes']:.1f} | {r['epoch']:.0f} | "
                  + " | ".join(f"{r[k]:.3g}" for k in METRICS)
                  + (f" | {r['label_accuracy']:.3g} |" if "label_accuracy" in r else " | |"))


if __name__ == "__main__":
    main()
