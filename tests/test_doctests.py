"""The `>>>` examples in kgan's docstrings run as written.

- `test_docstring_examples_run`: the settings, workdir, distribute, nets, optimizers and data modules (self-contained).
- `test_core_docstring_examples_run`: the core (gan, labellers), losses, features, export, serving,
  callbacks, eval.frechet and eval.quality; their examples see the module's own names plus `np`, `tf`,
  `keras` and `kgan`.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from tests.conftest import MNIST_DIR, REPO

MODULES = ["kgan.checks", "kgan.config", "kgan.training", "kgan.workdir", "kgan.distribute", "kgan.nets.registry",
           "kgan.nets.mlp", "kgan.nets.dcgan", "kgan.nets.cdcgan", "kgan.nets.batchnorm", "kgan.nets.dropout",
           "kgan.nets.fused", "kgan.eval.swd", "kgan.io", "kgan.optimizers", "kgan.data.tfds",
           "kgan_cli", "kgan_cli.common"]
DATA_MODULES = ["kgan.data.loader", "kgan.data.idx", "kgan.data.split"]  # their examples read ../shared/data/mnist


@pytest.mark.parametrize("name", MODULES + DATA_MODULES)
def test_docstring_examples_run(name, monkeypatch):
    if name in DATA_MODULES:
        if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip(f"real MNIST not found at {MNIST_DIR}")
        monkeypatch.chdir(REPO)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


def _modules(*names):
    out = []
    for name in names:
        module = importlib.import_module(name)
        out.append(name)
        if hasattr(module, "__path__"):  # a package: every module in it
            out.extend(m.name for m in pkgutil.iter_modules(module.__path__, name + "."))
    return out


CORE_MODULES = _modules("kgan.gan", "kgan.labellers", "kgan.losses", "kgan.features", "kgan.export", "kgan.serving",
                        "kgan.sampling",
                        "kgan.callbacks", "kgan.eval.frechet", "kgan.eval.quality")


@pytest.mark.parametrize("name", CORE_MODULES)
def test_core_docstring_examples_run(name):
    module = importlib.import_module(name)
    globs = {**vars(module), "np": np, "tf": tf, "keras": keras, "kgan": kgan}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = []
    for test in finder.find(module, name, globs=globs):
        if test.lineno is None or test.filename == module.__file__:
            runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


def test_the_core_modules_with_examples_are_covered():
    """The examples are found: a module list that stopped matching would test nothing."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    counted = sum(len(t.examples) for name in CORE_MODULES
                  for t in finder.find(importlib.import_module(name), name))
    assert counted >= 30
