"""The client of tests/fault_server.py: `ForkServer.run` is `subprocess.run` for kgan's scripts, minus TensorFlow's
start-up (~4.5 s of CPU per process, about a third of the suite's CPU when every command-line test paid it).

The child is a real process (its own flags, TensorFlow runtime, exit code, signals and file descriptors),
forked from a server that imported TensorFlow, Keras and kgan once. Tests of what an import itself does
(its start-up notices, a console script found on PATH, another working directory's `sys.path`) keep
real subprocesses.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _exited(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):  # reaped between the open and the read: ESRCH
        return True


class ForkServer:
    """Talks to tests/fault_server.py: `start` a script in a fresh child, `wait` for its exit code; or `run` one,
    or `spawn` one that runs beside others (a `subprocess.Popen` for `launch.py`'s workers)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fault_server.py")], cwd=REPO, env=ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}
        self.running = set()
        self.exits = {}  # pid: exit code, read from the server, not yet asked for
        self.lock = threading.RLock()  # launch.py's workers are polled from another thread than the test's

    def _answer(self):
        """The server's next answer that is not an exit (those are kept in `exits`)."""
        while True:
            answer = json.loads(self.proc.stdout.readline())
            if "exit" not in answer:
                return answer
            self.exits[answer["pid"]] = answer["exit"]

    def start(self, script, argv, log=None, kill=None, **request):
        """Starts `script` (or `module=...`) with `argv` in a child; returns its pid. `request`: the protocol's
        optional fields (stdout, stderr, pipe, setsid, env, cwd, module)."""
        req = {"script": str(script), "argv": [str(a) for a in argv], "log": str(log) if log else None, "kill": kill,
               **request}
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            pid = self._answer()["pid"]
            self.running.add(pid)
        return pid

    def poll(self, pid):
        """The child's exit code, or None while it runs (once it has ended, asked once)."""
        if pid not in self.running:
            raise ValueError(f"{pid} is not a running child of this fork server")
        if not _exited(pid) and pid not in self.exits:
            return None
        with self.lock:
            while pid not in self.exits:  # it has ended: the server reports it within ~10 ms
                answer = json.loads(self.proc.stdout.readline())
                self.exits[answer["pid"]] = answer["exit"]
            self.running.discard(pid)
            return self.exits.pop(pid)

    def wait(self, pid, timeout=120):
        """The child's exit code (-9 for SIGKILL); a child still running after `timeout` s is killed."""
        return self._wait(pid, timeout)[0]

    def _wait(self, pid, timeout):
        deadline = time.time() + timeout
        while (code := self.poll(pid)) is None and time.time() < deadline:
            time.sleep(0.01)
        if code is not None:
            return code, False
        os.kill(pid, signal.SIGKILL)
        while (code := self.poll(pid)) is None:
            time.sleep(0.01)
        return code, True

    def run(self, script, args, cwd=REPO, env=None, timeout=300, module=None):
        """Like `subprocess.run([sys.executable, script, *args], capture_output=True, text=True)` (or
        `python -m module` with `module=`): a `CompletedProcess` with `returncode`, `stdout`, `stderr`."""
        with tempfile.TemporaryDirectory(prefix="kgan-fork-") as tmp:
            out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
            pid = self.start(script, args, stdout=out, stderr=err, env=dict(ENV if env is None else env),
                             cwd=str(cwd), module=module)
            code, timed_out = self._wait(pid, timeout)
            with open(out) as f_out, open(err) as f_err:
                stdout, stderr = f_out.read(), f_err.read()
        argv = [sys.executable, *(["-m", module] if module else [str(script)]), *map(str, args)]
        if timed_out:
            raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
        return subprocess.CompletedProcess(argv, code, stdout, stderr)

    def spawn(self, cmd, env=None, cwd=REPO):
        """`subprocess.Popen(cmd, env=env, stdout=PIPE, stderr=STDOUT, text=True, start_new_session=True)` for
        `cmd` = `[sys.executable, script, *args]` or `[sys.executable, "-m", module, *args]`: what `launch.py`
        does for each worker (its `spawn` argument)."""
        module, script, args = _parse(cmd)
        with tempfile.TemporaryDirectory(prefix="kgan-fork-") as tmp:
            fifo = os.path.join(tmp, "out")
            os.mkfifo(fifo)
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader first: the server's open then returns
            os.set_blocking(fd, True)
            pid = self.start(script, args, pipe=fifo, setsid=True, env=dict(ENV if env is None else env),
                             cwd=str(cwd), module=module)
        return Forked(self, pid, os.fdopen(fd, "r"), cmd)

    def close(self):
        for pid in self.running:  # a test failed between start and wait
            if not _exited(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Forked:
    """A child of the fork server, as a `subprocess.Popen` (what `launch.py` uses of one)."""

    def __init__(self, server, pid, stdout, args):
        self.server, self.pid, self.stdout, self.args, self.returncode = server, pid, stdout, args, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self.server.poll(self.pid)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        while self.poll() is None:
            if deadline is not None and time.time() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.01)
        return self.returncode


def _parse(cmd):
    """(module, script, args) of `[sys.executable, script, *args]` or `[sys.executable, "-m", module, *args]`."""
    if cmd[0] != sys.executable:
        raise ValueError(f"not a Python command of this interpreter: {cmd[:3]}")
    if cmd[1] == "-m":
        return cmd[2], cmd[2], [str(a) for a in cmd[3:]]
    return None, str(cmd[1]), [str(a) for a in cmd[2:]]


_SERVER = []


def server():
    """This process's fork server, started on first use (one per pytest-xdist worker) and closed at exit."""
    if not _SERVER or _SERVER[0].proc.poll() is not None:
        import atexit

        _SERVER[:] = [ForkServer()]
        atexit.register(_SERVER[0].close)
    return _SERVER[0]


def run(script, args, **kwargs):
    """`ForkServer.run` on this process's server."""
    return server().run(script, args, **kwargs)


def run_cmd(cmd, **kwargs):
    """`subprocess.run(cmd, capture_output=True, text=True)` for `cmd` = `[sys.executable, script, *args]` or
    `[sys.executable, "-m", module, *args]`, on this process's server."""
    module, script, args = _parse(cmd)
    return run(script, args, module=module, **kwargs)


def spawn(cmd, env=None):
    """`ForkServer.spawn` on this process's server: `launch.launch(..., spawn=forkserver.spawn)`."""
    return server().spawn(cmd, env)
