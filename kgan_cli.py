"""What the command-line front ends (train.py, export/*.py) share: flag parsing
that fails in one line, ConfigError -> one line + exit code 2, flags -> config.

It lives outside `kgan/` so the library stays free of CLI policy.
"""

import contextlib
import dataclasses
import os
import sys

EXIT_BAD_INPUT = 2


def fail(message, prog=None):
    """Prints `prog: error: message` on stderr and exits with code 2."""
    prog = prog or os.path.basename(sys.argv[0] or "kgan")
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def parse_flags(argv):
    """An absl `flags_parser` that reports a bad flag or flagfile in one line (exit 2)."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, prog=os.path.basename(argv[0]))


EXIT_DIVERGED = 3


def import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up notices (oneDNN, absl) kept off stderr.

    TF 2.21 prints them before it reads TF_CPP_MIN_LOG_LEVEL, so a one-line
    error would otherwise come after three lines of noise. They are hidden
    only when TF_CPP_MIN_LOG_LEVEL is unset or >= 1; an import failure still
    raises (and is reported) as usual.
    """
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "1") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def errors_exit():
    """Bad input (`ConfigError`): one line on stderr, exit 2. Divergence: one line, exit 3."""
    import_tensorflow_quietly()
    from kgan.errors import ConfigError, TrainingDiverged

    try:
        yield
    except ConfigError as e:
        prog = os.path.basename(sys.argv[0] or "kgan")
        print(f"{prog}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip interpreter shutdown: TensorFlow's native teardown (e.g. of a multi-worker
        # coordination agent that never connected) would log more lines after this one.
        # Bad input is reported before anything is written, so nothing is lost.
        os._exit(EXIT_BAD_INPUT)
    except TrainingDiverged as e:
        print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
        sys.exit(EXIT_DIVERGED)


@contextlib.contextmanager
def native_stderr_held():
    """Holds what native code (TensorFlow's C++ logging) writes to stderr inside the block.

    Replayed when the block succeeds; dropped when it raises, since the error
    that is then reported says what went wrong in one line.
    """
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    held = tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    ok = False
    try:
        yield
        ok = True
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if ok:
            held.seek(0)
            data = held.read()
            if data:
                os.write(2, data)
        held.close()


def flags_text(flag_values):
    """The main script's flags as a flagfile that reproduces the run (absl's own flags left out)."""
    main_module = sys.argv[0]
    flags = flag_values.get_key_flags_for_module(main_module) or []
    lines = [f.serialize() for f in flags if f.value is not None and f.name != "flagfile"]
    return "\n".join(line for line in lines if line) + "\n"


def flag_values(flag_values, config_cls):
    """The values of the flags named like fields of the dataclass `config_cls`."""
    out = {}
    for field in dataclasses.fields(config_cls):
        if field.name in flag_values:
            value = flag_values[field.name].value
            if isinstance(value, list):
                try:
                    value = tuple(int(v) for v in value)
                except ValueError:
                    fail(f"--{field.name}={','.join(value)}: expected comma-separated integers")
            out[field.name] = value
    return out


def run_name(argv, default="run"):
    """The name of the first --flagfile in `argv` without folder and extension (flags/dcgan.cfg -> dcgan)."""
    for i, arg in enumerate(argv):
        path = None
        if arg.startswith("--flagfile="):
            path = arg.split("=", 1)[1]
        elif arg == "--flagfile" and i + 1 < len(argv):
            path = argv[i + 1]
        if path:
            return os.path.splitext(os.path.basename(path))[0]
    return default
