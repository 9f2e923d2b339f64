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
    """Talks to tests/fault_server.py: `start` a script in a fresh child, `wait` for its exit code; or `run` one."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fault_server.py")], cwd=REPO, env=ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}
        self.running = None

    def start(self, script, argv, log=None, kill=None, **request):
        """Starts `script` (or `module=...`) with `argv` in a child; returns its pid. `request`: the protocol's
        optional fields (stdout, stderr, env, cwd, module)."""
        req = {"script": str(script), "argv": [str(a) for a in argv], "log": str(log) if log else None, "kill": kill,
               **request}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        self.running = json.loads(self.proc.stdout.readline())["pid"]
        return self.running

    def wait(self, pid, timeout=120):
        """The child's exit code (-9 for SIGKILL); a child still running after `timeout` s is killed."""
        return self._wait(pid, timeout)[0]

    def _wait(self, pid, timeout):
        deadline = time.time() + timeout
        while not _exited(pid) and time.time() < deadline:
            time.sleep(0.01)
        timed_out = not _exited(pid)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        answer = json.loads(self.proc.stdout.readline())
        assert answer["pid"] == pid
        self.running = None
        return answer["exit"], timed_out

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

    def close(self):
        if self.running and not _exited(self.running):  # a test failed between start and wait
            os.kill(self.running, signal.SIGKILL)
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


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
    if cmd[0] != sys.executable:
        raise ValueError(f"not a Python command of this interpreter: {cmd[:3]}")
    if cmd[1] == "-m":
        return run(cmd[2], cmd[3:], module=cmd[2], **kwargs)
    return run(cmd[1], cmd[2:], **kwargs)
