"""The kgan_cli package: every command runs from any directory, setup.py's console scripts point at callables,
`--helpfull` lists every TrainConfig setting with its help, and flags.cfg reproduces a run's settings."""

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

COMMANDS = ["train", "evaluate", "export", "client", "launch", "generate"]


def _python(args, cwd, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _entry_points():
    """{command: "module:function"} of setup.py's console_scripts (read from the text: nothing is installed)."""
    text = (REPO / "setup.py").read_text()
    return dict(re.findall(r'"(kgan-[a-z]+) = ([\w.]+:\w+)"', text))


def test_setup_declares_a_console_script_per_command():
    points = _entry_points()
    assert {f"kgan-{c}": f"kgan_cli.{c}:main" for c in COMMANDS}.items() <= points.items()
    assert '"kgan_cli"' in (REPO / "setup.py").read_text()  # the package is installed with kgan


def test_every_command_runs_from_another_directory(tmp_path):
    """`python -m kgan_cli.<command> --help(full)` from a directory that is not the clone; and each console
    script's target imports and is callable (each in its own process: the commands define flags)."""
    procs = {c: _python(["-m", f"kgan_cli.{c}", "--helpfull" if c != "launch" else "--help"], tmp_path)
             for c in COMMANDS}
    for name, target in _entry_points().items():
        module, function = target.split(":")
        procs[name] = _python(["-c", f"import {module}; assert callable({module}.{function})"], tmp_path)
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode in ((0, 1) if name in COMMANDS else (0,)), (name, stderr[-2000:])  # absl: --help exits 1
        assert "Traceback" not in stderr, (name, stderr[-2000:])
        out[name] = stdout + stderr
    assert "--output_dir" in out["train"] and "--run_dir" in out["evaluate"] and "--run_dir" in out["export"]
    assert "--tflite" in out["client"] and "--workers" in out["launch"]
    assert "--interpolate" in out["generate"] and "--truncation" in out["generate"]

    from kgan.config import TrainConfig

    helpfull = re.sub(r"\s+", " ", out["train"])
    for field in dataclasses.fields(TrainConfig):
        if field.metadata.get("flag", True):
            flag = f"--[no]{field.name}:" if "bool" in str(field.type) else f"--{field.name}:"
            help_start = " ".join(field.metadata["help"].split()[:4])
            assert re.search(re.escape(flag) + r" (<[^>]*>: )?" + re.escape(help_start), helpfull), field.name
    assert "--progress:" in helpfull and "--verbose:" not in helpfull


def test_flags_cfg_reproduces_the_settings_of_a_nested_flagfile(tmp_path):
    """flags/cdcgan.cfg nests flags/dcgan.cfg: its batch 64 (not TrainConfig's 256) reaches the config, and the
    flagfile written into the run parses back to the same config."""
    script = f"""
import sys
sys.argv = ["train.py"]
from absl import flags
from kgan_cli import common, train
from kgan.config import TrainConfig

def config(argv):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", *argv])
    return common.config_from_flags(flags.FLAGS, TrainConfig)

first = config(["--flagfile=flags/cdcgan.cfg", "--epochs=3"])
assert first.batch_size == 64 and first.network == "cdcgan" and first.clusters == 0, first
assert first.g_filters == (128, 64, 32) and first.kernel_size == 4 and first.epochs == 3, first
open({str(tmp_path / 'flags.cfg')!r}, "w").write(common.flags_text(flags.FLAGS, train.FLAG_NAMES))
assert config(["--flagfile={tmp_path / 'flags.cfg'}"]) == first
print("ok")
"""
    p = _python(["-c", script], REPO)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0 and "ok" in stdout, stderr[-3000:]
