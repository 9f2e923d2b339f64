"""Single-factor ablations of the default recipe (flags/dcgan.cfg) at an equal wall-time budget.

    python bench/ablation.py --minutes=3        # 8 runs x (3 min + ~30 s scoring), ~30 minutes
    python bench/ablation.py --epochs=5         # the same at an equal number of epochs instead

Each run is `flags/dcgan.cfg` with one thing changed (or `flags/dcgan_plain.cfg`, both changes
undone), trained on the real MNIST digits one after the other and scored on 10,000 samples with
kgan's quality metrics. Prints a Markdown table and writes bench/results/ablation.json.
"""

import argparse

from toolbox import budget_arguments, run_all

VARIANTS = {
    "recipe (dcgan.cfg: batch 64, EMA 0.999)": ("dcgan", []),
    "no EMA": ("dcgan", ["--ema_decay=0"]),
    "batch 256": ("dcgan", ["--batch_size=256"]),
    "plain (batch 256, no EMA)": ("dcgan_plain", []),
    "TTUR: D 4e-4, G 1e-4": ("dcgan", ["--d_learning_rate=4e-4", "--g_learning_rate=1e-4"]),
    "label smoothing 0.1": ("dcgan", ["--label_smoothing=0.1"]),
    "instance noise 0.1, decaying over 2000 D steps": ("dcgan", ["--instance_noise=0.1",
                                                                 "--instance_noise_steps=2000"]),
    "EMA 0.99": ("dcgan", ["--ema_decay=0.99"]),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget_arguments(p)
    p.add_argument("--only", default="", help="comma-separated indices into the variant list (default: all)")
    args = p.parse_args()
    chosen = list(enumerate(VARIANTS.items()))
    if args.only:
        chosen = [chosen[int(i)] for i in args.only.split(",")]
    run_all([(name, f"ablation-{i}", cfg, extra) for i, (name, (cfg, extra)) in chosen], args, "ablation.json")


if __name__ == "__main__":
    main()
