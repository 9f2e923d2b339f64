"""Every flagfile at the same wall-time budget, scored with kgan's quality metrics.

    python bench/toolbox.py --minutes=3                       # 8 flagfiles x (3 min + ~30 s scoring)
    python bench/toolbox.py --minutes=15 --configs=dcgan,gan  # the issue's budget, a subset

For each `flags/<name>.cfg` it runs `train.py --flagfile=... --max_minutes=M` on the real
MNIST digits (into bench/results/toolbox/<name>/, started fresh), then `evaluate.py` on 10,000
samples, and reads images/s from the run's generator steps (its latest checkpoint) and the batch size
of its config.json (the settings as train.py resolved them, nested --flagfile included). Runs go one after another, so each has
the machine to itself; prints a Markdown table and writes bench/results/toolbox.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)

from kgan import workdir  # noqa: E402

CONFIGS = ("dcgan", "dcgan_tutorial", "dcgan_plain", "gan", "wgan_gp", "hinge_sn", "lsgan", "cdcgan")


def train_and_score(name, cfg, minutes, data_dir, classifier_cache, extra=(), epochs=None):
    """Trains flags/<cfg>.cfg (plus `extra` flags) for `minutes` (or, if given, exactly `epochs` epochs)
    into bench/results/toolbox/<name>/ and scores 10,000 samples; returns the results row, or None
    (with the reason printed) on a failure."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = os.path.join(HERE, "results", "toolbox", name)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, os.path.join(REPO, "train.py"), f"--flagfile=flags/{cfg}.cfg",
           f"--data_dir={data_dir}", f"--output_dir={out}", "--progress=none", "--holdout=0.2",
           *([f"--epochs={epochs}"] if epochs else [f"--max_minutes={minutes}", "--epochs=100000"]), *extra]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode:
        print(f"{name}: train.py failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
        return None
    e = subprocess.run([sys.executable, os.path.join(REPO, "evaluate.py"), f"--run_dir={out}",
                        f"--classifier_cache={classifier_cache}"], cwd=REPO, env=env,
                       capture_output=True, text=True)
    if e.returncode:
        print(f"{name}: evaluate.py failed: {e.stderr.strip().splitlines()[-1:]}")
        return None
    with open(workdir.path(out, workdir.QUALITY)) as f:
        quality = json.load(f)
    steps = workdir.checkpoint_step(out)  # checkpoints are numbered by generator step
    config, _ = workdir.read_config(out)  # what the run used: nested flagfiles and `extra` applied
    batch = config.batch_size
    row = {"samples": quality["samples"], "real_floor": quality["real_floor"], "steps": steps,
           "batch_size": batch, "d_steps": config.d_steps, "train_seconds": seconds,
           "images_per_s": steps * batch / (seconds if epochs else 60.0 * minutes), "flags": [f"--flagfile=flags/{cfg}.cfg", *extra]}
    print(f"{name}: {steps} G steps, {json.dumps({k: round(v, 4) for k, v in quality['samples'].items()})}",
          flush=True)
    return row


def print_table(budget, results):
    """A Markdown table of `results` ({name: train_and_score row}) with the real floor as the last row."""
    label = budget if isinstance(budget, str) else f"{budget:g} minutes"
    print(f"\n{label} of training each, 10,000 samples scored:\n")
    labelled = any("label_accuracy" in r["samples"] for r in results.values())
    print("| run | G steps | G images/s | classifier score | FCD | precision | recall | modes | class KL |"
          + (" label acc. |" if labelled else ""))
    print("|" + " --- |" * (10 if labelled else 9))
    for name, r in results.items():
        s = r["samples"]
        acc = (f" {s['label_accuracy']:.3f} |" if "label_accuracy" in s else "  |") if labelled else ""
        print(f"| {name} | {r['steps']} | {r['images_per_s']:.0f} | {s['classifier_score']:.2f} | {s['fcd']:.2f} | "
              f"{s['precision']:.3f} | {s['recall']:.3f} | {s['modes']} | {s['class_kl']:.3f} |{acc}")
    if results:
        f = next(iter(results.values()))["real_floor"]
        print(f"| real floor | | | {f['classifier_score']:.2f} | {f['fcd']:.3f} | {f['precision']:.3f} | "
              f"{f['recall']:.3f} | {f['modes']} | {f['class_kl']:.3f} |" + (" |" if labelled else ""))


def budget_arguments(parser):
    """The flags every comparison script shares: the budget, the data and the classifier cache."""
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-time budget per run")
    parser.add_argument("--epochs", type=int, default=0, help="train this many epochs instead of --minutes")
    parser.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    parser.add_argument("--classifier_cache", default="~/.cache/kgan")


def run_all(runs, args, json_name):
    """Trains and scores each (label, run dir name, flagfile name, extra flags) of `runs` one after the
    other at `args`' budget; writes bench/results/<json_name> and prints the table."""
    results = {}
    for label, name, cfg, extra in runs:
        row = train_and_score(name, cfg, args.minutes, args.data_dir, args.classifier_cache, extra,
                              epochs=args.epochs or None)
        if row:
            results[label] = row
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", json_name), "w") as f:
        json.dump({"minutes": args.minutes, "epochs": args.epochs, "results": results}, f, indent=2)
    print_table(f"{args.epochs} epochs" if args.epochs else args.minutes, results)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget_arguments(p)
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--extra", default="", help="extra train.py flags for every run, space separated")
    args = p.parse_args()
    run_all([(cfg, cfg, cfg, args.extra.split()) for cfg in args.configs.split(",")], args, "toolbox.json")


if __name__ == "__main__":
    main()
