"""Every command the docs show parses: the README, docs/*.md and the flagfiles' comments quote ~70 commands of
`train.py`, the `kgan-*` console scripts and the `bench/` scripts, with the flags that made their figures. A flag
renamed or removed in the code, or a script moved, would leave a command that fails at its first line. Each one
is parsed here by its own parser, without running it (tests/check_args.py, in a child of the fork server: no
TensorFlow start-up per command); `train.py` commands also build and validate their `TrainConfig`.

Commands with a placeholder (`<run>`, `...`, `[flags]`, `λ`, `EXPORT_VERSION_DIR`) are not runnable as written
and are skipped; `test_the_extraction_finds_the_commands` keeps the extraction honest.
"""

import re
import shlex

import pytest

from tests import forkserver
from tests.conftest import REPO

CHECK = REPO / "tests" / "check_args.py"
PYTHON = re.compile(r"^(\.venv/bin/)?python3?$")
CONSOLE = re.compile(r"^(\.venv/bin/)?(kgan-[a-z]+)$")
PLACEHOLDER = re.compile(r"[<>\[\]λ]|\.\.\.|^[A-Z_]{3,}$")
OPERATORS = {"&&", "||", ";", "|", ">", ">>"}


def _segments(code):
    """Shell command lines of a code span or block: continuations joined, comments dropped, split at operators."""
    code = re.sub(r"\\\n", " ", code)
    for line in code.splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote: prose, not a command
            continue
        segment = []
        for token in tokens + [";"]:
            if token in OPERATORS:
                if segment:
                    yield segment
                segment = []
            else:
                segment.append(token)


def _command(tokens):
    """`(target, args)` of a kgan command in `tokens` (target: a script path, or `-m module`), or None. A `docker`
    command's `kgan-*` words are image names and entrypoints: not parsed here."""
    if tokens[0] == "docker":
        return None
    for i, token in enumerate(tokens):
        if PYTHON.match(token) and i + 1 < len(tokens):
            if tokens[i + 1].endswith(".py"):
                return tokens[i + 1], tokens[i + 2:]
            if tokens[i + 1] == "-m" and i + 2 < len(tokens) and tokens[i + 2].startswith("kgan_cli."):
                return f"-m {tokens[i + 2]}", tokens[i + 3:]
            return None
        if m := CONSOLE.match(token):
            return f"-m kgan_cli.{m.group(2)[len('kgan-'):]}", tokens[i + 1:]
    return None


def _markdown_commands(path):
    text = path.read_text()
    blocks = re.findall(r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```", text, re.S | re.M)
    spans = re.findall(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)*)`(?!`)", re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text,
                                                                     flags=re.S | re.M))
    for code in blocks + [" ".join(s.split()) for s in spans]:
        for tokens in _segments(code):
            yield tokens


def _flagfile_commands(path):
    """Commands in a flagfile's comments, which run on in prose: a command's arguments are its `--flags`."""
    comments = " ".join(line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#"))
    flag = r" --[\w.-]+=[^\s()]+| --[\w.-]+(?: [\w.][\w./-]*)?"  # --name=value, --name value, --name
    for m in re.finditer(rf"\bpython3? (\S+\.py)((?:{flag})*)", comments):
        yield ["python", m.group(1), *(a.rstrip(".,;:") for a in m.group(2).split())]


def documented_commands():
    """{(target, args): where} of every runnable kgan command the docs show."""
    found = {}
    sources = [(p, _markdown_commands) for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]]
    sources += [(p, _flagfile_commands) for p in sorted((REPO / "flags").glob("*.cfg"))]
    for path, extract in sources:
        for tokens in extract(path):
            command = _command(tokens)
            if command is None or any(PLACEHOLDER.search(t) for t in (command[0], *command[1])):
                continue
            found.setdefault((command[0], tuple(command[1])), path.relative_to(REPO).as_posix())
    return found


COMMANDS = documented_commands()


def _check(target, args):
    module = target.split()[1] if target.startswith("-m ") else None
    argv = ["-m", module] if module else [target]
    return forkserver.run(CHECK, [*argv, *args], timeout=120)


def test_the_extraction_finds_the_commands():
    targets = {target for target, _ in COMMANDS}
    assert len(COMMANDS) >= 50, len(COMMANDS)
    assert {"train.py", "evaluate.py", "launch.py", "generate.py"} <= targets
    assert {f"-m kgan_cli.{c}" for c in ("train", "evaluate", "export", "client", "generate")} <= targets
    assert len({t for t in targets if t.startswith("bench/")}) >= 15
    # One known command from each kind of source, with its arguments whole.
    assert ("train.py", ("--flagfile=flags/dcgan.cfg", "--data_dir=../shared/data/mnist")) in COMMANDS  # README
    assert ("-m kgan_cli.client", ("--server=http://localhost:8501", "--model=kgan", "-n", "16", "--out",
                                   "grid.png")) in COMMANDS  # an inline span
    assert ("bench/make_rgb_set.py", ("--out", "data/rgb64", "--size", "64", "--num", "2000")) in COMMANDS  # a block
    assert COMMANDS[("bench/toolbox.py", ("--minutes=3",))] in ("README.md", "flags/gan.cfg")


@pytest.mark.parametrize("args, expected", [
    (["train.py", "--flagfile=flags/dcgan.cfg", "--no_such_flag=1"], "no_such_flag"),  # absl, unknown flag
    (["train.py", "--flagfile=flags/dcgan.cfg", "--loss=no_such_loss"], "no_such_loss"),  # TrainConfig.validate
    (["bench/seeds.py", "--no_such_flag=1"], "no_such_flag"),  # argparse
    (["bench/no_such_script.py"], "no_such_script"),
], ids=["absl", "config", "argparse", "missing_script"])
def test_the_check_fails_a_command_that_would_fail(args, expected):
    r = forkserver.run(CHECK, args, timeout=120)
    assert r.returncode != 0 and expected in r.stderr, (r.returncode, r.stderr[-2000:])


@pytest.mark.parametrize("target, args", sorted(COMMANDS),
                         ids=[f"{COMMANDS[c]}:{c[0]} {' '.join(c[1])}"[:120] for c in sorted(COMMANDS)])
def test_a_documented_command_parses(target, args):
    r = _check(target, args)
    if "--helpfull" in args:  # absl prints the help and exits 1
        assert r.returncode == 1 and "--output_dir" in r.stdout, r.stderr[-2000:]
        return
    assert r.returncode == 0, f"{COMMANDS[(target, args)]}: {target} {' '.join(args)}\n{r.stderr[-2000:]}"
