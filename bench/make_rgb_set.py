"""Builds a real RGB image set offline: random crops of the photographs scikit-image and scikit-learn ship.

    python bench/make_rgb_set.py --out data/rgb64 --size 64 --num 2000

No download: the photographs come inside the scikit-image wheel (astronaut, chelsea,
coffee, rocket, hubble_deep_field, immunohistochemistry, retina, the two motorcycle
views; `pip install scikit-image`, the `bench` extra) and scikit-learn (china, flower).
Each image is a square crop of a random photograph at a random position and scale
(side between `--size` and half the photograph's shorter side), resized to
`--size` px with a box filter and flipped left-right half the time: a set of ~11
"scenes" at many scales, texture-rich, like a small folder of one's own photos.

Seeded (`--seed`): the same arguments write the same files. Rerunning replaces
the set (the PNGs a previous run wrote, listed in `<out>/make_rgb_set.json`);
a non-empty folder this script did not write is refused.
"""

import argparse
import json
import os
import sys

import numpy as np

MANIFEST = "make_rgb_set.json"


def photographs():
    """{name: uint8 [H, W, 3]} of the RGB photographs shipped with scikit-image and scikit-learn."""
    try:
        import skimage.data
    except ImportError:
        sys.exit("make_rgb_set.py: error: needs scikit-image: pip install scikit-image (or the kgan[bench] extra)")
    photos = {}
    for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina"):
        photos[name] = getattr(skimage.data, name)()
    left, right, _ = skimage.data.stereo_motorcycle()
    photos["motorcycle_left"], photos["motorcycle_right"] = left, right
    from sklearn.datasets import load_sample_images

    for fname, image in zip(load_sample_images().filenames, load_sample_images().images):
        photos[os.path.splitext(os.path.basename(fname))[0]] = image
    return {k: np.ascontiguousarray(v[..., :3]).astype(np.uint8) for k, v in sorted(photos.items())}


def crops(photos, size, num, seed):
    """`num` uint8 `[size, size, 3]` crops and the photograph each came from."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    names = sorted(photos)
    out, sources = [], []
    for _ in range(num):
        name = names[rng.integers(len(names))]
        photo = photos[name]
        h, w, _ = photo.shape
        side = int(rng.integers(size, max(size, min(h, w) // 2) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BOX)
        crop = np.asarray(crop)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(crop)
        sources.append(name)
    return np.stack(out), sources


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder to write the PNGs into (created)")
    p.add_argument("--size", type=int, default=64, help="side of the square images, px")
    p.add_argument("--num", type=int, default=2000, help="how many images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.size < 8 or args.num < 1:
        p.error("--size must be >= 8 and --num >= 1")
    from PIL import Image

    manifest_path = os.path.join(args.out, MANIFEST)
    if os.path.isdir(args.out) and os.listdir(args.out):
        if not os.path.exists(manifest_path):
            p.error(f"{args.out} is not empty and was not written by this script: choose another --out")
        with open(manifest_path) as f:
            for name in json.load(f)["files"]:
                try:
                    os.remove(os.path.join(args.out, name))
                except FileNotFoundError:
                    pass
    os.makedirs(args.out, exist_ok=True)
    photos = photographs()
    images, sources = crops(photos, args.size, args.num, args.seed)
    width = len(str(args.num - 1))
    files = []
    for i, image in enumerate(images):
        name = f"{i:0{width}d}.png"
        Image.fromarray(image).save(os.path.join(args.out, name))
        files.append(name)
    counts = {k: sources.count(k) for k in sorted(photos)}
    with open(manifest_path, "w") as f:
        json.dump({"size": args.size, "num": args.num, "seed": args.seed, "photographs": counts, "files": files},
                  f, indent=1)
    print(f"wrote {args.num} {args.size}x{args.size} RGB PNGs from {len(photos)} photographs to {args.out}")


if __name__ == "__main__":
    main()
