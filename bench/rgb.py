"""The choices of flags/folder64.cfg measured at an equal budget on a folder of RGB images, scored with the SWD.

    python bench/make_rgb_set.py --out data/rgb64 --size 64 --num 2000
    python bench/rgb.py --data_dir=data/rgb64 --minutes=10            # every variant, one after another
    python bench/rgb.py --data_dir=data/rgb64 --minutes=10 --only=0,1 # folder64.cfg and without DiffAugment
    python bench/rgb.py --data_dir=data/rgb64 --minutes=3 --only=0,1,2,7 --seeds=3  # mean +- sd over seeds 0-2
    python bench/rgb.py --data_dir=data/rgb64 --steps=20 --only=0     # a smoke test of the script

Each variant is flags/folder64.cfg plus a few flags (clusters on or off, mode seeking, DiffAugment,
batch size; `OFF`: the unconditional networks without clusters or mode seeking), trained by train.py with `--holdout=0.2` (a seeded fifth of the folder, the same for
every variant, is never trained on) into bench/results/rgb/<index>-<seed>/ (started fresh) for
`--minutes` of wall time (or exactly `--steps` generator steps), once per seed (`--seeds=N`: seeds
0..N-1, each variant's seeds one after another; the table then shows mean +- sd). Then every run is scored in this process with
one `kgan.eval` evaluator against the held-out images: the label-free multi-scale sliced
Wasserstein distance (kgan.eval.swd, ×10³, lower is better) and the classifier-feature metrics of
an unlabelled folder (the reference classifier learns k-means cluster ids of the training part:
FCD, precision/recall, clusters covered, C_T), on as many samples as there are training images,
next to the equal-N real floor (the training images against the held-out ones). Sanity sets
show the metrics' ranking on this RGB set: the training images blurred (σ = 1.5 px), Gaussian
noise added (σ = 32 grey levels), and a collapsed set (only the images the classifier puts in 2
of its clusters). Prints a Markdown table and writes bench/results/rgb.json.
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
FLAGFILE = "flags/folder64.cfg"
HOLDOUT = 0.2

OFF = ["--network=dcgan", "--clusters=0", "--mode_seeking=0"]  # unconditional, as folder64.cfg was before 2026-12-01
VARIANTS = [
    ("folder64.cfg: 20 k-means clusters, mode seeking 0.1, DiffAugment color,translation,cutout, batch 64", []),
    ("no clusters, no mode seeking", OFF),
    ("no clusters, no mode seeking, no DiffAugment", [*OFF, "--diff_augment="]),
    ("no clusters, no mode seeking, DiffAugment translation,cutout (no color)", [*OFF, "--diff_augment=translation,cutout"]),
    ("no clusters, mode seeking 0.1", ["--network=dcgan", "--clusters=0"]),
    ("20 k-means clusters, no mode seeking", ["--mode_seeking=0"]),
    ("no clusters, no mode seeking, batch 32", [*OFF, "--batch_size=32"]),
    ("no clusters, no mode seeking, batch 128", [*OFF, "--batch_size=128"]),
    ("no DiffAugment", ["--diff_augment="]),
    ("batch 128", ["--batch_size=128"]),
]


def _flag(name, extra, default=None):
    for arg in reversed(list(extra)):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    with open(os.path.join(REPO, FLAGFILE)) as f:
        for line in f:
            if line.startswith(f"--{name}="):
                return line.strip().split("=", 1)[1]
    return default


def train(index, extra, args, seed):
    """Runs train.py for one variant and seed; returns (run_dir, seconds) or None (reason printed)."""
    out = os.path.join(args.results, "rgb", f"{index}-{seed}")
    shutil.rmtree(out, ignore_errors=True)
    budget = ([f"--epochs=1", f"--steps_per_epoch={args.steps}"] if args.steps
              else [f"--max_minutes={args.minutes}", "--epochs=100000"])
    cmd = [sys.executable, os.path.join(REPO, "train.py"), f"--flagfile={FLAGFILE}", f"--data_dir={args.data_dir}",
           f"--output_dir={out}", "--progress=none", "--sample_every=10", f"--holdout={HOLDOUT}", *budget, *extra,
           f"--seed={seed}"]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True,
                       text=True)
    seconds = time.perf_counter() - start
    if r.returncode:
        print(f"variant {index}: train.py failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return out, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_dir", required=True, help="a folder of RGB images (bench/make_rgb_set.py builds one)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-time budget per variant")
    p.add_argument("--steps", type=int, default=0, help="instead of --minutes: exactly this many generator steps")
    p.add_argument("--only", default="", help="comma-separated indices into the variant list (default: all)")
    p.add_argument("--num_samples", type=int, default=0, help="images to score (default: as many as the folder)")
    p.add_argument("--seeds", type=int, default=1, help="train each variant with seeds 0..N-1")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--classifier_cache", default="~/.cache/kgan")
    args = p.parse_args()
    chosen = [(i, *VARIANTS[i]) for i in map(int, args.only.split(","))] if args.only else \
        [(i, *v) for i, v in enumerate(VARIANTS)]

    sys.path.insert(0, REPO)
    import kgan_cli  # noqa: F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    from scipy import ndimage

    from kgan import data, workdir
    from kgan import eval as eval_lib
    from kgan.eval.classifier import cluster_labels

    size = tuple(int(v) for v in _flag("image_size", []).split(","))
    split = data.split.plan("folder", data_dir=args.data_dir, holdout=HOLDOUT)
    train_images, _ = data.arrays("folder", data_dir=args.data_dir, with_labels=False, image_size=size,
                                  **split["train"])
    # An unlabelled folder: the classifier learns k-means clusters; below its gate, run_evaluator falls back to
    # the label-free metrics (SWD and pixel C_T), as evaluate.py and --eval_every do.
    evaluator, info = eval_lib.run_evaluator("folder", args.data_dir, split, args.classifier_cache, image_size=size)
    num_samples = args.num_samples or len(train_images)
    floor = evaluator.real_floor(num_samples)
    print(f"{len(train_images)} training and {evaluator.num_real} held-out images {train_images.shape[1:]}; "
          f"classifier on {info.get('labels')} (accuracy {info.get('accuracy', float('nan')):.3f}, gate "
          f"{info.get('gate', float('nan')):.3f}; sanity sets' FCD over the floor's on its held-out part: "
          f"{info.get('ranking')}); floor: " + _fmt(floor), flush=True)

    rng = np.random.default_rng(0)
    x = train_images.astype("float32")
    clusters = cluster_labels(train_images)  # k-means of the pixels, as the classifier's classes would be
    few = train_images[np.isin(clusters, [0, 1])]
    sanity = {
        "training images blurred (sigma 1.5 px)": ndimage.gaussian_filter(x, (0, 1.5, 1.5, 0)).round().astype(np.uint8),
        "training images + noise (sigma 32)": np.clip(x + rng.normal(0, 32, x.shape), 0, 255).astype(np.uint8),
        f"collapsed: 2 of {clusters.max() + 1} k-means clusters only": few[rng.integers(0, len(few), len(train_images))],
    }
    sanity_rows = [{"variant": name, **_rounded(evaluator.evaluate(images[:num_samples]))}
                   for name, images in sanity.items()]
    for row in sanity_rows:
        print(json.dumps(row), flush=True)

    rows = []
    for index, name, extra, seed in [(*c, s) for c in chosen for s in range(args.seeds)]:
        trained = train(index, extra, args, seed)
        if trained is None:
            continue
        out, seconds = trained
        if eval_lib.run_split(out) != split:
            sys.exit(f"{out} was trained on another split: its scores would not be comparable")
        gan, _ = workdir.load_run(out)
        steps = int(gan.g_optimizer.iterations.numpy())
        batch = int(_flag("batch_size", extra))
        samples = gan.generate(num_samples, seed=0)
        row = {"variant": name, "flags": extra, "seed": seed, "steps": steps, "seconds": round(seconds, 1),
               "images_per_s": round(steps * batch / seconds, 1), **_rounded(evaluator.evaluate(samples))}
        rows.append(row)
        print(json.dumps(row), flush=True)
        np.save(os.path.join(out, "samples_64.npy"), (samples[:64] * 255).astype(np.uint8))

    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "rgb.json"), "w") as f:
        json.dump({"data_dir": args.data_dir, "data_split": split, "training_images": len(train_images),
                   "heldout_images": evaluator.num_real, "num_samples": num_samples,
                   "classifier": {k: info.get(k) for k in ("labels", "accuracy", "gate", "ranking", "reason")},
                   "budget": {"steps": args.steps} if args.steps else {"minutes": args.minutes},
                   "real_floor": floor, "sanity": sanity_rows, "runs": rows}, f, indent=2)
    shown = [k for k in SHOWN if k in floor or any(k in r for r in rows + sanity_rows)]
    print(f"\n{num_samples} images each against the {evaluator.num_real} held-out images\n")
    print(f"| run | G steps | {' | '.join(shown)} |")
    print(f"| --- | --- | {' | '.join('---' for _ in shown)} |")
    print(f"| real floor: {floor['num_images']} training images | | {' | '.join(_cell(floor, k) for k in shown)} |")
    for row in sanity_rows + (_over_seeds(rows) if args.seeds > 1 else rows):
        print(f"| {row['variant']} | {row.get('steps', '')} | {' | '.join(_cell(row, k) for k in shown)} |")


def _over_seeds(rows):
    """One row per variant: 'mean +- sd (n seeds)' strings for the metrics and steps."""
    import numpy as np

    out = []
    for name in dict.fromkeys(r["variant"] for r in rows):
        group = [r for r in rows if r["variant"] == name]
        row = {"variant": f"{name} ({len(group)} seeds)"}
        for k in ("steps", *SHOWN):
            values = [r[k] for r in group if k in r]
            if values:
                row[k] = f"{np.mean(values):.3g} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.2g}"
        out.append(row)
    return out


SHOWN = ("swd", "swd_64", "swd_32", "swd_16", "fcd", "precision", "recall", "modes", "ct_pixels", "ct_features")


def _rounded(metrics):
    return {k: round(float(v), 4) for k, v in metrics.items()}


def _cell(row, key):
    if key not in row:
        return ""
    return row[key] if isinstance(row[key], str) else f"{row[key]:.3g}"


def _fmt(metrics):
    return ", ".join(f"{k} {metrics[k]:.3g}" for k in SHOWN if k in metrics)

if __name__ == "__main__":
    main()
