"""Publishing an export version atomically, and listing the versions in a model directory.

A version is built in a hidden temporary directory inside the export base
(`TMP_PREFIX`, same filesystem) and published with one `os.rename` to the next
free integer, so a server polling the base never sees half a version, and an
existing version is never overwritten.
"""

import json
import os

MANIFEST = "kgan_export.json"
TMP_PREFIX = ".kgan-export-"


def versions(model_dir):
    """The integer version numbers present in `model_dir`, sorted (TF Serving ignores other names).

    Example:

    >>> import os, tempfile
    >>> model_dir = tempfile.mkdtemp()
    >>> for name in ("1", "2", ".kgan-export-x", "notes"):
    ...     os.mkdir(os.path.join(model_dir, name))
    >>> versions(model_dir)
    [1, 2]
    """
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if name.isascii() and name.isdigit() and os.path.isdir(os.path.join(model_dir, name)))


def publish(tmp, model_dir):
    """Renames `tmp` to the next free version in `model_dir`; returns (version, path)."""
    os.makedirs(model_dir, exist_ok=True)
    for _ in range(100):
        # Any entry named like a version counts (even a stray file): never reuse its name.
        version = max((int(n) for n in os.listdir(model_dir) if n.isascii() and n.isdigit()), default=0) + 1
        target = os.path.join(model_dir, str(version))
        _write_manifest(tmp, version)
        try:
            # rename(2) never replaces a non-empty directory, so a concurrent
            # export that took this number makes us retry with the next one.
            os.rename(tmp, target)
        except OSError:
            if os.path.isdir(target) and os.listdir(target):
                continue
            raise
        return version, target
    raise RuntimeError(f"could not find a free version number in {model_dir}")


def _write_manifest(tmp, version):
    path = os.path.join(tmp, MANIFEST)
    with open(path) as f:
        manifest = json.load(f)
    manifest["version"] = version
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
