"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

import os
import tempfile


def existing_ancestor(path):
    """`path` itself if it exists, else the nearest of its parents that does ("." for a relative name with none).

    Example:

    >>> existing_ancestor("/no/such/folder/file.png")
    '/'
    """
    path = os.path.normpath(os.fspath(path))
    while not os.path.lexists(path):
        parent = os.path.dirname(path) or "."
        if parent == path:
            break
        path = parent
    return path


def atomic_write(path, data):
    """Writes `data` (bytes or str) to `path` through a temporary file and a rename."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a plain open() would honour the umask
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
