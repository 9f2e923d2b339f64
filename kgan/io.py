"""Atomic file writes (a reader sees the old file or the new one, never half of one), and what identifies a file's
version for the per-process caches of its contents (`version`)."""

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


def version(path):
    """`(path, size, mtime, inode, ctime)` of the file at `path` (OSError if it cannot be read): a key that changes
    when the file does, for caching what was read from it within one process. ctime moves on every write, rename
    and metadata change and cannot be set back (`cp -p`, `rsync -t` and `tar x` keep mtime, and the inode or ctime
    still tells their copy apart)."""
    stat = os.stat(path)
    return os.fspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns
