"""What the command-line front ends (kgan_cli.train, .evaluate, .export, .client) share: flag parsing
that fails in one line, ConfigError -> one line + exit code 2, flags generated from a config dataclass.

It lives outside `kgan/` so the library stays free of CLI policy.
"""

import contextlib
import dataclasses
import logging
import os
import sys
import types
import typing

EXIT_BAD_INPUT = 2


def fail(message, prog=None):
    """Prints `prog: error: message` on stderr and exits with code 2."""
    prog = prog or os.path.basename(sys.argv[0] or "kgan")
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


_FLAGFILE = ("--flagfile=", "-flagfile=")


def _flagfile_name(arg):
    """The path of a `--flagfile=PATH` argument or flagfile line (as absl reads it), else None."""
    for prefix in _FLAGFILE:
        if arg.startswith(prefix):
            return os.path.expanduser(arg[len(prefix):].strip())
    return None


def _found_from(name, including_file):
    """A nested flagfile's relative `name` as found from the working directory (absl's rule), else from the
    including file's folder or the nearest of its parents that holds it; None if nowhere."""
    if os.path.isabs(name) or os.path.exists(name):
        return None
    folder = os.path.dirname(os.path.abspath(including_file))
    while True:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
        if os.path.dirname(folder) == folder:
            return None
        folder = os.path.dirname(folder)


def _flagfile_lines(path, stack, moved):
    """The flags of flagfile `path` as absl reads them, nested flagfiles expanded in place; a nested one that absl
    would not find from the working directory is read from where `_found_from` finds it (appended to `moved`)."""
    lines = []
    with open(path) as f:
        for line in (raw.strip() for raw in f):
            if not line or line.startswith(("#", "//")):
                continue
            name = _flagfile_name(line)
            if name is None:
                lines.append(line)
                continue
            found = _found_from(name, path)
            if found:
                moved.append(found)
            sub = os.path.abspath(found or name)
            if sub in stack or not os.path.isfile(sub):
                lines.append(f"--flagfile={found or name}")  # absl reports it (or skips a circular one)
                continue
            lines.extend(_flagfile_lines(sub, stack + [sub], moved))
    return lines


def expand_nested_flagfiles(argv):
    """`argv` as given, unless a flagfile in it includes another by a path relative to somewhere other than the
    working directory: then with its flagfiles expanded in place (what absl does), each nested one found from
    the including file's folder or its parents. So `kgan-train --flagfile=/path/to/kgan/flags/cdcgan.cfg`, which
    includes `flags/dcgan.cfg`, works outside the repository too (absl reads nested paths from the working
    directory only). Arguments after `--` are left alone, as absl leaves them."""
    out, moved, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        name = _flagfile_name(arg) if i else None
        if name is None and i and arg in ("--flagfile", "-flagfile") and i + 1 < len(argv):
            name, i = os.path.expanduser(argv[i + 1]), i + 1
            arg = f"--flagfile={argv[i]}"
        if name is not None and os.path.isfile(name):
            out.extend(_flagfile_lines(name, [os.path.abspath(name)], moved))
        else:
            out.append(arg)
        i += 1
    return out if moved else list(argv)


def parse_flags(argv):
    """An absl `flags_parser` that reports a bad flag or flagfile in one line (exit 2); nested flagfiles are
    found from the including file's folder too (`expand_nested_flagfiles`)."""
    from absl import flags

    if any(a in ("-h", "-help") for a in argv[1:]):  # absl knows --help and -?, and calls -h an unknown flag
        argv = [a if a not in ("-h", "-help") else "--help" for a in argv]
    try:
        return flags.FLAGS(expand_nested_flagfiles(argv))
    except flags.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        fail(first.removeprefix("ERROR:: "), prog=os.path.basename(argv[0]))  # absl's prefix for a missing flagfile
    except BrokenPipeError:  # `--help | head`: the reader has gone, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except SystemExit as e:  # absl exits 1 after printing the help that was asked for: that is a success
        if e.code == 1 and any(a.lstrip("-").split("=")[0] in _HELP_FLAGS for a in argv[1:] if a.startswith("-")):
            sys.exit(0)
        raise


_HELP_FLAGS = ("help", "?", "helpshort", "helpfull", "helpxml")


EXIT_DIVERGED = 3

# CPU flags of native bfloat16 arithmetic (Intel and AMD): without either, oneDNN emulates bfloat16 in float32 units.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


CPUINFO = "/proc/cpuinfo"


def cpu_model_and_flags(path=None):
    """`(model name, set of CPU flags)` from Linux's `/proc/cpuinfo` (or `path`); `(None, None)` where it cannot be
    read."""
    model, cpu_flags = None, None
    try:
        with open(path or CPUINFO) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags":
                    cpu_flags = set(value.split())
                    break
    except OSError:
        pass
    return model, cpu_flags


def warn_about_precision(config):
    """Logs `precision_warning` for a run's `TrainConfig` on this machine (a warning, not an error: it still runs);
    returns the message or None."""
    import tensorflow as tf
    from absl import logging as absl_logging

    accelerator = bool(tf.config.list_physical_devices("GPU")) or config.strategy == "tpu"
    message = precision_warning(config.precision, cpu_model_and_flags()[1], accelerator=accelerator)
    if message:
        absl_logging.warning(message)
    return message


def precision_warning(precision, cpu_flags, accelerator=False):
    """The line to log when `precision` is bfloat16 on a CPU without bfloat16 units, else None.

    `cpu_flags`: a set (None: unknown, no warning); `accelerator`: a GPU or TPU will run the step instead.

    Example:

    >>> precision_warning("mixed_bfloat16", {"avx2", "avx512f"})[:66]
    '--precision=mixed_bfloat16 on a CPU without bfloat16 units (no avx'
    >>> precision_warning("mixed_bfloat16", {"avx512f", "amx_bf16"}) is None, precision_warning("float32", set())
    (True, None)
    """
    if precision != "mixed_bfloat16" or accelerator or cpu_flags is None:
        return None
    if any(flag in cpu_flags for flag in BFLOAT16_CPU_FLAGS):
        return None
    return (f"--precision=mixed_bfloat16 on a CPU without bfloat16 units (no {' or '.join(BFLOAT16_CPU_FLAGS)} "
            "among its flags): oneDNN emulates bfloat16 there, and the step is much slower than float32's "
            "(flags/dcgan_fast.cfg made 0.37x flags/dcgan.cfg's images/s on an AVX-512 CPU without BF16, "
            "0.11-0.13x on an AVX2 CPU; README); flags/dcgan.cfg trains in float32")


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

    Replayed when the block succeeds (less the lines of `NATIVE_CHATTER`); dropped when it raises, since the error
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
            data = b"".join(line for line in held.read().splitlines(keepends=True)
                            if not line.startswith(NATIVE_CHATTER))
            if data:
                os.write(2, data)
        held.close()


# Lines native code prints on every success that tell a user nothing (the TFLite runtime's, once per interpreter).
NATIVE_CHATTER = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)


# TensorFlow's INFO lines that say nothing to a user: one per checkpoint write (TF 2.21's functional_saver,
# through absl's logger), and a dozen per traced step under MirroredStrategy (its cross-device reductions).
CHATTER = ("Sharding callback duration", "Reduce to /job:", "Collective all_reduce tensors:")


class _DropChatter(logging.Filter):
    def filter(self, record):
        return not str(record.msg).startswith(CHATTER)


def run(main):
    """`absl.app.run(main)` with `parse_flags`: a bad flag or flagfile is one line and exit code 2.

    TensorFlow's `CHATTER` is dropped from the log, and its lines come out once; everything else it logs stays."""
    from absl import app

    logging.getLogger("absl").addFilter(_DropChatter())  # TF's checkpoint code logs through absl's logger
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addFilter(_DropChatter())
    # TensorFlow gave its logger a handler of its own when it was imported before absl set up logging: every line it
    # logs then came out twice ("INFO:tensorflow:..." and absl's "I1207 ..."). absl's handler on the root is enough.
    tf_logger.handlers.clear()
    entry = sys.modules.get("__main__")
    if entry is not None and not getattr(entry, "__doc__", None):  # a console script: --help shows what it does
        entry.__doc__ = sys.modules[main.__module__].__doc__
    return app.run(main, flags_parser=parse_flags)


def _flag_type(annotation):
    """`(base type, optional)` of a field annotation: `int`, `float | None`, `tuple[int, ...] | None`, ..."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"cannot make a flag of type {annotation}")
        return _flag_type(rest[0])[0], True
    return typing.get_origin(annotation) or annotation, False


def _unsettable(parser_class):
    """An instance of absl's `parser_class` that reads an empty value as None (unset): an optional setting a
    flagfile set (`--ema_decay=0.999`) can be unset on the command line after it (`--ema_decay=`)."""

    class Unsettable(parser_class):
        def parse(self, argument):
            if isinstance(argument, str) and not argument.strip():
                return None
            return super().parse(argument)

    return Unsettable()


def _item_types(annotation):
    """The item types of a tuple or list annotation (`tuple[int, ...] | None`: {int, Ellipsis})."""
    for part in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(part) in (tuple, list):
            return set(typing.get_args(part))
    return set(typing.get_args(annotation))


def define_config_flags(config_cls, flag_values=None):
    """Defines one absl flag per field of the dataclass `config_cls` (metadata `flag=False` excepted).

    Its name is the field's, its default the field's, its help the `help` in the
    field's metadata. The type follows the annotation: str, int, float, bool
    (`--name` / `--noname`), a tuple of ints (a comma-separated list), each
    optionally `| None`; a field with `choices` in its metadata becomes an enum.
    Returns the names of the flags defined.
    """
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    names = []
    for field in dataclasses.fields(config_cls):
        if not field.metadata.get("flag", True):
            continue
        kind, optional = _flag_type(field.type)
        kwargs = dict(name=field.name, default=field.default, help=field.metadata.get("help", ""),
                      flag_values=flag_values)
        choices = field.metadata.get("choices")
        if choices is not None and kind is str:
            flags.DEFINE_enum(enum_values=list(choices), **kwargs)
        elif kind is bool and optional:  # `--d_batchnorm=` unsets it (the family's default); --[no]name as usual
            flag = flags.BooleanFlag(field.name, field.default, kwargs["help"])
            flag.parser = _unsettable(flags.BooleanParser)
            flags.DEFINE_flag(flag, flag_values=flag_values)
        elif kind is bool:
            flags.DEFINE_boolean(**kwargs)
        elif kind in (int, float, str) and optional:  # `--ema_decay=` unsets what a flagfile set
            parser = {int: flags.IntegerParser, float: flags.FloatParser, str: flags.ArgumentParser}[kind]
            flags.DEFINE(_unsettable(parser), serializer=flags.ArgumentSerializer(), **kwargs)
        elif kind is int:
            flags.DEFINE_integer(**kwargs)
        elif kind is float:
            flags.DEFINE_float(**kwargs)
        elif kind is str:
            flags.DEFINE_string(**kwargs)
        elif kind in (tuple, list):
            if _item_types(field.type) - {int, Ellipsis}:  # config_from_flags reads integers
                raise TypeError(f"{config_cls.__name__}.{field.name}: cannot make a flag of type {field.type} (a list "
                                "flag holds integers: tuple[int, ...])")
            kwargs["default"] = None if field.default is None else [str(v) for v in field.default]
            flags.DEFINE_list(**kwargs)
        else:
            raise TypeError(f"{config_cls.__name__}.{field.name}: cannot make a flag of type {field.type}")
        names.append(field.name)
    return names


def register_key_flags(names, flag_values=None):
    """Lists the flags `names` under the main program in `--help` (they are defined in a kgan_cli module,
    which is not the main one when a shim or a console script runs it)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    for name in names:
        flag_values.register_key_flag_for_module(sys.argv[0], flag_values[name])


def flags_text(flag_values, names):
    """The flags `names` as a flagfile that reproduces the run (unset ones left out)."""
    lines = [flag_values[name].serialize() for name in names if flag_values[name].value is not None]
    return "\n".join(line for line in lines if line) + "\n"


def config_from_flags(flag_values, config_cls, **overrides):
    """An instance of the dataclass `config_cls` from the flags named like its fields (others: defaults)."""
    out = {}
    for field in dataclasses.fields(config_cls):
        if field.name in flag_values:
            value = flag_values[field.name].value
            if value == [] and _flag_type(field.type)[1]:
                value = None  # `--g_filters=`: unset (the network family's default)
            elif isinstance(value, list):
                try:
                    value = tuple(int(v) for v in value)
                except ValueError:
                    fail(f"--{field.name}={','.join(value)}: expected comma-separated integers")
            out[field.name] = value
    return config_cls(**{**out, **overrides})


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
