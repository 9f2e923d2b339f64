"""The kgan_cli package: every command runs from any directory, setup.py's console scripts point at callables,
`--helpfull` lists every TrainConfig setting with its help, and flags.cfg reproduces a run's settings."""

import dataclasses
import os
import re
import subprocess
import sys


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


def test_a_command_runs_as_a_module_from_another_directory(tmp_path):
    """`python -m kgan_cli.<command>` with the clone on PYTHONPATH, from a directory that is not the clone (the
    README's way without installing). That every command's module runs and answers --helpfull is
    test_installed_console_scripts_train_and_sample_from_another_directory's: the console scripts call the
    same `main`s."""
    p = _python(["-m", "kgan_cli.launch", "--help"], tmp_path)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0 and "--workers" in stdout, stderr[-2000:]


def _check_helps(out):
    """Each command's own flags in its --helpfull, and every TrainConfig setting with its help in kgan-train's."""
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


def test_installed_console_scripts_train_and_sample_from_another_directory(tmp_path, mnist_dir):
    """The console scripts `pip install -e .` puts beside the interpreter (what a user runs outside a clone):
    each runs from a temporary directory without PYTHONPATH and answers --helpfull (kgan-launch: --help) with
    its own flags; then kgan-train and kgan-generate make a real (tiny) run and its samples there."""
    bindir = os.path.dirname(sys.executable)
    scripts = {name: os.path.join(bindir, name) for name in _entry_points()}
    missing = sorted(name for name, path in scripts.items() if not os.path.exists(path))
    assert not missing, f"console scripts not installed beside {sys.executable}: {missing} (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"

    def run(args, timeout=300):
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)

    helps = {name: subprocess.Popen([path, "--help" if name == "kgan-launch" else "--helpfull"], cwd=tmp_path,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, path in scripts.items()}
    out = {}
    for name, p in helps.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0 and "Traceback" not in stderr, (name, stderr[-2000:])  # absl alone exits 1
        out[name.removeprefix("kgan-")] = stdout + stderr
        if name != "kgan-launch":  # the command's own docstring, not the console-script wrapper's nothing
            assert f"`{name}" in out[name.removeprefix("kgan-")].split("flags:")[0], (name, stdout[:500])
    _check_helps(out)
    trained = run([scripts["kgan-train"], "--dataset=idx", f"--data_dir={mnist_dir}", "--network=mlp",
                   "--g_filters=16", "--d_filters=16", "--latent_dim=8", "--batch_size=16", "--epochs=1",
                   "--steps_per_epoch=2", "--num_samples=4", "--progress=none", "--output_dir=run"])
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "checkpoint").exists()
    sampled = run([scripts["kgan-generate"], "--run_dir=run", "--num=5", "--out=samples", "--noprogress"])
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"{i:06d}.png" for i in range(5)]


def test_bfloat16_on_a_cpu_without_bfloat16_units_is_warned_about(tmp_path, monkeypatch):
    """train.py logs one warning (and runs) when --precision=mixed_bfloat16 meets a CPU that would emulate it."""
    from absl import logging as absl_logging

    from kgan.config import TrainConfig
    from kgan_cli import common

    old = tmp_path / "cpuinfo_old"
    old.write_text("processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse2 avx2 avx512f\n\n"
                   "processor\t: 1\nmodel name\t: Old CPU\nflags\t\t: fpu sse2 avx2 avx512f\n")
    new = tmp_path / "cpuinfo_new"
    new.write_text(old.read_text().replace("avx512f", "avx512f avx512_bf16"))
    assert common.cpu_model_and_flags(str(old)) == ("Old CPU", {"fpu", "sse2", "avx2", "avx512f"})
    assert common.cpu_model_and_flags(str(tmp_path / "absent")) == (None, None)
    warned = []
    monkeypatch.setattr(absl_logging, "warning", lambda message, *args: warned.append(message % args))
    bf16 = TrainConfig(precision="mixed_bfloat16")
    for cpuinfo, config, expected in ((old, bf16, True), (new, bf16, False), (old, TrainConfig(), False),
                                      (tmp_path / "absent", bf16, False)):
        monkeypatch.setattr(common, "CPUINFO", str(cpuinfo))
        message = common.warn_about_precision(config)
        assert (message is not None) == expected, (cpuinfo, config.precision)
    assert len(warned) == 1 and "mixed_bfloat16" in warned[0] and "flags/dcgan.cfg" in warned[0]
    assert common.precision_warning("mixed_bfloat16", {"avx2"}, accelerator=True) is None  # a GPU or TPU runs it
    assert "warn_about_precision(config)" in (REPO / "kgan_cli" / "train.py").read_text()


def test_the_commands_run_onednn_kernels_on_any_x86_64_cpu(tmp_path):
    """A command's TensorFlow uses oneDNN's kernels on x86-64 whatever the CPU (TF 2.21 alone: only with AVX-512
    VNNI, AVX512-BF16 or AMX; an AVX2 CPU trained the recipe at 0.70x the speed without them), unless the user set
    TF_ENABLE_ONEDNN_OPTS (kgan_cli.enable_onednn's doctest)."""
    import platform

    import pytest

    import kgan_cli

    if platform.machine().lower() not in kgan_cli.ONEDNN_MACHINES:
        pytest.skip("oneDNN's kernels are kgan_cli's default on x86-64 only")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    code = ("import kgan_cli.train\nfrom tensorflow.python.util import _pywrap_util_port\n"
            "print('onednn', _pywrap_util_port.IsMklEnabled())")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "onednn True" in r.stdout, r.stderr[-2000:]


def test_nested_flagfiles_are_found_from_the_including_file_outside_the_repository(tmp_path, monkeypatch):
    """flags/cdcgan.cfg includes flags/dcgan.cfg, a path absl reads from the working directory only: from any other
    directory `kgan-train --flagfile=<repo>/flags/cdcgan.cfg` failed ("Unable to open flagfile"). Now the nested
    file is found from the including file's folder or its parents, and expanded where absl would expand it."""
    from kgan_cli import common

    (tmp_path / "repo" / "flags").mkdir(parents=True)
    (tmp_path / "repo" / "flags" / "base.cfg").write_text("# base\n--epochs=3\n--batch_size=8\n")
    child = tmp_path / "repo" / "flags" / "child.cfg"
    child.write_text("--flagfile=flags/base.cfg\n\n// comment\n--batch_size=16\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    argv = ["train.py", f"--flagfile={child}", "--seed=1", "--", f"--flagfile={child}"]
    assert common.expand_nested_flagfiles(argv) == ["train.py", "--epochs=3", "--batch_size=8", "--batch_size=16",
                                                    "--seed=1", "--", f"--flagfile={child}"]
    assert common.expand_nested_flagfiles(["train.py", "--flagfile", str(child)])[1:] == [
        "--epochs=3", "--batch_size=8", "--batch_size=16"]
    monkeypatch.chdir(tmp_path / "repo")  # where absl finds it: argv left to absl as given
    assert common.expand_nested_flagfiles(argv) == argv
    (tmp_path / "repo" / "flags" / "base.cfg").unlink()  # found nowhere: absl's own one-line error
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert common.expand_nested_flagfiles(argv) == argv
    r = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), f"--flagfile={child}"], capture_output=True,
                       text=True, cwd=tmp_path / "elsewhere")
    assert r.returncode == 2 and "flags/base.cfg" in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]


def test_a_setting_whose_type_no_flag_can_hold_fails_when_the_flags_are_defined():
    """A `tuple[float, ...]` field became a list flag that then refused every value ("expected comma-separated
    integers"): the field's author learns it at once, not a user at parse time."""
    import pytest
    from absl import flags

    from kgan import config
    from kgan_cli import common

    @dataclasses.dataclass
    class Config:
        widths: tuple[int, ...] | None = config.setting(None, "Fine.", resume="free")
        weights: tuple[float, ...] = config.setting((0.5, 1.0), "Not a flag.", resume="free")

    with pytest.raises(TypeError, match=r"Config.weights: cannot make a flag of type tuple\[float, \.\.\.\]"):
        common.define_config_flags(Config, flags.FlagValues())
    assert common.define_config_flags(config.TrainConfig, flags.FlagValues())  # every real setting is a flag


def test_an_optional_setting_a_flagfile_set_is_unset_by_an_empty_value(tmp_path):
    """`--ema_decay=` after flags/dcgan.cfg was "could not convert string to float: ''": an optional setting could
    not be turned back off on the command line."""
    from absl import flags

    from kgan.config import TrainConfig
    from kgan_cli import common

    values = flags.FlagValues()
    common.define_config_flags(TrainConfig, values)
    flagfile = tmp_path / "f.cfg"
    flagfile.write_text("--ema_decay=0.999\n--g_filters=128,64,32\n--d_dropout=0.3\n--kernel_size=4\n--split=train\n"
                        "--d_batchnorm\n")
    values(["prog", f"--flagfile={flagfile}", "--ema_decay=", "--g_filters=", "--d_dropout=", "--kernel_size=",
            "--split=", "--d_batchnorm="])
    config = common.config_from_flags(values, TrainConfig)
    assert (config.ema_decay, config.g_filters, config.d_dropout, config.kernel_size, config.split,
            config.d_batchnorm) == (None,) * 6
    assert not common.flags_text(values, ["ema_decay", "split", "d_batchnorm"]).strip()  # flags.cfg leaves them out
    values = flags.FlagValues()
    common.define_config_flags(TrainConfig, values)
    values(["prog", "--ema_decay=0.99", "--g_filters=8,4", "--split=train", "--nod_batchnorm"])
    config = common.config_from_flags(values, TrainConfig)
    assert (config.ema_decay, config.g_filters, config.split, config.d_batchnorm) == (0.99, (8, 4), "train", False)
