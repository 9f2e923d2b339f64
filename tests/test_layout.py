"""The import graph and the package layout the README's "Layout" describes."""

import ast
import pathlib

import pytest

KGAN = pathlib.Path(__file__).resolve().parents[1] / "kgan"


def _module_of(path):
    parts = path.relative_to(KGAN.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name):
    rel = pathlib.Path(*name.split("."))
    return (KGAN.parent / rel).with_suffix(".py").exists() or (KGAN.parent / rel / "__init__.py").exists()


def _imports(path):
    """The kgan modules `path` imports (anywhere in the file), without the root package `kgan`."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kgan."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kgan":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if _is_module(sub) else node.module)
    return {m for m in out if m != "kgan"}


GRAPH = {_module_of(p): _imports(p) for p in KGAN.rglob("*.py")}


def _reachable(start):
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(GRAPH.get(m, ()))
        parent = m.rsplit(".", 1)[0]
        if parent != "kgan" and parent != m:
            todo.append(parent)  # importing a submodule runs its package's __init__
    return seen


@pytest.mark.parametrize("start", ["kgan.gan", "kgan.labellers", "kgan.callbacks.checkpoint"]
                         + sorted(m for m in GRAPH if m.startswith("kgan.export") or m.startswith("kgan.serving")))
def test_the_core_and_the_export_reach_nothing_in_features(start):
    reached = sorted(m for m in _reachable(start) if m.startswith("kgan.features"))
    assert not reached, f"{start} reaches {reached}"


@pytest.mark.parametrize("package", ["callbacks", "data", "export", "features", "losses", "nets", "serving"])
def test_package_init_files_only_re_export(package):
    tree = ast.parse((KGAN / package / "__init__.py").read_text())
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        all_ = isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]
        assert docstring or all_ or isinstance(node, (ast.Import, ast.ImportFrom)), \
            f"kgan/{package}/__init__.py line {node.lineno}: not an import"


def test_writers_and_clients_are_apart():
    assert not any(m.startswith("kgan.serving") for m in _reachable("kgan.export.writer"))
