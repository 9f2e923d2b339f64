"""The `>>>` examples in kgan's docstrings run as written (the modules whose examples are self-contained)."""

import doctest
import importlib

import pytest

from tests.conftest import MNIST_DIR, REPO

MODULES = ["kgan.checks", "kgan.config", "kgan.training", "kgan.workdir", "kgan.distribute", "kgan.nets",
           "kgan.nets.mlp", "kgan.nets.dcgan", "kgan.nets.cdcgan"]
DATA_MODULES = ["kgan.data", "kgan.data.idx"]  # their examples read ../shared/data/mnist


@pytest.mark.parametrize("name", MODULES + DATA_MODULES)
def test_docstring_examples_run(name, monkeypatch):
    if name in DATA_MODULES:
        if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip(f"real MNIST not found at {MNIST_DIR}")
        monkeypatch.chdir(REPO)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
