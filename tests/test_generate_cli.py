"""generate.py end to end in child processes (tests/forkserver.py): sample folders and .npz files, interpolation GIFs, one-line errors."""

import dataclasses
import json
import os
import pathlib

import numpy as np
import pytest

from tests import forkserver

REPO = pathlib.Path(__file__).resolve().parents[1]


def tiny_run(run_dir, steps=2):
    """A run directory as train.py leaves it (config.json + checkpoints/) for a tiny MLP GAN; returns its GAN."""
    import keras
    import tensorflow as tf

    from kgan import callbacks, training
    from kgan.config import TrainConfig

    config = TrainConfig(dataset="idx", data_dir="/unused", network="mlp", g_filters=(32,), d_filters=(32,),
                               latent_dim=16, batch_size=16, epochs=1, steps_per_epoch=steps, verbose=0, num_samples=4)
    keras.utils.set_random_seed(0)
    gan = training.build_gan(config, (28, 28, 1))
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True).repeat()
    gan.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[callbacks.Checkpoint(run_dir / "checkpoints")])
    (run_dir / "config.json").write_text(
        json.dumps({**dataclasses.asdict(config), "image_shape": [28, 28, 1]}, default=list))
    return gan


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return run_dir, tiny_run(run_dir)


def generate(*args, cwd=REPO):
    """`python generate.py args` in a child forked with TensorFlow already imported (tests/forkserver.py)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    return forkserver.run(REPO / "generate.py", args, cwd=cwd, env=env, timeout=300)


def test_sample_folder_and_npz_match_the_library(run, tmp_path):
    run_dir, _ = run
    from kgan import sampling, workdir

    r = generate(f"--run_dir={run_dir}", "--num=12", f"--out={tmp_path / 'png'}", "--seed=3", "--truncation=0.7",
                 "--batch_size=5", "--noprogress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "png")) == [f"{i:06d}.png" for i in range(12)]
    r = generate(f"--run_dir={run_dir}", "--num=12", f"--out={tmp_path / 's.npz'}", "--seed=3", "--truncation=0.7")
    assert r.returncode == 0, r.stderr[-2000:]
    gan, _ = workdir.load_run(str(run_dir))  # what the command loaded: the run's latest checkpoint
    with np.load(tmp_path / "s.npz") as f:
        x = f["arr_0"]
    assert np.array_equal(x, sampling.to_uint8(gan.generate(12, seed=3, truncation=0.7)))
    gan.write_samples(12, tmp_path / "lib", seed=3, truncation=0.7, progress=False)
    for name in os.listdir(tmp_path / "lib"):
        assert (tmp_path / "lib" / name).read_bytes() == (tmp_path / "png" / name).read_bytes()


def test_interpolation_writes_a_gif_and_a_grid(run, tmp_path):
    from PIL import Image

    run_dir, _ = run
    r = generate(f"--run_dir={run_dir}", "--interpolate=0,1,2", "--steps=4", f"--out={tmp_path / 'i.gif'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert Image.open(tmp_path / "i.gif").n_frames == 9
    assert (tmp_path / "i.png").is_file()


@pytest.mark.parametrize("args, fragment", [
    (["--num=0"], "--num"),
    (["--truncation=1.5"], "--truncation"),
    (["--interpolate=4"], "at least two seeds"),
    (["--interpolate=a,b"], "integer seeds"),
    (["--interpolate=0,1", "--out=x.png"], ".gif"),
    (["--out=folder_that_is_fine", "--run_dir=/nonexistent"], "no training run"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, fragment):
    run_dir, _ = run
    base = {"--run_dir": str(run_dir), "--out": str(tmp_path / "o")}
    for a in args:
        base[a.split("=")[0]] = a.split("=", 1)[1] if "=" in a else None
    r = generate(*[k if v is None else f"{k}={v}" for k, v in base.items() if k.startswith("--")],
                 *[a for a in args if a.split("=")[0] not in base], cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert fragment in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def _snapshot(folder):
    """Every file under `folder` (relative path: bytes), so a test can say nothing was written, lost or changed."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("args, fragment", [
    (["--num=10", "--out=s.npz/sub/"], "cannot write s.npz/sub/: s.npz is a file, not a folder"),
    (["--num=5", "--out=s.npz/x.npz"], "cannot write s.npz/x.npz: s.npz is a file, not a folder"),
    (["--interpolate=0,1", "--out=s.npz/i.gif"], "cannot write s.npz/i.gif: s.npz is a file, not a folder"),
    (["--num=5", "--out=/proc/kgan-no-such-folder/"], "cannot write /proc/kgan-no-such-folder/: "),
    (["--num=5", "--out=s.npz"], "s.npz already exists"),
    (["--interpolate=0,1", "--out=i.gif"], "i.gif already exists"),
    (["--interpolate=0,1", "--out=k.gif"], "k.png already exists"),  # the grid beside the GIF
    (["--num=5", "--out=pngs"], "pngs already holds PNG files"),
    (["--num=5", "--out=s.txt"], "s.txt ends in .txt: expected a FILE.npz or a folder"),
    (["--num=5", "--out=s.gif"], "--out=s.gif: a GIF is written with --interpolate"),
])
def test_an_unwritable_or_existing_out_is_one_line_before_anything_is_written(run, tmp_path, args, fragment):
    run_dir, _ = run
    (tmp_path / "s.npz").write_bytes(b"100 images that must not be lost")
    (tmp_path / "i.gif").write_bytes(b"GIF89a an earlier interpolation")
    (tmp_path / "k.png").write_bytes(b"\x89PNG an earlier grid")
    (tmp_path / "pngs").mkdir()
    (tmp_path / "pngs" / "000000.png").write_bytes(b"\x89PNG an earlier sample")
    before = _snapshot(tmp_path)
    r = generate(f"--run_dir={run_dir}", *args, "--noprogress", cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]  # one line: the run was not even loaded
    assert fragment in lines[0], lines[0]
    assert _snapshot(tmp_path) == before  # nothing written (no s.txt folder, no k.gif), nothing lost


FILE_SIZE_LIMIT = 20_000
LIMITED = f'''"""generate.py whose writes past {FILE_SIZE_LIMIT} bytes fail (EFBIG) after loading, as on a full disk."""
import resource
import signal

from kgan import workdir
from kgan_cli import generate

load_run = workdir.load_run


def load_then_limit(*args, **kwargs):
    loaded = load_run(*args, **kwargs)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an OSError instead of the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, ({FILE_SIZE_LIMIT}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    return loaded


workdir.load_run = load_then_limit
generate.main()
'''


def test_an_error_while_writing_is_one_line_and_exit_1(run, tmp_path):
    run_dir, _ = run
    script = tmp_path / "bin" / "generate.py"
    script.parent.mkdir()
    script.write_text(LIMITED)
    (tmp_path / "out").mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    r = forkserver.run(script, [f"--run_dir={run_dir}", "--num=64", "--out=s.npz", "--noprogress"],
                       cwd=tmp_path / "out", env=env, timeout=300)  # 64 x 784 bytes > FILE_SIZE_LIMIT
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert lines[-1] == "generate.py: error: cannot write s.npz: File too large", lines[-1]
    assert os.listdir(tmp_path / "out") == []  # no s.npz, no temporary file
