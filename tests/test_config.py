"""kgan.config: every setting is one `TrainConfig` field, and each field says what it is for."""

import dataclasses
import pathlib
import re

import pytest

from kgan import config as config_lib, workdir
from kgan.config import NETWORK_ARGS, TrainConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_setting_decides_what_a_resume_may_do_with_it():
    """A field in neither of workdir's hand-kept lists was ignored on resume: a changed network argument passed the
    check, config.json was rewritten, then the checkpoint failed to load (a contributor walkthrough, 2026-12-08)."""
    with pytest.raises(TypeError, match="resume"):
        config_lib.setting(1, "A setting that has not decided.")
    with pytest.raises(TypeError, match="resume must be one of match, warn, free, got 'maybe'"):
        config_lib.setting(1, "A setting that has not decided.", resume="maybe")
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata["resume"] in config_lib.RESUME, field.name
    assert set(workdir.RESUME_KEYS) == {f.name for f in dataclasses.fields(TrainConfig)
                                        if f.metadata["resume"] == "match"} | {"image_shape"}
    assert "g_filters" in workdir.RESUME_KEYS and "fused_kernels" in workdir.TRAINING_KEYS  # fused: silent before
    assert "d_learning_rate" not in workdir.TRAINING_KEYS  # its own warning: kgan.callbacks.checkpoint


def test_every_network_argument_must_match_on_resume_or_is_named_when_changed():
    """A network argument that changes the weights' shapes must match; one that does not may be named."""
    for name in NETWORK_ARGS:
        assert name in workdir.RESUME_KEYS + workdir.TRAINING_KEYS, f"{name}: say what a resume may do with it"


def test_every_setting_is_read_somewhere():
    """A field that nothing reads is a flag that silently does nothing (`--r2_penalty=10` trained without it)."""
    sources = [p for d in ("kgan", "kgan_cli") for p in (ROOT / d).rglob("*.py")]
    text = {p: p.read_text() for p in sources}
    config_py = ROOT / "kgan" / "config.py"
    for field in dataclasses.fields(TrainConfig):
        if field.name in NETWORK_ARGS:
            continue  # passed to the networks by name (TrainConfig.network_kwargs)
        use = re.compile(rf"\.{field.name}\b|[\"']{field.name}[\"']")
        readers = [p for p, t in text.items() if p != config_py and use.search(t)]
        assert readers, (f"TrainConfig.{field.name} is never read in kgan/ or kgan_cli/: pass it where it acts "
                         "(e.g. kgan.training.build_gan), or add it to kgan.config.NETWORK_ARGS if it is an argument "
                         "of the networks")


def test_the_help_of_a_named_setting_lists_its_registry():
    """`--loss` and `--network` listed their names by hand: a newly registered loss was missing from --helpfull."""
    from kgan import losses, nets

    help_of = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}
    assert all(name in help_of["loss"] for name in losses.LOSSES)
    assert all(name in help_of["network"] for name in nets.NETWORKS)
