"""kgan-export (kgan_cli/export.py) end to end, in child processes (tests/forkserver.py): the default layout, and one-line errors that change nothing."""

import os
import shutil
import sys
import textwrap

import numpy as np
import pytest

from tests import forkserver

from .helpers import assert_one_line_error, tree_hashes


def _cmd(*args):
    return [sys.executable, "-m", "kgan_cli.export", *args]


def _run_all(cmds, timeout=300):
    """Runs the commands one after another, each in a child forked with TensorFlow imported (tests/forkserver.py)."""
    return [forkserver.run_cmd(c, timeout=timeout) for c in cmds]


@pytest.fixture(scope="module")
def run_copy(trained_run, tmp_path_factory):
    """A private copy of the trained run directory (the CLI writes <run_dir>/export into it)."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    shutil.copytree(trained_run[0], run_dir)
    return run_dir


def test_export_cli_writes_default_layout_then_next_version(run_copy, gan):
    r1, r2 = _run_all([_cmd(f"--run_dir={run_copy}"),
                       _cmd(f"--run_dir={run_copy}", "--export_base", str(run_copy / "other"), "--model_name=gen",
                            "--formats=saved_model")])
    assert r1.returncode == 0, r1.stderr[-3000:]
    assert r2.returncode == 0, r2.stderr[-3000:]
    version = run_copy / "export" / "kgan" / "1"
    assert f"exported kgan version 1 to {version}" in r1.stdout
    assert (version / "saved_model.pb").is_file()
    assert sorted(os.listdir(version / "tflite")) == sorted(
        f"generator_{v}.tflite" for v in ("float32", "float16", "int8_dynamic", "int8_full"))
    assert (run_copy / "other" / "gen" / "1" / "saved_model.pb").is_file()
    # The manifest names the run relative to the version (never the trainer's absolute path).
    import json

    for vdir in (version, run_copy / "other" / "gen" / "1"):
        text = (vdir / "kgan_export.json").read_text()
        meta = json.loads(text)["metadata"]
        assert str(run_copy.parent) not in text and meta["run_name"] == "run"
        assert os.path.normpath(vdir / meta["run_dir"]) == str(run_copy)
    assert not (run_copy / "other" / "gen" / "1" / "tflite").exists()
    # The exported weights are the checkpoint's: same images as the trained GAN.
    import tensorflow as tf

    z = gan.latents(4, seed=1)
    got = tf.saved_model.load(str(version)).signatures["serving_default"](latent=tf.constant(z))["images"].numpy()
    assert np.abs(got - gan.generate(4, latents=z)).max() <= 1e-5

    (r3,) = _run_all([_cmd(f"--run_dir={run_copy}", "--formats=saved_model")])
    assert r3.returncode == 0, r3.stderr[-3000:]
    assert "version 2" in r3.stdout and sorted(os.listdir(run_copy / "export" / "kgan")) == ["1", "2"]


def test_export_cli_bad_input_is_one_line_exit_2_and_changes_nothing(run_copy, tmp_path):
    base = tmp_path / "exports"
    (r,) = _run_all([_cmd(f"--run_dir={run_copy}", f"--export_base={base}", "--formats=saved_model")])
    assert r.returncode == 0, r.stderr[-3000:]
    before = tree_hashes(base)
    no_ckpt = tmp_path / "untrained"
    no_ckpt.mkdir()
    shutil.copy(run_copy / "config.json", no_ckpt / "config.json")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        ([f"--run_dir={no_ckpt}", f"--export_base={base}"], "has no checkpoint"),
        ([f"--run_dir={tmp_path / 'nothing_here'}", f"--export_base={base}"], "holds no training run"),
        ([f"--run_dir={run_copy}", f"--export_base={base}", "--formats=saved_model,onnx"],
         "unknown export format 'onnx'"),
        ([f"--run_dir={run_copy}", f"--export_base={a_file}"], "is a file"),
        ([f"--run_dir={run_copy}", f"--export_base={base}", "--fixed_batch=0"], "fixed_batch must be a positive"),
        ([f"--run_dir={run_copy}", f"--export_base={base}", "--tflite_variants=int4"],
         "unknown TFLite variant 'int4'"),
        ([f"--export_base={base}"], "--run_dir is required"),
        ([f"--run_dir={run_copy}", f"--export_base={base}", "--formats=saved_model", "--tflite_variants=float16"],
         "--tflite_variants=float16 applies to TFLite files, but --formats=saved_model writes none"),
        ([f"--run_dir={run_copy}", f"--export_base={base}", "--formats=saved_model", "--fixed_batch=1"],
         "--fixed_batch=1 applies to TFLite files, but --formats=saved_model writes none"),
    ]
    runs = _run_all([_cmd(*args) for args, _ in cases])
    for (args, message), r in zip(cases, runs):
        assert_one_line_error(r, message)
    assert tree_hashes(base) == before and sorted(os.listdir(base)) == ["kgan"]
    assert a_file.read_text() == "x" and os.listdir(no_ckpt) == ["config.json"]


def test_export_cli_bad_input_from_a_fresh_interpreter_is_exactly_one_line(tmp_path):
    """As a user's shell runs it: TensorFlow's start-up notices (printed while it is imported, which the forked
    children above skip) stay off stderr, which holds the one error line only."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run(_cmd(f"--run_dir={tmp_path / 'nothing_here'}"), cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert_one_line_error(r, "holds no training run")


def test_manifest_omits_a_run_outside_the_export(tmp_path):
    from kgan import export as module

    assert module.run_metadata(tmp_path / "runs" / "a", tmp_path / "srv", "kgan") == {"run_name": "a"}
    assert module.run_metadata(tmp_path / "runs" / "a", tmp_path / "runs" / "a" / "export", "kgan") == {
        "run_name": "a", "run_dir": "../../.."}


def test_export_cli_help_names_every_format_and_tflite_variant(tmp_path):
    """The help lists what `kgan.export` checks the flags against: a variant or format added there is in --help."""
    from kgan import export

    script = tmp_path / "help.py"
    script.write_text(
        "import kgan.export as export\n"
        "export.TFLITE_VARIANTS = export.tflite.VARIANTS = (*export.TFLITE_VARIANTS, 'int4_new')\n"
        "export.FORMATS = export.writer.FORMATS = (*export.FORMATS, 'onnx_new')\n"
        "import kgan_cli.export\n"
        "from absl import flags\n"
        "print(flags.FLAGS['tflite_variants'].help)\n"
        "print('---')\n"
        "print(flags.FLAGS['formats'].help)\n")
    (r,) = _run_all([[sys.executable, str(script)]])
    assert r.returncode == 0, r.stderr[-3000:]
    variants_help, formats_help = r.stdout.split("---")
    for variant in (*export.TFLITE_VARIANTS, "int4_new"):
        assert variant in variants_help, f"--tflite_variants help omits {variant!r}: {variants_help.strip()}"
    for fmt in (*export.FORMATS, "onnx_new"):
        assert fmt in formats_help, f"--formats help omits {fmt!r}: {formats_help.strip()}"


def test_export_cli_writes_and_lists_a_format_added_to_the_table(run_copy, tmp_path):
    """A format registered in `kgan.export.FORMAT_SPECS` (one entry, as a contributor adds one) is taken by
    --formats, written, and listed in the summary with its own size and its path: kgan_cli/export.py is not edited."""
    script = tmp_path / "fake_format.py"
    script.write_text(textwrap.dedent("""
        import os

        from kgan import export

        def write_fake(job):
            with open(os.path.join(job.dir, "generator.fake"), "wb") as f:
                f.write(bytes(123456))
            return export.FormatOutput(files={"fake": "generator.fake"})

        export.FORMAT_SPECS["fake"] = export.FormatSpec(write_fake)
        import kgan_cli.export

        kgan_cli.export.main()
    """))
    base = tmp_path / "exports"
    (r,) = _run_all([[sys.executable, str(script), f"--run_dir={run_copy}", f"--export_base={base}",
                      "--formats=saved_model,fake"]])
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0] == f"exported kgan version 1 to {base / 'kgan' / '1'}", r.stdout
    assert lines[1].startswith("  saved_model  ") and lines[1].endswith(
        " MB  signatures serving_default, generate, generate_uint8, generate_png"), r.stdout
    assert lines[2:] == ["  fake             0.12 MB  generator.fake"], r.stdout
    assert (base / "kgan" / "1" / "generator.fake").stat().st_size == 123456
