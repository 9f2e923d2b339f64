"""The choices of flags/folder64.cfg measured at an equal budget on a folder of RGB images, scored with the SWD.

    python bench/make_rgb_set.py --out data/rgb64 --size 64 --num 2000
    python bench/rgb.py --data_dir=data/rgb64 --minutes=10            # every variant, one after another
    python bench/rgb.py --data_dir=data/rgb64 --minutes=10 --only=0,1 # folder64.cfg and without DiffAugment
    python bench/rgb.py --data_dir=data/rgb64 --steps=20 --only=0     # a smoke test of the script

Each variant is flags/folder64.cfg plus a few flags (clusters on or off, mode seeking, DiffAugment,
batch size), trained by train.py into bench/results/rgb/<index>/ (started fresh) for `--minutes` of
wall time (or exactly `--steps` generator steps), then scored in this process: `--num_samples`
images from the run's EMA generator against the folder's images with the multi-scale sliced
Wasserstein distance (kgan.eval.swd, ×10³, lower is better), next to the real floor (two halves of
the folder). Prints a Markdown table and writes bench/results/rgb.json.
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

VARIANTS = [
    ("folder64.cfg: no clusters, no mode seeking, DiffAugment color,translation,cutout, batch 64", []),
    ("no DiffAugment", ["--diff_augment="]),
    ("DiffAugment translation,cutout (no color)", ["--diff_augment=translation,cutout"]),
    ("mode seeking 0.1", ["--mode_seeking=0.1"]),
    ("20 k-means clusters + mode seeking 0.1 (cdcgan, as flags/dcgan.cfg)",
     ["--network=cdcgan", "--clusters=20", "--mode_seeking=0.1"]),
    ("20 k-means clusters, no mode seeking", ["--network=cdcgan", "--clusters=20"]),
    ("batch 32", ["--batch_size=32"]),
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


def train(index, extra, args):
    """Runs train.py for one variant; returns (run_dir, seconds) or None (reason printed)."""
    out = os.path.join(args.results, "rgb", str(index))
    shutil.rmtree(out, ignore_errors=True)
    budget = ([f"--epochs=1", f"--steps_per_epoch={args.steps}"] if args.steps
              else [f"--max_minutes={args.minutes}", "--epochs=100000"])
    cmd = [sys.executable, os.path.join(REPO, "train.py"), f"--flagfile={FLAGFILE}", f"--data_dir={args.data_dir}",
           f"--output_dir={out}", "--progress=none", "--sample_every=10", *budget, *extra]
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
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    chosen = [(i, *VARIANTS[i]) for i in map(int, args.only.split(","))] if args.only else \
        [(i, *v) for i, v in enumerate(VARIANTS)]

    sys.path.insert(0, REPO)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from kgan import data, workdir
    from kgan.eval import swd

    size = tuple(int(v) for v in _flag("image_size", []).split(","))
    real, _ = data.arrays("folder", data_dir=args.data_dir, with_labels=False, image_size=size)
    metric = swd.SlicedWasserstein(real)
    floor = metric.real_floor()
    num_samples = args.num_samples or len(real)
    print(f"{len(real)} real images {real.shape[1:]}; SWD real floor (two halves) {floor['swd']:.1f}", flush=True)

    rows = []
    for index, name, extra in chosen:
        trained = train(index, extra, args)
        if trained is None:
            continue
        out, seconds = trained
        gan, _ = workdir.load_run(out)
        steps = int(gan.g_optimizer.iterations.numpy())
        batch = int(_flag("batch_size", extra))
        samples = gan.generate(num_samples, seed=0)
        score = metric.distance(samples)
        row = {"variant": name, "flags": extra, "steps": steps, "seconds": round(seconds, 1),
               "images_per_s": round(steps * batch / seconds, 1), **{k: round(v, 2) for k, v in score.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        np.save(os.path.join(out, "samples_64.npy"), (samples[:64] * 255).astype(np.uint8))

    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "rgb.json"), "w") as f:
        json.dump({"data_dir": args.data_dir, "real_images": len(real), "num_samples": num_samples,
                   "budget": {"steps": args.steps} if args.steps else {"minutes": args.minutes},
                   "real_floor": floor, "runs": rows}, f, indent=2)
    levels = [k for k in floor if k != "swd"]
    print()
    print(f"| variant | G steps | SWD | {' | '.join(levels)} |")
    print(f"| --- | --- | --- | {' | '.join('---' for _ in levels)} |")
    print(f"| real floor (two halves of the folder) | | {floor['swd']:.1f} | "
          f"{' | '.join(f'{floor[k]:.1f}' for k in levels)} |")
    for row in rows:
        print(f"| {row['variant']} | {row['steps']} | {row['swd']:.1f} | {' | '.join(f'{row[k]:.1f}' for k in levels)} |")


if __name__ == "__main__":
    main()
