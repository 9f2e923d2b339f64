"""The default recipe against the plain DCGAN: quality metrics against training wall time, one run.

    python bench/recipe.py --minutes=12          # ~30 minutes: both runs, one after the other, plus scoring

Trains `flags/dcgan.cfg` (kgan's default recipe) and `flags/dcgan_plain.cfg` (the keras.io-style
DCGAN) on the real MNIST digits for the same wall-time budget each, scoring 10,000 samples every
`--eval_every` epochs with kgan's quality metrics (the scoring time is not counted as training
time). Writes bench/results/recipe.png (each metric against minutes of training, both runs),
bench/results/recipe.json, and prints a Markdown table of the last evaluation of each run.
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
RUNS = {"kgan default (flags/dcgan.cfg)": "dcgan", "plain DCGAN (flags/dcgan_plain.cfg)": "dcgan_plain"}
METRICS = ("classifier_score", "fcd", "precision", "recall", "modes", "class_kl")


def _curve(run_dir):
    rows = []
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for r in csv.DictReader(f):
            if r.get("classifier_score") not in (None, "", "NA"):
                rows.append({k: float(r[k]) for k in ("epoch", "train_minutes", *METRICS)})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--eval_every", type=int, default=4)
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    p.add_argument("--classifier_cache", default="~/.cache/kgan")
    args = p.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    curves = {}
    for label, cfg in RUNS.items():
        out = os.path.join(HERE, "results", "recipe", cfg)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, os.path.join(REPO, "train.py"), f"--flagfile=flags/{cfg}.cfg",
               f"--data_dir={args.data_dir}", f"--output_dir={out}", f"--max_minutes={args.minutes}",
               "--epochs=100000", f"--eval_every={args.eval_every}", f"--classifier_cache={args.classifier_cache}",
               "--progress=none"]
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{cfg}: train.py failed ({r.returncode}): {r.stderr[-2000:]}")
        curves[label] = _curve(out)
        last = curves[label][-1]
        print(f"{label}: " + ", ".join(f"{k} {last[k]:.4g}" for k in ("train_minutes", *METRICS)), flush=True)

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6.5), tight_layout=True)
    axes = fig.subplots(2, 3).ravel()
    for ax, metric in zip(axes, METRICS):
        for label, rows in curves.items():
            ax.plot([r["train_minutes"] for r in rows], [r[metric] for r in rows], marker="o", ms=3, label=label)
        ax.set_title(metric)
        if metric == "fcd":
            ax.set_yscale("log")
        ax.set_xlabel("minutes of training")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(os.path.join(HERE, "results", "recipe.png"), dpi=90)
    with open(os.path.join(HERE, "results", "recipe.json"), "w") as f:
        json.dump({"minutes": args.minutes, "curves": curves}, f, indent=2)

    print(f"\n| run | minutes | epoch | " + " | ".join(METRICS) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |")
    for label, rows in curves.items():
        for r in rows:
            print(f"| {label} | {r['train_minutes']:.1f} | {r['epoch']:.0f} | "
                  + " | ".join(f"{r[k]:.3g}" for k in METRICS) + " |")


if __name__ == "__main__":
    main()
