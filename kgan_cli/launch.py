"""Try multi-worker training on one machine: `kgan-launch --workers=2 -- --flagfile=flags/dcgan.cfg ...`
(in a clone: `python launch.py ...`).

Starts N processes of `kgan-train --strategy=multi_worker <your flags>` on
127.0.0.1, each with free ports and its own `TF_CONFIG` (the same variable a
Kubernetes operator or Vertex AI sets on real machines), streams their output
prefixed with `[worker i]`, and stops all of them as soon as one fails. Exits
with the failing worker's exit code (0 when all succeed); of workers found failed
at once, one killed by a signal is blamed, as the others' errors follow from
losing it. Run the same command again after a failure: the workers resume from
the chief's checkpoints.

Each worker splits its CPU into `--cpu_replicas` devices if you pass that flag
after `--`; the global `--batch_size` is split over all replicas on all workers.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

# The directory holding the kgan and kgan_cli packages: the workers import them from there.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(n):
    """`n` distinct TCP ports that are free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(num_workers, index, ports):
    """The TF_CONFIG (JSON) of worker `index` in a cluster of `num_workers` on 127.0.0.1."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports[:num_workers]]},
                       "task": {"type": "worker", "index": int(index)}})


def _stream(proc, prefix, out):
    for line in iter(proc.stdout.readline, ""):
        out.write(f"{prefix} {line}")
        out.flush()


def _popen(cmd, env):
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def launch(num_workers, args, script=None, env=None, out=sys.stdout, spawn=_popen):
    """Runs `num_workers` workers of `script` (default: kgan_cli.train) with `args`; returns the job's exit code.

    `spawn(cmd, env)` starts one worker in a new process group and returns a `subprocess.Popen`-like object
    (`pid`, `poll`, `wait`, `returncode`, and a text `stdout` carrying the worker's stdout and stderr); the
    default is `subprocess.Popen`. Called from the main thread, `launch` stops the workers on SIGTERM.
    """
    program = [script] if script else ["-m", "kgan_cli.train"]
    trains = script is None or script.endswith("train.py")
    python_path = os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    ports = free_ports(num_workers)
    procs = []
    out.write(f"[launch] {num_workers} workers on 127.0.0.1 ports {', '.join(map(str, ports))}\n")
    for i in range(num_workers):
        worker_env = {**os.environ, "PYTHONPATH": python_path, **(env or {}),
                      "TF_CONFIG": tf_config(num_workers, i, ports), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, *program, *args]
        if trains and not any(a.startswith("--strategy") for a in args):
            cmd.append("--strategy=multi_worker")
        procs.append(spawn(cmd, worker_env))
        out.write(f"[launch] worker {i} pid {procs[-1].pid}\n")
        out.flush()
    threads = [threading.Thread(target=_stream, args=(p, f"[worker {i}]", out), daemon=True)
               for i, p in enumerate(procs)]
    for t in threads:
        t.start()

    def stop_all(sig=signal.SIGKILL):
        # SIGKILL: the survivors of a failed worker wait inside a collective and would not
        # react to SIGTERM until it times out; the job resumes from the chief's last checkpoint.
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass

    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:  # signal handlers can only be set there
        previous = signal.signal(signal.SIGTERM, lambda *a: (stop_all(), sys.exit(143)))
    code = None
    try:
        while any(p.poll() is None for p in procs):
            code = _failure(procs, out, ": stopping the others")
            if code is not None:
                stop_all()
                break
            time.sleep(0.05)
        deadline = time.time() + 30
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    except KeyboardInterrupt:
        stop_all()
        code = 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    for t in threads:
        t.join(timeout=5)
    if code is None:  # every worker ended before a failure was seen
        code = _failure(procs, out) or 0
    return code


def _failure(procs, out, then=""):
    """The exit code of the failed worker to blame (None if none failed), naming the failed ones in `out`.

    Of workers found failed at once, one killed by a signal (a negative code: SIGKILL, the OOM killer) is
    named first: the others' errors follow from losing it (a broken collective). Else the lowest index.
    """
    failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
    if not failed:
        return None
    first = min(failed, key=lambda i: (procs[i].returncode > 0, i))
    out.write(f"[launch] worker {first} exited with code {procs[first].returncode}{then}\n")
    for i in failed:
        if i != first:
            out.write(f"[launch] worker {i} exited with code {procs[i].returncode} too\n")
    return procs[first].returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     usage="kgan-launch --workers=N -- [kgan-train flags]")
    parser.add_argument("--workers", type=int, default=2, help="number of worker processes (>= 1)")
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    opts = parser.parse_args(argv)
    if opts.workers < 1:
        parser.error(f"--workers must be >= 1, got {opts.workers}")
    sys.exit(launch(opts.workers, rest))


if __name__ == "__main__":
    main()
