"""`python tests/check_args.py <script.py | -m module> [args ...]`: parses a command's arguments as the command
itself would, then exits 0 without running it. A bad flag or value fails the way the command fails on it (its own
parser's message, a non-zero exit). Used by tests/test_documented_commands.py through the fork server.

Both kinds of parser kgan's scripts use are stopped right after parsing: argparse's `parse_args` and absl's
`app.run` (whose `main` is replaced), so the flag validators run and nothing else. What the commands check after
parsing is checked here too where it is kgan's: a `kgan_cli` command given stray positional arguments fails (as
its `main` would), and a command that defines train.py's flags (train.py, kgan-train, bench/step_levers.py,
bench/profile_*.py) builds and validates its `TrainConfig` (a bad `--loss=...` fails there). A script that
reaches neither parser fails the check, unless it takes no arguments (`NO_PARSER`).
"""

import argparse
import os
import runpy
import sys

from absl import app, flags

NO_PARSER = ("bench/machine.py",)
# kgan_cli commands whose main rejects positional arguments (launch takes the worker's after `--`).
NO_POSITIONALS = ("kgan_cli.train", "kgan_cli.evaluate", "kgan_cli.export", "kgan_cli.client", "kgan_cli.generate",
                  "train.py", "evaluate.py", "generate.py")
parsed = []


def _parsed_argparse(parse_args):
    def parse_args_then_exit(self, args=None, namespace=None):
        parse_args(self, args, namespace)  # exits 2 with argparse's message on a bad argument
        parsed.append("argparse")
        sys.exit(0)

    return parse_args_then_exit


def main():
    if len(sys.argv) < 2:
        print("usage: check_args.py <script.py | -m module> [args ...]", file=sys.stderr)
        sys.exit(2)
    module = sys.argv[2] if sys.argv[1] == "-m" else None
    target = module or sys.argv[1]
    argv = sys.argv[3:] if module else sys.argv[2:]

    argparse.ArgumentParser.parse_args = _parsed_argparse(argparse.ArgumentParser.parse_args)
    run = app.run

    def run_parse_only(main, argv=None, flags_parser=app.parse_flags_with_usage):
        def checked(args):
            parsed.append("absl")
            _check_after_parsing(target, args)
            return 0

        return run(checked, argv, flags_parser=flags_parser)

    app.run = run_parse_only
    sys.argv = [target, *argv]
    # sys.path[0] as `python <script>` / `python -m` set it: the script's folder (bench/'s scripts import each other).
    sys.path.insert(0, os.getcwd() if module else os.path.dirname(os.path.abspath(target)))
    if module:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")
    if not parsed and target not in NO_PARSER:
        print(f"check_args.py: {target} ran to its end without parsing its arguments (argparse's parse_args or "
              "absl's app.run): nothing was checked", file=sys.stderr)
        sys.exit(2)


def _check_after_parsing(target, args):
    from kgan_cli import common

    if target.endswith(NO_POSITIONALS) and len(args) > 1:
        common.fail(f"unexpected arguments {args[1:]}: flags look like --name=value")
    if "kgan_cli.train" in sys.modules or target == "kgan_cli.train":  # train.py's flags are defined
        from kgan.config import TrainConfig
        from kgan.errors import ConfigError

        try:
            common.config_from_flags(flags.FLAGS, TrainConfig, verbose=0).validate()
        except ConfigError as e:
            common.fail(str(e))


if __name__ == "__main__":
    main()
