"""Settings read when a process starts, side by side: `bench/step_levers.py` in a fresh process per setting, in
interleaved rounds.

    python bench/env_ab.py --rounds=4 \\
        --env=default: --env=fpmath_bf16:ONEDNN_DEFAULT_FPMATH_MODE=BF16 --env=no_onednn:TF_ENABLE_ONEDNN_OPTS=0 \\
        -- --flagfile=flags/dcgan.cfg --data_dir=../shared/data/mnist --variants=base --rounds=2 --steps=60

Some levers cannot change inside a process: oneDNN reads `ONEDNN_DEFAULT_FPMATH_MODE` (`BF16` lets it compute
float32 convolutions and matmuls in bfloat16, on AMX where the CPU has it) when it makes its first primitive,
TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` (0: its own Eigen kernels instead of oneDNN's) at import, and its
thread pools (`TF_NUM_INTRAOP_THREADS`, `TF_NUM_INTEROP_THREADS`) when the runtime starts. `step_levers.py`
compares variants inside one process; this runs it once per `--env` setting per round, the settings in turn
(the order rotates each round, so no setting always runs first), so every setting sees the same drift of this
VM, and reports each setting's images/s per variant (median over rounds) and its ratio to the first setting
(the median of per-round ratios, with their range).

Each `--env` is `name:VAR=value[,VAR=value...]` (`name:` alone: the environment as it is; a value may hold
commas, as in `KMP_AFFINITY=granularity=fine,compact`: a comma starts a new variable only before `NAME=`). The arguments after
`--` go to step_levers.py. A setting whose process fails stops the benchmark with that process's last lines,
exit code 1. Nothing is timed in the test suite; this is a benchmark.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROW = re.compile(r"^\| (\S+) \| (\d+) \(")


def _setting(text):
    name, sep, assignments = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--env={text!r}: expected name:VAR=value[,VAR=value...] or name:")
    env = {}
    for item in filter(None, re.split(r",(?=[A-Za-z_][A-Za-z0-9_]*=)", assignments)):
        var, eq, value = item.partition("=")
        if not eq or not var:
            raise argparse.ArgumentTypeError(f"--env={text!r}: {item!r} is not VAR=value")
        env[var] = value
    return name, env


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def main():
    import machine

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", type=_setting, action="append", required=True,
                   help="name:VAR=value[,VAR=value...]; the first is the baseline (repeat for each setting).")
    p.add_argument("--rounds", type=_positive, default=4, help="Interleaved rounds (each runs every setting once).")
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- then step_levers.py's arguments.")
    opts = p.parse_args()
    names = [name for name, _ in opts.env]
    if len(set(names)) != len(names):
        p.error(f"--env names must differ: {names}")
    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args
    print("machine:", machine.describe(), flush=True)

    rates = {name: {} for name in names}  # name: {variant: [images/s per round]}
    for r in range(opts.rounds):
        for name, env in opts.env[r % len(opts.env):] + opts.env[:r % len(opts.env)]:
            out = subprocess.run([sys.executable, os.path.join(HERE, "step_levers.py"), *args],
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
                                 capture_output=True, text=True)
            rows = {m.group(1): float(m.group(2)) for m in map(ROW.match, out.stdout.splitlines()) if m}
            if out.returncode or not rows:
                tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-5:])
                what = f"failed (exit {out.returncode})" if out.returncode else "printed no result table"
                sys.exit(f"env_ab.py: step_levers.py under {name} {what}; its last lines:\n{tail}")
            for variant, rate in rows.items():
                rates[name].setdefault(variant, []).append(rate)
        print(f"round {r + 1}: " + "; ".join(
            f"{name} " + ", ".join(f"{v} {x[-1]:.0f}" for v, x in rates[name].items()) for name in names) + " img/s",
              flush=True)

    base = names[0]
    print(f"\n{opts.rounds} interleaved rounds, one step_levers.py process per setting per round "
          f"({' '.join(args)}); ratio = median of per-round ratios to {base}\n")
    print("| setting | environment | variant | images/s (median, range) | ratio (median, per-round range) |")
    print("| --- | --- | --- | --- | --- |")
    for name, env in opts.env:
        for variant, v in rates[name].items():
            ratios = [a / b for a, b in zip(v, rates[base][variant]) if b > 0]
            shown = ", ".join(f"{k}={x}" for k, x in env.items()) or "as it is"
            ratio = (f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "n/a")
            print(f"| {name} | {shown} | {variant} | {statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f}) | "
                  f"{ratio} |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
