"""The headline recipes over several seeds: held-out metrics as mean ± sd, with the equal-N floor and C_T.

    python bench/seeds.py --seeds=3 --minutes=15         # 3 recipes x 3 seeds x 15 min, seed-major
    python bench/seeds.py --seeds=3 --epochs=1 --steps_per_epoch=5 --num_samples=1000   # a smoke test

Trains `flags/dcgan.cfg` (the default recipe), `flags/dcgan_plain.cfg` (the plain DCGAN) and
`flags/cdcgan.cfg` (the recipe with labels), or the `--recipes` given (a flagfile's name, optionally with
train.py flags that override it: `dcgan+share_fakes+batch_size=128`), with `--seed=0..N-1` at the same budget each, with
`--holdout=0.2` (a seeded fifth of a one-split source never trained on; `--holdout_seed` stays 0, so
every seed is scored against the same held-out images), into bench/results/seeds/<recipe>/seed<k>/.
Then scores each run in this process with one evaluator (`kgan.eval.run_evaluator`: the reference
classifier on the training part, the held-out part as the real side), prints a Markdown table of
mean ± sd over seeds per metric, the equal-N real floor and the C_T copying statistics, and writes
bench/results/seeds.json. Two recipes whose means differ by less than the larger sd are within the
run-to-run spread: the table marks it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)
RECIPES = ("dcgan", "dcgan_plain", "cdcgan")
METRICS = ("classifier_score", "fcd", "precision", "recall", "modes", "class_kl", "label_accuracy", "swd",
           "ct_pixels", "ct_features", "train_s")


def recipe_flags(recipe):
    """`dcgan+share_fakes+batch_size=128` -> ("dcgan", ["--share_fakes", "--batch_size=128"]): a flagfile and
    the train.py flags that override it.

    >>> recipe_flags("dcgan+share_fakes+g_learning_rate=2e-3")
    ('dcgan', ['--share_fakes', '--g_learning_rate=2e-3'])
    """
    cfg, *overrides = recipe.split("+")
    return cfg, [f"--{o}" for o in overrides]


def train_args(recipe, seed, args, out):
    """train.py's arguments for one run of `recipe`."""
    cfg, overrides = recipe_flags(recipe)
    budget = ([f"--epochs={args.epochs}"] if args.epochs else [f"--max_minutes={args.minutes}", "--epochs=100000"])
    return [f"--flagfile=flags/{cfg}.cfg", f"--data_dir={args.data_dir}", f"--output_dir={out}", f"--seed={seed}",
            f"--holdout={args.holdout}", "--progress=none", *budget,
            *([f"--steps_per_epoch={args.steps_per_epoch}"] if args.steps_per_epoch else []), *overrides]


def check_recipes(recipes, args):
    """Every recipe's train.py flags parse (absl's --only_check_args, one process each): a typo in the last recipe
    fails now, not after the others have trained."""
    for recipe in recipes:
        cfg, _ = recipe_flags(recipe)
        if not os.path.exists(os.path.join(REPO, "flags", f"{cfg}.cfg")):
            sys.exit(f"seeds.py: error: --recipes: no flags/{cfg}.cfg for {recipe!r}")
        r = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *train_args(recipe, 0, args, "unused"),
                            "--only_check_args"], cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                           capture_output=True, text=True)
        if r.returncode:
            lines = r.stderr.strip().splitlines() or [f"exit code {r.returncode}"]
            sys.exit(f"seeds.py: error: --recipes: {recipe!r}: {lines[-1]}")


def train(recipe, seed, args):
    out = os.path.join(HERE, "results", "seeds", recipe, f"seed{seed}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, os.path.join(REPO, "train.py"), *train_args(recipe, seed, args, out)]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True)
    if not r.returncode:  # the whole train.py process: start-up, clusters, training, epoch ends
        with open(os.path.join(out, "bench_seconds.txt"), "w") as f:
            f.write(f"{time.perf_counter() - start:.1f}\n")
    if r.returncode:
        sys.exit(f"{recipe} seed {seed}: train.py failed ({r.returncode}): {r.stderr[-2000:]}")
    return out


def mean_sd(values):
    v = np.asarray(values, "float64")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def main():
    import machine

    print("machine:", machine.describe(), flush=True)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--minutes", type=float, default=15.0, help="training minutes per run")
    p.add_argument("--epochs", type=int, default=0, help="train this many epochs instead of --minutes")
    p.add_argument("--steps_per_epoch", type=int, default=0)
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--holdout", type=float, default=0.2)
    p.add_argument("--num_samples", type=int, default=10_000)
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    p.add_argument("--classifier_cache", default="~/.cache/kgan")
    p.add_argument("--rescore", action="store_true", help="no training: score the runs already there")
    args = p.parse_args()
    if args.seeds < 1:
        sys.exit("--seeds must be >= 1")

    # Seed-major order (seed 0 of every recipe, then seed 1, ...): on a machine whose speed drifts, each
    # recipe's seeds are spread over the whole run instead of one recipe getting its fast or slow hour.
    recipes = args.recipes.split(",")
    if not args.rescore:
        check_recipes(recipes, args)
    runs = {cfg: [None] * args.seeds for cfg in recipes}
    for s in range(args.seeds):
        for cfg in recipes:
            runs[cfg][s] = (os.path.join(HERE, "results", "seeds", cfg, f"seed{s}") if args.rescore
                            else train(cfg, s, args))

    from kgan import eval as eval_lib
    from kgan.workdir import load_run

    first = next(iter(runs.values()))[0]
    split = eval_lib.run_split(first)
    _, config = load_run(first)
    evaluator, info = eval_lib.run_evaluator(config.dataset, config.data_dir, split, args.classifier_cache)
    if not evaluator.held_out:
        sys.exit(f"{first} has no held-out images: use --holdout > 0")
    results = {}
    for cfg, dirs in runs.items():
        rows = []
        for d in dirs:
            if eval_lib.run_split(d) != split:
                sys.exit(f"{d} was trained on another split than {first}: their scores are not comparable")
            gan, _ = load_run(d)
            labels = gan.check_labels(None, args.num_samples) if gan.num_classes else None
            rows.append(evaluator.evaluate(gan.generate(args.num_samples, seed=0, labels=labels), labels=labels))
            if os.path.exists(os.path.join(d, "bench_seconds.txt")):  # train.py's wall time (bench/seeds.py's run)
                with open(os.path.join(d, "bench_seconds.txt")) as f:
                    rows[-1]["train_s"] = float(f.read())
            print(f"{cfg} {os.path.basename(d)}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items()), flush=True)
        results[cfg] = {k: mean_sd([r[k] for r in rows]) for k in METRICS if k in rows[0]}
        results[cfg]["runs"] = rows
    floor = evaluator.real_floor(args.num_samples)

    budget = (f"{args.epochs} epochs" if args.epochs else f"{args.minutes:g} minutes") + (
        f" of at most {args.steps_per_epoch} steps" if args.steps_per_epoch else "")
    print(f"\n{budget} of training each, {args.seeds} seeds (mean ± sd), {args.num_samples} samples against "
          f"{evaluator.num_real} held-out images; floor: {floor['num_images']} real training images against them:\n")
    shown = [k for k in METRICS if any(k in r for r in results.values())]
    print("| run | " + " | ".join(shown) + " |")
    print("|" + " --- |" * (len(shown) + 1))
    for cfg, r in results.items():
        print(f"| {cfg} | " + " | ".join(f"{r[k][0]:.3g} ± {r[k][1]:.2g}" if k in r else "" for k in shown)
              + " |")
    print("| real floor (equal N) | " + " | ".join(f"{floor[k]:.3g}" if k in floor else ("~0" if k.startswith("ct")
                                                                                          else "") for k in shown) + " |")
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            close = [k for k in shown if k in results[a] and k in results[b] and
                     abs(results[a][k][0] - results[b][k][0]) <= max(results[a][k][1], results[b][k][1])]
            if close:
                print(f"{a} vs {b}: within the run-to-run spread on {', '.join(close)}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "seeds.json"), "w") as f:
        json.dump({"budget": budget, "seeds": args.seeds, "num_samples": args.num_samples, "data_split": split,
                   "classifier": {k: info.get(k) for k in ("accuracy", "gate", "labels")}, "real_floor": floor,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
