"""bench/truncation.py: the psi table on a tiny GAN, scored by an (untrained) classifier of the right shape."""

import subprocess
import sys

import keras
import numpy as np

import kgan
from bench import truncation
from kgan.eval import Evaluator
from kgan.eval.classifier import build_classifier

from .test_generate_cli import REPO


def test_table_rows_and_format():
    keras.utils.set_random_seed(0)
    g = keras.Sequential([keras.Input((8,)), keras.layers.Dense(28 * 28, activation="tanh"),
                          keras.layers.Reshape((28, 28, 1))])
    d = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = kgan.GAN(g, d)
    real = np.random.default_rng(0).integers(0, 256, (300, 28, 28, 1)).astype("uint8")
    evaluator = Evaluator(build_classifier(), real)
    rows = truncation.table(gan, evaluator, psis=(1.0, 0.5, 0.0), num=200)
    assert [r["psi"] for r in rows] == [1.0, 0.5, 0.0]
    assert {"classifier_score", "precision", "recall"} <= set(rows[0])
    assert rows[2]["recall"] <= rows[0]["recall"]  # psi = 0: one image 200 times covers nothing more
    text = truncation.format_table(rows, evaluator.real_floor())
    lines = text.splitlines()
    assert lines[0].startswith("| psi | classifier_score") and lines[0].endswith("| swd |") and len(lines) == 2 + 3 + 1
    assert lines[-1].startswith("| real floor |")


def test_bad_psi_is_a_usage_error():
    r = subprocess.run([sys.executable, str(REPO / "bench" / "truncation.py"), "--run_dir=x", "--psi=1,2"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "every psi must be in [0, 1]" in r.stderr
