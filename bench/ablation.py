"""Ablations behind the default recipe (flags/dcgan.cfg) at an equal budget per run.

    python bench/ablation.py --set=compact --minutes=4    # networks, rates, batch, loss: 10 runs, ~50 minutes
    python bench/ablation.py --set=tutorial --minutes=3   # batch, EMA, TTUR, smoothing, noise: 8 runs
    python bench/ablation.py --set=tutorial --epochs=5    # the same at an equal number of epochs
    python bench/ablation.py --set=clusters --minutes=3   # self-conditioning: clusters, mode seeking: 6 runs
    python bench/ablation.py --set=architecture --minutes=3   # LeakyReLU slope, BatchNorm in D, kernels: 6 runs

Every run is a flagfile plus a few flags, trained on the real MNIST digits one after the other and
scored on 10,000 samples with kgan's quality metrics. `tutorial` changes one thing at a time in
flags/dcgan_tutorial.cfg (the TensorFlow tutorial's networks at batch 64 with EMA, kgan's first
recipe); `compact` starts from the same file and shrinks the networks, then tunes the learning rate,
batch, loss and regularizer: the path to the compact networks; `clusters` varies the k-means
self-conditioning of flags/dcgan.cfg (kgan.features.clusters) and its mode-seeking term;
`architecture` varies flags/dcgan.cfg's LeakyReLU slope, BatchNorm in D and kernel size. Prints a
Markdown table and writes bench/results/ablation-<set>.json.
"""

import argparse

from toolbox import budget_arguments, run_all

_COMPACT = ["--g_filters=128,64,32", "--d_filters=32,64", "--kernel_size=4"]

SETS = {
    "tutorial": {
        "tutorial recipe (dcgan_tutorial.cfg: batch 64, EMA 0.999)": ("dcgan_tutorial", []),
        "no EMA": ("dcgan_tutorial", ["--ema_decay=0"]),
        "batch 256": ("dcgan_tutorial", ["--batch_size=256"]),
        "plain (batch 256, no EMA)": ("dcgan_plain", []),
        "TTUR: D 4e-4, G 1e-4": ("dcgan_tutorial", ["--d_learning_rate=4e-4", "--g_learning_rate=1e-4"]),
        "label smoothing 0.1": ("dcgan_tutorial", ["--label_smoothing=0.1"]),
        "instance noise 0.1, decaying over 2000 D steps": ("dcgan_tutorial", ["--instance_noise=0.1",
                                                                              "--instance_noise_steps=2000"]),
        "EMA 0.99": ("dcgan_tutorial", ["--ema_decay=0.99"]),
    },
    "clusters": {
        "no clusters, no mode seeking (the compact recipe before self-conditioning)": (
            "dcgan", ["--network=dcgan", "--clusters=0", "--mode_seeking=0"]),
        "10 clusters": ("dcgan", ["--clusters=10"]),
        "30 clusters": ("dcgan", ["--clusters=30"]),
        "100 clusters (dcgan.cfg)": ("dcgan", []),
        "100 clusters, no mode seeking": ("dcgan", ["--mode_seeking=0"]),
        "300 clusters": ("dcgan", ["--clusters=300"]),
    },
    "architecture": {
        "dcgan.cfg (LeakyReLU 0.2, no BatchNorm in D, 4x4 kernels)": ("dcgan", []),
        "LeakyReLU slope 0.1": ("dcgan", ["--negative_slope=0.1"]),
        "LeakyReLU slope 0.3": ("dcgan", ["--negative_slope=0.3"]),
        "BatchNorm in D": ("dcgan", ["--d_batchnorm"]),
        "3x3 kernels": ("dcgan", ["--kernel_size=3"]),
        "5x5 kernels": ("dcgan", ["--kernel_size=5"]),
    },
    "compact": {
        "tutorial networks: G 256-128-64, D 64-128, 5x5": ("dcgan_tutorial", []),
        "compact: G 128-64-32, D 32-64, 4x4": ("dcgan_tutorial", _COMPACT),
        "compact, smaller G 64-32-16": ("dcgan_tutorial", [*_COMPACT, "--g_filters=64,32,16"]),
        "compact, tutorial G 256-128-64": ("dcgan_tutorial", [*_COMPACT, "--g_filters=256,128,64"]),
        "compact, tutorial D 64-128": ("dcgan_tutorial", [*_COMPACT, "--d_filters=64,128"]),
        "compact, hinge + spectral norm, no dropout, TTUR 4e-4/1e-4, beta (0, 0.9)": (
            "dcgan_tutorial", [*_COMPACT, "--loss=hinge", "--spectral_norm", "--d_dropout=0",
                               "--d_learning_rate=4e-4", "--g_learning_rate=1e-4", "--beta_1=0.0", "--beta_2=0.9"]),
        "compact, R1 (gamma 1, every 4 D steps) instead of dropout": (
            "dcgan_tutorial", [*_COMPACT, "--d_dropout=0", "--r1_penalty=1", "--r1_every=4"]),
        "compact, batch 32": ("dcgan_tutorial", [*_COMPACT, "--batch_size=32"]),
        "compact, Adam 5e-4": ("dcgan_tutorial", [*_COMPACT, "--d_learning_rate=5e-4", "--g_learning_rate=5e-4"]),
        "compact, Adam 1e-3": ("dcgan_tutorial", [*_COMPACT, "--d_learning_rate=1e-3", "--g_learning_rate=1e-3"]),
        "compact, Adam 2e-3": ("dcgan_tutorial", [*_COMPACT, "--d_learning_rate=2e-3", "--g_learning_rate=2e-3"]),
        "compact, batch 32, Adam 4e-4": ("dcgan_tutorial", [*_COMPACT, "--batch_size=32", "--d_learning_rate=4e-4",
                                                             "--g_learning_rate=4e-4"]),
    },
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget_arguments(p)
    p.add_argument("--set", default="compact", choices=sorted(SETS))
    p.add_argument("--only", default="", help="comma-separated indices into the set's variant list (default: all)")
    args = p.parse_args()
    chosen = list(enumerate(SETS[args.set].items()))
    if args.only:
        chosen = [chosen[int(i)] for i in args.only.split(",")]
    run_all([(name, f"ablation-{args.set}-{i}", cfg, extra) for i, (name, (cfg, extra)) in chosen], args,
            f"ablation-{args.set}.json")


if __name__ == "__main__":
    main()
