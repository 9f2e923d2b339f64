"""Corruption fuzzing at scale: damage a finished run's files at random, rerun, and tabulate the outcomes.

    python bench/corruption.py                    # 60 cases on the mlp run + 20 on the clusters run
    python bench/corruption.py --cases=200 --cluster_cases=40 --first_seed=1000

Each case (see tests/corruption.py) copies a pristine tiny run, damages 1-3 files among
checkpoints/, config.json, clusters.npz and the export's version directory (truncation, a flipped
bit, zero length, removal), then reruns the training command or kgan_cli/export.py, and checks: no
traceback; exit 0 having resumed from (or exported) an intact checkpoint, or exit 2 with one
line and nothing changed; no intact file made worse. A case that breaks a rule is counted as a
failure with its reason; the script prints a Markdown table of outcomes per damaged file kind and
damage, and writes bench/results/corruption.json. Needs the real MNIST files (--data_dir).
"""

import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import kgan_cli  # noqa: E402,F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=60, help="cases on the mlp run (checkpoints, config.json, export)")
    p.add_argument("--cluster_cases", type=int, default=20, help="cases on the self-conditioned run, "
                   "clusters.npz always among the damaged files")
    p.add_argument("--first_seed", type=int, default=100, help="seeds first_seed, first_seed+1, ... "
                   "(the test suite uses 0-15 and, for clusters, 0-3)")
    p.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "mnist"))
    p.add_argument("--out", default=os.path.join(REPO, "bench", "results", "corruption.json"))
    args = p.parse_args()

    from tests import corruption
    from tests.test_faults import ForkServer

    server = ForkServer()
    results, failures = [], []
    start = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="kgan-corruption-") as root:
            for name, n, focus in (("mlp", args.cases, None), ("clusters", args.cluster_cases, "clusters.npz")):
                if not n:
                    continue
                pristine = corruption.make_pristine(server, root, args.data_dir, name, export=name == "mlp")
                for seed in range(args.first_seed, args.first_seed + n):
                    try:
                        r = corruption.run_case(server, pristine, root, seed, focus=focus)
                    except AssertionError as e:
                        reason = str(e).splitlines()[0]
                        r = dict(run=name, seed=seed, op="?", damaged=[], outcome="FAILED", detail=reason)
                        failures.append(r)
                    results.append(r)
                    print(f"{name} {seed}: {r['op']} {r['outcome']} {r['damaged']} {r['detail'][:100]}", flush=True)
    finally:
        server.close()
    ok = [r for r in results if r["outcome"] != "FAILED"]
    print()
    print(corruption.table(ok))
    print()
    print(f"{len(results)} cases: {corruption.summary(results)}; {len(failures)} failed; "
          f"{time.time() - start:.0f} s")
    for r in failures:
        print(f"FAILED {r['run']} seed {r['seed']}: {r['detail']}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"cases": len(results), "summary": json.loads(corruption.summary(results)),
                   "failures": failures, "results": results}, f, indent=1, default=str)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
