"""The test suite's time, this checkout against another commit, side by side in interleaved rounds.

    python bench/suite_ab.py --base=f1269aa tests/test_distribute.py tests/test_cli.py   # some files
    python bench/suite_ab.py --base=HEAD~3 --rounds=2                                   # the whole suite

Checks out `--base` into a temporary git worktree (with `../shared` linked beside it, where the tests
look for the MNIST digits), then runs `python -m pytest -q FILES` (pytest.ini's options: one process per
core) alternately in the base and in this checkout, `--rounds` times each, base first. For every run it
records the wall time and the CPU-seconds of pytest and everything it started (`getrusage` of the
children); it prints each run as it ends, then a table and the median of the per-round ratios
(this checkout / base). A run that fails is reported and makes the exit code 1: a faster suite that
fails proves nothing. The worktree is removed at the end.

Each side imports its own `kgan` and `tests` (pytest puts the checkout's root first on `sys.path`), with
this interpreter and its installed packages.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_suite(checkout, files):
    """(wall s, CPU s, passed, the last line pytest printed) of `python -m pytest -q files` in `checkout`."""
    cpu, start = _children_cpu(), time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files], cwd=checkout,
                       capture_output=True, text=True)
    wall, cpu = time.monotonic() - start, _children_cpu() - cpu
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    return wall, cpu, r.returncode == 0, lines[-1] if lines else r.stderr[-300:]


def main():
    import machine

    print("machine:", machine.describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="test files or directories (default: the whole suite)")
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 1)")
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"),
                        help="the shared data directory the tests expect beside the checkout")
    opts = parser.parse_args()
    if opts.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {opts.rounds}")
    rev = subprocess.run(["git", "rev-parse", "--verify", "--quiet", opts.base + "^{commit}"], cwd=REPO,
                         capture_output=True, text=True)
    if rev.returncode != 0:
        parser.error(f"--base={opts.base} is not a commit of {REPO}")
    with tempfile.TemporaryDirectory(prefix="kgan-suite-ab-") as tmp:
        base = os.path.join(tmp, "kgan")
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", base, rev.stdout.strip()], cwd=REPO,
                       check=True)
        try:
            os.symlink(os.path.abspath(opts.shared), os.path.join(tmp, "shared"))
            runs, failed = [], False
            for r in range(1, opts.rounds + 1):
                for side, checkout in (("base", base), ("this", REPO)):
                    wall, cpu, ok, last = run_suite(checkout, opts.files)
                    failed |= not ok
                    runs.append((r, side, wall, cpu))
                    print(f"round {r} {side}: {wall:.1f} s, {cpu:.0f} CPU-s, {last}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", base], cwd=REPO)
    by = {(r, side): (wall, cpu) for r, side, wall, cpu in runs}
    print("\n| round | base s | this s | ratio | base CPU-s | this CPU-s | ratio |\n| --- | --- | --- | --- | --- | --- | --- |")
    walls, cpus = [], []
    for r in range(1, opts.rounds + 1):
        (bw, bc), (tw, tc) = by[(r, "base")], by[(r, "this")]
        walls.append(tw / bw)
        cpus.append(tc / bc)
        print(f"| {r} | {bw:.1f} | {tw:.1f} | {tw / bw:.2f} | {bc:.0f} | {tc:.0f} | {tc / bc:.2f} |")
    print(f"\nmedian per-round ratio, this / {opts.base}: wall {statistics.median(walls):.2f}, "
          f"CPU {statistics.median(cpus):.2f}")
    if failed:
        print("some runs failed: see their last lines above", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
