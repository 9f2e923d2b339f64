"""Every command the docs show parses: the README, docs/*.md and the flagfiles' comments quote ~95 commands of
`train.py`, the `kgan-*` console scripts and the `bench/` scripts, with the flags that made their figures. A flag
renamed or removed in the code, or a script moved, would leave a command that fails at its first line. Each one
is parsed here by its own parser, without running it (tests/check_args.py, in a child of the fork server: no
TensorFlow start-up per command); `train.py` commands also build and validate their `TrainConfig`.

A command that hands arguments to another is checked as both: `launch.py ... -- <train.py's flags>`,
`bench/env_ab.py ... -- <step_levers.py's flags>`, and each `bench/seeds.py --recipes=` recipe as the train.py
command it runs; `docker run <image>` as the image's entry point (train.py, or `--entrypoint`). A placeholder
value (`λ`, `EXPORT_VERSION_DIR`) is replaced by a sample value; a command with a placeholder in its syntax
(`<run>`, `...`, `[flags]`) is not runnable as written and is skipped. `test_the_extraction_finds_the_commands`
keeps the extraction honest.
"""

import re
import shlex

import pytest

from tests import forkserver
from tests.conftest import REPO

CHECK = REPO / "tests" / "check_args.py"
PYTHON = re.compile(r"^(\.venv/bin/)?python3?$")
CONSOLE = re.compile(r"^(\.venv/bin/)?(kgan-[a-z]+)$")
PLACEHOLDER = re.compile(r"[<>\[\]]|\.\.\.")
SAMPLE_VALUES = [(re.compile(r"λ"), "0.1"), (re.compile(r"^[A-Z_]{3,}$"), "x")]  # a value to stand for a placeholder
OPERATORS = {"&&", "||", ";", "|", ">", ">>"}
DOCKER_OPTIONS_WITH_VALUE = {"-v", "--volume", "-p", "--publish", "-e", "--env", "--gpus", "--name", "--entrypoint",
                             "-w", "--workdir", "--network", "-u", "--user"}
DOCKER_IMAGES = {"kgan-train": "train.py"}  # docker/train.Dockerfile's ENTRYPOINT


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


def _docker_command(tokens):
    """`docker run [options] kgan-train[:tag] args`: the image's entry point (or `--entrypoint`) with `args`."""
    if tokens[1:2] != ["run"]:
        return None
    entrypoint, i = None, 2
    while i < len(tokens) and tokens[i].startswith("-"):
        option = tokens[i].split("=", 1)[0]
        if option == "--entrypoint":
            entrypoint = tokens[i].split("=", 1)[1] if "=" in tokens[i] else tokens[i + 1]
        i += 2 if option in DOCKER_OPTIONS_WITH_VALUE and "=" not in tokens[i] else 1
    image = tokens[i].split(":")[0] if i < len(tokens) else None
    if image not in DOCKER_IMAGES:
        return None  # not kgan's image (e.g. tensorflow/serving)
    if entrypoint:
        return _command([entrypoint, *tokens[i + 1:]])
    return DOCKER_IMAGES[image], tokens[i + 1:]


def _command(tokens):
    """`(target, args)` of a kgan command in `tokens` (target: a script path, or `-m module`), or None."""
    if tokens[0] == "docker":
        return _docker_command(tokens)
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
    """Commands in a flagfile's comments, which run on in prose: a command's arguments are its `--flags` (a value
    after a space only if it is a number or a path: a prose word after a boolean flag is not its value); a line
    that ends in a comma goes on in the next (`--recipes=a,` / `b`)."""
    lines = [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    comments = re.sub(r", (?=\S)", ",", " ".join(lines))
    flag = r" --[\w.-]+=[^\s()]+| --[\w.-]+(?: (?:[\d.]+|[\w.-]*/[\w./-]*)(?=[\s).,;:]|$))?"
    for m in re.finditer(rf"\bpython3? (\S+\.py)((?:{flag})*)", comments):
        yield ["python", m.group(1), *(a.rstrip(".,;:") for a in m.group(2).split())]


def _after_dashes(args):
    return list(args[args.index("--") + 1:]) if "--" in args else []


def _handed_on(target, args):
    """The commands a command runs with arguments it was given: [(target, args), ...]."""
    if target in ("launch.py", "-m kgan_cli.launch") and "--" in args:
        return [("train.py", _after_dashes(args))]
    if target == "bench/env_ab.py" and "--" in args:
        return [("bench/step_levers.py", _after_dashes(args))]
    if target == "bench/seeds.py":
        import importlib.util

        spec = importlib.util.spec_from_file_location("bench_seeds", REPO / "bench" / "seeds.py")
        seeds = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(seeds)
        recipes = next((a.split("=", 1)[1] for a in args if a.startswith("--recipes=")), ",".join(seeds.RECIPES))
        data_dir = [a for a in args if a.startswith("--data_dir=")]
        return [("train.py", [f"--flagfile=flags/{cfg}.cfg", *data_dir, *overrides])
                for cfg, overrides in map(seeds.recipe_flags, filter(None, recipes.split(",")))]
    return []


def documented_commands():
    """{(target, args): where} of every runnable kgan command the docs show, and of the commands they run."""
    found = {}
    sources = [(p, _markdown_commands) for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]]
    sources += [(p, _flagfile_commands) for p in sorted((REPO / "flags").glob("*.cfg"))]
    for path, extract in sources:
        for tokens in extract(path):
            command = _command(tokens)
            if command is None or any(PLACEHOLDER.search(t) for t in (command[0], *command[1])):
                continue
            target, args = command
            for pattern, value in SAMPLE_VALUES:
                args = [pattern.sub(value, a) for a in args]
            where = path.relative_to(REPO).as_posix()
            found.setdefault((target, tuple(args)), where)
            for handed in _handed_on(target, args):
                found.setdefault((handed[0], tuple(handed[1])), f"{where}, run by {target}")
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
    # Handed on: launch's worker flags, a seeds.py recipe that a flagfile's comment breaks over two lines, env_ab's
    # step_levers.py flags, docker's entry points.
    assert _handed_on("launch.py", ["--workers=2", "--", "--flagfile=flags/dcgan.cfg"]) == [
        ("train.py", ["--flagfile=flags/dcgan.cfg"])]
    assert ("train.py", ("--flagfile=flags/dcgan.cfg", "--data_dir=../shared/data/mnist", "--share_fakes",
                         "--precision=mixed_bfloat16")) in COMMANDS
    assert any(t == "bench/step_levers.py" and "run by bench/env_ab.py" in w for (t, _), w in COMMANDS.items())
    assert ("-m kgan_cli.export", ("--run_dir=/runs/dcgan",)) in COMMANDS
    assert ("train.py", ("--flagfile=flags/dcgan.cfg", "--data_dir=/data/mnist", "--output_dir=/runs/dcgan")) in COMMANDS
    assert ("bench/serving_sizes.py", ("x", "--num_images=256")) in COMMANDS  # a placeholder given a sample value
    # No prose word taken for a flag's value: every flagfile command's arguments are flags and their values.
    for (target, args), where in COMMANDS.items():
        if where.startswith("flags/") and "run by" not in where:
            assert all(a.startswith("--") or re.fullmatch(r"[\d.]+|[\w.-]*/[\w./-]*", a) for a in args), (target, args)


@pytest.mark.parametrize("args, expected", [
    (["train.py", "--flagfile=flags/dcgan.cfg", "--no_such_flag=1"], "no_such_flag"),  # absl, unknown flag
    (["train.py", "--flagfile=flags/dcgan.cfg", "--loss=no_such_loss"], "no_such_loss"),  # TrainConfig.validate
    (["bench/seeds.py", "--no_such_flag=1"], "no_such_flag"),  # argparse
    (["bench/no_such_script.py"], "no_such_script"),
    (["bench/step_levers.py", "--flagfile=flags/dcgan.cfg", "--variants=base,nosuchlever"], "nosuchlever"),
    (["-m", "kgan_cli.export", "--run_dir=runs/dcgan", "stray"], "stray"),  # a kgan_cli main's own check
    (["bench/profile_step.py", "--flagfile=flags/dcgan.cfg", "--loss=no_such_loss"], "no_such_loss"),  # its config
], ids=["absl", "config", "argparse", "missing_script", "validator", "positional", "bench_config"])
def test_the_check_fails_a_command_that_would_fail(args, expected):
    r = forkserver.run(CHECK, args, timeout=120)
    assert r.returncode != 0 and expected in r.stderr, (r.returncode, r.stderr[-2000:])


@pytest.mark.parametrize("target, args", sorted(COMMANDS),
                         ids=[f"{COMMANDS[c]}:{c[0]} {' '.join(c[1])}"[:120] for c in sorted(COMMANDS)])
def test_a_documented_command_parses(target, args):
    r = _check(target, args)
    if "--helpfull" in args:  # prints the help and exits 0 (absl alone exits 1)
        assert "--output_dir" in r.stdout, r.stderr[-2000:]
    assert r.returncode == 0, f"{COMMANDS[(target, args)]}: {target} {' '.join(args)}\n{r.stderr[-2000:]}"


def test_a_script_that_parses_nothing_fails_the_check(tmp_path):
    script = tmp_path / "no_parser.py"
    script.write_text("import sys\nprint(sys.argv)\n")
    r = forkserver.run(CHECK, [script, "--anything"], timeout=120)
    assert r.returncode == 2 and "without parsing its arguments" in r.stderr, (r.returncode, r.stderr[-2000:])
