"""Does a trained generator copy its training images? Nearest-neighbour distances in pixel space.

    python bench/nearest.py RUN_DIR [RUN_DIR ...] [--data_dir=../shared/data/mnist] [--samples=2000]

For each run (a train.py output directory) it draws `--samples` images from the EMA generator and
measures the L2 distance (pixels in [0, 1]) from each to its nearest training image (all the real
images). The reference is the same for `--samples` held-out real digits against the other real
images (fewer than the samples are compared with: a conservative reference). A generator
that memorizes puts many samples much closer to a training image than real digits ever are to
each other; the table gives the median distance and the share of samples closer than the 1st
percentile of the real-to-real distances ("near copies": 1% for real data by construction).
"""

import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def nearest(queries, support, block=1000):
    """L2 distance from each query row to its nearest support row."""
    s2 = (support * support).sum(1)
    out = []
    for i in range(0, len(queries), block):
        q = queries[i : i + block]
        d = (q * q).sum(1)[:, None] - 2.0 * q @ support.T + s2[None]
        out.append(np.sqrt(np.maximum(d.min(1), 0.0)))
    return np.concatenate(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    p.add_argument("--samples", type=int, default=2000)
    args = p.parse_args()

    from kgan import data
    from kgan.workdir import load_run

    images, _ = data.arrays("mnist", data_dir=args.data_dir, with_labels=False)
    real = images.reshape(len(images), -1).astype("float32") / 255.0
    order = np.random.default_rng(0).permutation(len(real))
    held, train = real[order[: args.samples]], real[order[args.samples :]]
    ref = nearest(held, train)
    cut = np.percentile(ref, 1)
    print(f"| images | median distance to the nearest training image | closer than real's 1st percentile ({cut:.2f}) |")
    print("| --- | --- | --- |")
    print(f"| real, held out | {np.median(ref):.2f} | {np.mean(ref < cut):.1%} |")
    for run in args.run_dirs:
        gan, config = load_run(run)
        fake = gan.generate(args.samples, seed=7).reshape(args.samples, -1)
        d = nearest(fake, real)
        print(f"| {run} | {np.median(d):.2f} | {np.mean(d < cut):.1%} |")


if __name__ == "__main__":
    main()
