"""A fork server for the tests: runs kgan's scripts in child processes, without starting TensorFlow each time.

Used by tests/test_faults.py (children to be killed) and by the CLI tests (`tests/forkserver.py`'s
`ForkServer.run`, a `subprocess.run` whose child forks from here). Starting TensorFlow costs ~4.5 s
of CPU per process; a loop of 20+ kills, or the suite's ~100 command-line runs, would spend most of its time there. This
server imports TensorFlow, Keras and kgan once (no TensorFlow op runs, so no runtime threads exist
yet and fork is safe), then forks one child per request. A child runs the script exactly as
`python <script> <args>` would (`runpy`, `__main__`, its own flags and TensorFlow runtime), with
stdout and stderr in a log file. The test SIGKILLs children from outside at chosen moments; a
request can also name a *kill point*: the child then SIGKILLs itself at that moment of a
checkpoint or export write (see `KILL_POINTS`), writing `fault_server: SIGKILL at <point>` to its
log first.

Protocol: one JSON object per line on stdin, {"script", "argv", "log", "kill": [point, n] or null}
and optionally "module" (run `python -m <module>` instead of a script), "stdout" and "stderr" (separate
files instead of "log"), "pipe" (a FIFO the client reads, for both instead of files), "setsid" (the
child leads a new session and process group, as `start_new_session=True`), "env" (the child's whole
environment) and "cwd" (default: the repo); the server answers on stdout {"pid": ...} at once and
{"pid": ..., "exit": code} when the child ends (code -9 for SIGKILL). Children run side by side (the
workers of one multi-worker job); their exits are reported in the order they happen. It exits when
stdin closes and its children have ended.

What a fork cannot give a child: settings TensorFlow reads when it is imported (TF_CPP_MIN_LOG_LEVEL,
the server's), and the start-up notices an import prints (tests of those keep real subprocesses).
"""

import glob
import json
import os
import runpy
import select
import signal
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _die(point):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(2, f"\nfault_server: SIGKILL at {point}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def _on_nth_call(module, name, n, before=None, after=None):
    """Wraps `module.name`: on its n-th call, runs `before(*args)` then dies, or calls it and runs `after` then dies."""
    real = getattr(module, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] != n:
            return real(*args, **kwargs)
        if before is not None:
            before(*args, **kwargs)
            _die(f"{name}#{n}")
        result = real(*args, **kwargs)
        if after is not None:
            after(result, *args, **kwargs)
        _die(f"{name}#{n}")
        return result

    setattr(module, name, wrapper)


def _strings(t):
    import numpy as np

    if isinstance(t, (list, tuple)):
        return [s for x in t for s in _strings(x)]
    value = t.numpy() if hasattr(t, "numpy") else t
    return [s.decode() if isinstance(s, bytes) else str(s) for s in np.ravel(value)]


def _merge_args(args, kwargs):
    names = ("checkpoint_prefixes", "destination_prefix")
    values = dict(zip(names, args), **{k: v for k, v in kwargs.items() if k in names})
    return _strings(values["checkpoint_prefixes"]), _strings(values["destination_prefix"])[0]


def _half_written_shard(*args, **kwargs):
    """As if killed while the shard's data file was being written: it is cut in half."""
    shards, _ = _merge_args(args, kwargs)
    for shard in shards:
        for path in glob.glob(glob.escape(shard) + ".data-*"):
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)


def _data_renamed_index_not_written(*args, **kwargs):
    """The first half of MergeV2Checkpoints (strace shows the order): the shard's data file is renamed
    into place, then the `.index` would be truncated and rewritten. This is the moment where a
    checkpoint rewritten in place under its own name is corrupt."""
    shards, destination = _merge_args(args, kwargs)
    (data,) = glob.glob(glob.escape(shards[0]) + ".data-*")
    os.rename(data, destination + ".data-00000-of-00001")


def _install(point, n):
    """Arms kill point `point` at its n-th occurrence in this process."""
    from tensorflow.python.lib.io import file_io
    from tensorflow.python.ops import gen_io_ops

    if point == "shard_written":  # checkpoint: tensors written to <ckpt>_temp/, not yet merged
        _on_nth_call(gen_io_ops, "merge_v2_checkpoints", n, before=lambda *a, **k: None)
    elif point == "shard_half_written":  # checkpoint: killed while writing the tensor data
        _on_nth_call(gen_io_ops, "merge_v2_checkpoints", n, before=_half_written_shard)
    elif point == "merge_half_done":  # checkpoint: data renamed into place, index not yet written
        _on_nth_call(gen_io_ops, "merge_v2_checkpoints", n, before=_data_renamed_index_not_written)
    elif point == "merged":  # checkpoint files complete, the `checkpoint` index not yet updated
        _on_nth_call(gen_io_ops, "merge_v2_checkpoints", n, after=lambda *a, **k: None)
    elif point == "index_tmp_written":  # `checkpoint.tmp<hex>` written, not yet renamed over `checkpoint`
        real_rename = file_io.rename
        calls = [0]

        def rename(src, dst, overwrite=False):
            if os.path.basename(dst) == "checkpoint":
                calls[0] += 1
                if calls[0] == n:
                    _die(f"rename checkpoint#{n}")
            return real_rename(src, dst, overwrite)

        file_io.rename = rename
    elif point == "old_checkpoint_half_deleted":  # the sweep deleted one file of an old checkpoint
        _on_nth_call(file_io, "delete_file", n, after=lambda *a, **k: None)
    elif point == "export_variables_written":  # export: variables/ written, saved_model.pb not yet
        _on_nth_call(file_io, "atomic_write_string_to_file", n, before=lambda *a, **k: None)
    elif point == "export_saved_model_written":  # export: SavedModel complete in the temporary directory
        from kgan import export

        _on_nth_call(export.saved_model, "write", n, after=lambda *a, **k: None)
    elif point == "export_tflite":  # export: before the n-th TFLite conversion
        from kgan import export

        _on_nth_call(export.tflite, "convert", n, before=lambda *a, **k: None)
    elif point == "export_manifest_final":  # export: manifest has its version, directory not yet renamed
        from kgan import export

        _on_nth_call(export.publish, "_write_manifest", n, after=lambda *a, **k: None)
    elif point == "export_renamed":  # export: the version directory was just renamed into place
        real_rename = os.rename
        calls = [0]

        def rename(src, dst, *a, **k):
            result = real_rename(src, dst, *a, **k)
            if os.path.basename(os.fspath(src)).startswith(".kgan-export-"):
                calls[0] += 1
                if calls[0] == n:
                    _die(f"export rename#{n}")
            return result

        os.rename = rename
    elif point == "enospc_tensors":  # not a kill: the disk is full when the n-th checkpoint's tensors are written
        import errno

        import tensorflow as tf
        from tensorflow.python.ops import io_ops

        real_save = io_ops.save_v2
        calls = [0]

        def save_v2(prefix, *args, **kwargs):
            calls[0] += 1
            if calls[0] == n:  # what TensorFlow raises for ENOSPC
                raise tf.errors.ResourceExhaustedError(
                    None, None, f"{prefix.numpy().decode()}.data-00000-of-00001; {os.strerror(errno.ENOSPC)}")
            return real_save(prefix, *args, **kwargs)

        io_ops.save_v2 = save_v2
    else:
        raise ValueError(f"unknown kill point {point!r}")


KILL_POINTS = ("shard_written", "shard_half_written", "merge_half_done", "merged", "index_tmp_written",
               "old_checkpoint_half_deleted", "export_variables_written", "export_saved_model_written", "export_tflite",
               "export_manifest_final", "export_renamed")


def _child(req, pipe):
    if req.get("setsid"):
        os.setsid()
    out, err = req.get("stdout") or req.get("log"), req.get("stderr") or req.get("log")
    if pipe is not None:  # "pipe": stdout and stderr both go to it
        os.dup2(pipe, 1)
        os.dup2(pipe, 2)
        os.close(pipe)
        out = err = None
    for fd_number, path in ((1, out), (2, err)) if out else ():
        if fd_number == 2 and err == out:
            os.dup2(1, 2)
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        os.dup2(fd, fd_number)
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # not the server's protocol pipe
    os.close(null)
    sys.stdin = open(0)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    if req.get("env") is not None:
        os.environ.clear()
        os.environ.update(req["env"])
    os.chdir(req.get("cwd") or REPO)
    code = 1
    try:
        if req.get("kill"):
            _install(*req["kill"])
        if req.get("module"):
            sys.argv = [req["module"], *req["argv"]]
            runpy.run_module(req["module"], run_name="__main__", alter_sys=True)
        else:
            sys.argv = [req["script"], *req["argv"]]
            runpy.run_path(req["script"], run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported in the log, exit 1
        import traceback

        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main():
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else prints goes to stderr, not into the protocol
    import absl.app  # noqa: F401
    import absl.flags  # noqa: F401
    import keras  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: F401
    import PIL.Image  # noqa: F401
    import tensorflow  # noqa: F401

    import kgan  # noqa: F401
    import kgan.export  # noqa: F401
    import kgan_cli.common  # noqa: F401

    answer.write(json.dumps({"ready": True}) + "\n")
    children, pending, reading = set(), b"", True
    while reading or children:
        if reading and select.select([0], [], [], 0.01 if children else None)[0]:
            data = os.read(0, 1 << 16)
            reading = bool(data)
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                req = json.loads(line)
                # A FIFO the client reads: opened here, before the fork, so the client sees its end of file
                # only when the child (and whatever it started) has closed it.
                pipe = os.open(req["pipe"], os.O_WRONLY) if req.get("pipe") else None
                pid = os.fork()
                if pid == 0:
                    _child(req, pipe)
                if pipe is not None:
                    os.close(pipe)
                children.add(pid)
                answer.write(json.dumps({"pid": pid}) + "\n")
        elif not reading:  # stdin closed: wait for the children still running
            time.sleep(0.01)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            answer.write(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    main()
