"""Corruption fuzzing of a finished run: damage files at random, rerun training or export, check the outcome.

Used by `tests/test_corruption.py` (a fixed set of seeded cases) and `bench/corruption.py` (many more,
a table of outcomes). A case copies a pristine tiny run (self-conditioned cdcgan: checkpoints,
config.json, clusters.npz, and an exported version), damages 1-3 of its files (truncation to a
random length, a flipped bit, zero length, removal), then reruns the training command (two more
steps) or `kgan_cli/export.py`, in a child of `tests/fault_server.py` (TensorFlow imported once).
Every case must end in one of:

- `resumed`: exit 0, training went on from a checkpoint none of whose files was damaged, and its
  new newest checkpoint reads back whole;
- `exported`: exit 0, a new version was exported (loads and generates), from an intact checkpoint;
- `refused`: exit 2 with one error line (the last line), and nothing on disk changed;

and in every case: no traceback, no intact file made worse (config.json, clusters.npz, flags.cfg and
published export versions byte-identical unless the run legitimately rewrites them; a checkpoint
file is changed only by the run's own rotation; damaged checkpoint files are set aside byte for
byte, never deleted), and export changes nothing in the run directory.
"""

import hashlib
import json
import os
import random
import re
import shutil

STEPS = 2  # steps per epoch of the tiny runs
EPOCHS = 2  # of the pristine runs; a training rerun adds one epoch
DAMAGES = ("truncate", "bitflip", "zero", "remove")

# Tiny networks; a checkpoint after every step, 3 kept (ckpt-2, ckpt-3, ckpt-4 at the end).
RUNS = {
    # checkpoints, config.json, an export version
    "mlp": ["--network=mlp", "--g_filters=16", "--d_filters=16", "--latent_dim=8"],
    # the default recipe's kind (self-conditioned cdcgan): clusters.npz too
    "clusters": ["--network=cdcgan", "--clusters=3", "--g_filters=8,4,2", "--d_filters=4,8", "--latent_dim=8",
                 "--kernel_size=3"],
}


def tiny_idx(dest, mnist_dir, n=64, labels=False):
    """The first `n` real MNIST test images (and their labels) as an uncompressed IDX folder (fast to load
    and cluster)."""
    import gzip

    os.makedirs(dest, exist_ok=True)
    with gzip.open(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz")) as f:
        header, pixels = f.read(16), f.read(n * 28 * 28)
    with open(os.path.join(dest, "t10k-images-idx3-ubyte"), "wb") as f:
        f.write(header[:4] + n.to_bytes(4, "big") + header[8:] + pixels)
    if labels:
        with gzip.open(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz")) as f:
            header, values = f.read(8), f.read(n)
        with open(os.path.join(dest, "t10k-labels-idx1-ubyte"), "wb") as f:
            f.write(header[:4] + n.to_bytes(4, "big") + values)
    return dest


def make_pristine(server, root, mnist_dir, name, export=True):
    """A finished run of EPOCHS epochs made by the real commands (and export version 1)."""
    data = tiny_idx(os.path.join(root, "data"), mnist_dir)
    out = os.path.join(root, "pristine-" + name)
    args = [f"--output_dir={out}", "--dataset=idx", f"--data_dir={data}", *RUNS[name], "--batch_size=8",
            f"--epochs={EPOCHS}", f"--steps_per_epoch={STEPS}", "--checkpoint_every_steps=1", "--num_samples=4",
            "--progress=none"]
    log = os.path.join(root, f"pristine-{name}.log")
    assert server.wait(server.start("train.py", args, log)) == 0, open(log).read()[-3000:]
    if export:
        assert server.wait(server.start("kgan_cli/export.py", export_args(out), log)) == 0, open(log).read()[-3000:]
    return out


def train_args(pristine, out):
    """The pristine run's own command (its flags.cfg) on `out`, one epoch more."""
    return [f"--flagfile={os.path.join(pristine, 'flags.cfg')}", f"--output_dir={out}", f"--epochs={EPOCHS + 1}"]


def export_args(out):
    return [f"--run_dir={out}", "--formats=saved_model"]


def targets(run):
    """Files a case may damage: checkpoints/, config.json, clusters.npz, the export's version directory."""
    found = []
    for d, _, names in os.walk(run):
        rel = os.path.relpath(d, run)
        top = rel.split(os.sep)[0]
        for name in names:
            path = os.path.normpath(os.path.join(rel, name))
            if top in ("checkpoints", "export") or path in ("config.json", "clusters.npz"):
                found.append(path)
    return sorted(found)


def kind(path):
    """The row of the outcome table a damaged file belongs to."""
    if path.startswith("export"):
        return "export version"
    if path.startswith("checkpoints"):
        name = os.path.basename(path)
        return "checkpoint index" if name == "checkpoint" else "checkpoint " + ("data" if ".data-" in name else "index")
    return path


def damage(path, how, rng):
    data = open(path, "rb").read()
    if how == "remove":
        os.remove(path)
    elif how == "zero":
        open(path, "wb").close()
    elif how == "truncate":
        open(path, "wb").write(data[: rng.randrange(len(data))] if data else b"")
    else:  # flip one random bit (a zero-length file stays as it is)
        if data:
            b = bytearray(data)
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
            open(path, "wb").write(bytes(b))


def _hashes(root):
    out = {}
    for d, _, names in os.walk(root):
        for name in names:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


# What a training rerun legitimately rewrites or adds (outputs of every epoch).
_RUN_OUTPUTS = re.compile(r"^(metrics\.csv|losses\.(png|csv)|progress\.gif|samples/.*|tensorboard/.*|\.lock|"
                          r"config\.json|flags\.cfg|history\.jsonl|checkpoints/.*)$")


def run_case(server, pristine, root, seed, focus=None):
    """Runs case `seed`; returns a dict {seed, op, damaged: [(path, how)], outcome, detail}. Raises
    AssertionError naming the case when the outcome is not one of the allowed ones."""
    import tensorflow as tf

    from kgan import integrity

    rng = random.Random(seed)
    case = os.path.join(root, f"case-{os.path.basename(pristine)}-{seed}")
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(pristine, case)
    files = targets(case)
    picked = rng.sample(files, rng.choice((1, 1, 2, 3)))
    if focus and focus not in picked:  # this file is always among the damaged ones
        picked[0] = focus
    damaged = [(p, rng.choice(DAMAGES)) for p in picked]
    op = "export" if any(p.startswith("export") for p in picked) or rng.random() < 0.3 else "train"
    for p, how in damaged:
        damage(os.path.join(case, p), how, rng)
    before = _hashes(case)
    damaged_paths = {p for p, _ in damaged}
    log = case + ".log"
    what = f"case {os.path.basename(pristine)} {seed}: {op} after {damaged}"
    if op == "train":
        # Two more steps: one more epoch.
        pid = server.start("train.py", train_args(pristine, case), log)
    else:
        pid = server.start("kgan_cli/export.py", export_args(case), log)
    code = server.wait(pid)
    text = open(log).read()
    assert "Traceback" not in text, f"{what}: traceback\n{text[-3000:]}"
    after = _hashes(case)
    result = dict(run=os.path.basename(pristine), seed=seed, op=op, damaged=damaged, code=code)
    if code == 2:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error:" in ln]
        assert len(errors) == 1 and errors[0] == lines[-1], f"{what}: not one error line\n{text[-3000:]}"
        assert after == before, f"{what}: refused, but changed {sorted(set(after.items()) ^ set(before.items()))}"
        result.update(outcome="refused", detail=errors[0].split("error: ", 1)[1][:150])
        return result
    assert code == 0, f"{what}: exit {code}\n{text[-3000:]}"
    # Intact files of the run are not made worse.
    for p, digest in before.items():
        if p in damaged_paths or after.get(p) == digest:
            continue
        if op == "export":
            assert False, f"{what}: export changed {p} in the run directory"
        assert _RUN_OUTPUTS.match(p), f"{what}: training changed or removed the intact {p}"
        if p == "config.json":  # rewritten with this command's settings: the same run
            old, new = (json.load(open(os.path.join(d, p))) for d in (pristine, case))
            assert {**old, "epochs": EPOCHS + 1} == new, f"{what}: training rewrote {p} as another run"
        if p == "history.jsonl":  # only appended to: one line for this start
            old, new = (open(os.path.join(d, p)).read() for d in (pristine, case))
            assert new.startswith(old) and new[len(old):].count("\n") == 1, f"{what}: training rewrote {p}"
    for p in ("clusters.npz",):
        if p in before and p not in damaged_paths:
            assert after.get(p) == before[p], f"{what}: {p} changed"
    # Damaged checkpoint files that training detected are set aside byte for byte.
    aside = {os.path.basename(p): h for p, h in after.items() if p.startswith("checkpoints/damaged/")}
    ckpt_dir = os.path.join(case, "checkpoints")
    if op == "train":
        m = re.search(r"resumed from .*/checkpoints/(ckpt-\d+): (\d+) epoch\(s\) done, generator step (\d+)", text)
        assert m, f"{what}: did not resume\n{text[-3000:]}"
        used, done, step = m.group(1), int(m.group(2)), int(m.group(3))
        assert not any(p.startswith(f"checkpoints/{used}.") for p in damaged_paths), \
            f"{what}: resumed from the damaged {used}\n{text[-3000:]}"
        latest = tf.train.latest_checkpoint(ckpt_dir)
        assert latest and integrity.damage(latest) is None, f"{what}: the newest checkpoint {latest} is damaged"
        # It trained on from there: the unfinished epoch again, then the new one.
        assert int(latest.rsplit("-", 1)[1]) == step + (EPOCHS + 1 - done) * STEPS, f"{what}: {used} -> {latest}"
        for p in damaged_paths:
            if p.startswith("checkpoints/") and p not in after and before.get(p) is not None:
                name = os.path.basename(p)
                # gone from checkpoints/: set aside unchanged, or rotated away as an old checkpoint
                assert aside.get(name) in (before[p], None), f"{what}: {p} set aside changed"
        if "clusters.npz" in damaged_paths:  # accepted: the damage missed the arrays (e.g. a zip timestamp)
            import numpy as np

            with np.load(os.path.join(pristine, "clusters.npz")) as a, np.load(os.path.join(case, "clusters.npz")) as b:
                assert all((a[k] == b[k]).all() for k in a.files), f"{what}: damaged centroids were used"
        outcome = "resumed"
        detail = f"from {used}" + (" (damaged set aside)" if aside else "")
    else:
        m = re.search(r"exported kgan version (\d+)", text)
        assert m, f"{what}: no export line\n{text[-3000:]}"
        version = os.path.join(case, "export", "kgan", m.group(1))
        loaded = tf.saved_model.load(version)
        images = loaded.signatures["generate"](num_images=tf.constant(2), seed=tf.constant(0, tf.int64),
                                               truncation=tf.constant(1.0))["images"]
        assert images.shape == (2, 28, 28, 1), what
        outcome, detail = "exported", f"version {m.group(1)}"
    result.update(outcome=outcome, detail=detail)
    return result


def table(results):
    """Markdown: per damaged file kind and damage, how many cases ended in each outcome."""
    rows = {}
    for r in results:
        for p, how in r["damaged"]:
            key = (kind(p), how)
            rows.setdefault(key, {}).setdefault(f"{r['op']}: {r['outcome']}", 0)
            rows[key][f"{r['op']}: {r['outcome']}"] += 1
    outcomes = sorted({o for counts in rows.values() for o in counts})
    lines = ["| damaged file | damage | " + " | ".join(outcomes) + " |",
             "| --- | --- | " + " | ".join("---" for _ in outcomes) + " |"]
    for (k, how), counts in sorted(rows.items()):
        lines.append(f"| {k} | {how} | " + " | ".join(str(counts.get(o, 0)) for o in outcomes) + " |")
    return "\n".join(lines)


def summary(results):
    counts = {}
    for r in results:
        counts[f"{r['op']}: {r['outcome']}"] = counts.get(f"{r['op']}: {r['outcome']}", 0) + 1
    return json.dumps(counts, sort_keys=True)
