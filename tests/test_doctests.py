"""The `>>>` examples in kgan's docstrings run as written.

- `test_docstring_examples_run`: the settings, workdir, distribute, images and optimizers modules and every
  module of the `kgan.nets` and `kgan.data` packages, found by `_modules` (a new file there is run without
  being listed); their examples are self-contained. Those that read MNIST use the relative path
  `../shared/data/mnist` and run from the repository (skipped where that directory is absent).
- `test_core_docstring_examples_run`: the core (gan, labellers), losses, features, export, serving,
  callbacks and every module of eval; their examples see the module's own names plus `np`, `tf`,
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


def _modules(*names):
    out = []
    for name in names:
        module = importlib.import_module(name)
        out.append(name)
        if hasattr(module, "__path__"):  # a package: every module in it
            out.extend(m.name for m in pkgutil.iter_modules(module.__path__, name + "."))
    return out


# These modules, and every module of the kgan.nets and kgan.data packages: a file added to them is found, not listed.
MODULES = ["kgan.checks", "kgan.config", "kgan.training", "kgan.workdir", "kgan.distribute",
           "kgan.images", "kgan.io", "kgan.optimizers", "kgan_cli", "kgan_cli.common",
           *_modules("kgan.nets", "kgan.data")]
MNIST_PATH = "../shared/data/mnist"  # relative to the repository, where the examples that read MNIST run


def _reads_mnist(name):
    found = doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(name), name)
    return any(MNIST_PATH in example.source for test in found for example in test.examples)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch):
    if _reads_mnist(name):
        if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip(f"real MNIST not found at {MNIST_DIR}")
        monkeypatch.chdir(REPO)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


def test_every_module_of_nets_and_data_is_run():
    """A module added under kgan/nets/ or kgan/data/ has its examples run without being listed here."""
    for package in ("kgan.nets", "kgan.data"):
        path = importlib.import_module(package).__path__
        missing = sorted({m.name for m in pkgutil.iter_modules(path, package + ".")} - set(MODULES))
        assert not missing, f"the examples of {', '.join(missing)} are never run: find them with _modules({package!r})"
    finder = doctest.DocTestFinder(exclude_empty=True)
    counted = sum(len(t.examples) for name in MODULES if name.startswith(("kgan.nets", "kgan.data"))
                  for t in finder.find(importlib.import_module(name), name))
    assert counted >= 30


CORE_MODULES = _modules("kgan.gan", "kgan.labellers", "kgan.losses", "kgan.features", "kgan.export", "kgan.serving",
                        "kgan.sampling",
                        "kgan.callbacks", "kgan.eval")  # every module of kgan.eval: a new one is found


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
