"""One trainer per run directory: `RunLock`, an OS lock on `<workdir>/.lock` that dies with its process.

`fcntl.flock` on an open file: the kernel releases it when the process ends, however it ends
(SIGKILL included), so a killed trainer never leaves a stale lock; the file itself stays (it
holds the last holder's pid and host, for the message). A second trainer on the same directory
is refused at once with a `RunLocked` error (a `ConfigError`: one line, exit code 2), before it
writes anything. Readers (`export/export.py`) take no lock: see `kgan.integrity.snapshot`.

flock is advisory and local to one kernel: on NFS it is only as good as the server's lock
support, and it does not guard against a program that ignores it.
"""

import contextlib
import fcntl
import os
import socket

from kgan.errors import ConfigError

LOCK_FILE = ".lock"


class RunLocked(ConfigError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """An exclusive, non-blocking lock on `<workdir>/.lock`.

    Example:

    ```python
    with RunLock("runs/dcgan"):  # RunLocked if another trainer holds it
        ...
    ```
    """

    def __init__(self, workdir):
        self.workdir = os.fspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_FILE)
        self._fd = None
        self.created_dir = False

    def acquire(self):
        """Takes the lock or raises `RunLocked` naming the directory and the holder's pid."""
        if not os.path.isdir(self.workdir):
            os.makedirs(self.workdir, exist_ok=True)
            self.created_dir = True
        self._existed = os.path.exists(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # never truncates
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            who = f"pid {holder[0]}" + (f" on {holder[1]}" if len(holder) > 1 else "") if holder else "another process"
            raise RunLocked(f"{self.workdir} is in use by another trainer ({who} holds {self.path}): wait for it "
                            "to finish or stop it, or use another --output_dir") from None
        self._previous = os.pread(fd, 4096, 0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self, undo=False):
        """Releases the lock. `undo` (a run refused on bad input before it wrote anything): leave the
        directory as it was: remove the lock file (and the directory, if `acquire` created it and it holds
        nothing else) if it was not there, else put back its previous content."""
        if self._fd is None:
            return
        if undo:
            if not self._existed:
                os.remove(self.path)
                if self.created_dir and not os.listdir(self.workdir):
                    os.rmdir(self.workdir)
            else:
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, self._previous, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        self.release(undo=exc_type is not None and issubclass(exc_type, ConfigError))


@contextlib.contextmanager
def held(workdir, enabled=True):
    """`RunLock(workdir)` held for the block when `enabled` (on a cluster: the chief only)."""
    if not enabled:
        yield None
        return
    with RunLock(workdir) as lock:
        yield lock
