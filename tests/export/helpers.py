"""Helpers and constants for the export tests."""

import hashlib
import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
TRAIN_STEPS = 300
BATCH = 64
LATENT_DIM = 16


def tree_hashes(root):
    """{relative path: sha256} of every file under `root` (to show a failed command changed nothing)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def assert_one_line_error(r, *fragments):
    """Exit code 2 and exactly one line on stderr, `prog: error: ...`, containing `fragments`."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert ": error: " in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
