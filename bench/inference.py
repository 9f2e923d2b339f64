"""Generator inference, side by side: the SavedModel called from Python vs TFLite float32/float16/int8.

    python bench/inference.py                 # ~4 minutes on 2 CPU cores
    python bench/inference.py --calls=1000    # tighter percentiles

The network is the TensorFlow DCGAN tutorial generator (`kgan.nets.dcgan_generator(latent_dim=100)`,
2.3M parameters, 28x28x1 output) with random initial weights: timing does not depend on training.
It is exported with `kgan.export.export_generator`: once with a dynamic batch (the default) and
with `fixed_batch=1` and `fixed_batch=64` (TFLite only); the fixed-batch rows use the batch-1 file
for latency and the batch-64 file for throughput. Each (runtime, threads) pair is measured in a
fresh subprocess, one after the other, so thread settings take effect (TensorFlow fixes its thread
pools when it starts) and runs do not compete:

- latency at batch 1: `--calls` timed calls (default 200) after `--warmup` untimed ones; median and
  p95 of the wall time of one call, input already in memory, output copied out to numpy;
- throughput at batch 64: images per second over `--throughput_seconds` of back-to-back calls.

Everything is measured `--rounds` times (default 2), round after round, and each configuration keeps
its best round: on a shared machine that drops the windows where another process held a core. The
1-minute load average before and after is recorded too.

"SavedModel" is `tf.saved_model.load(dir).signatures["serving_default"](latent=z)["images"].numpy()`
(what a Python service would do); "one thread" sets TF's intra- and inter-op pools to 1, "all
threads" keeps TF's defaults (all cores). TFLite runs with `ai_edge_litert`'s Interpreter
(XNNPACK) and `num_threads` 1 or all cores.

Writes `bench/results/inference.json` and prints a Markdown table.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VARIANTS = ("float32", "float16", "int8_dynamic", "int8_full")
LATENT_DIM = 100


# ------------------------------------------------------------------ workers (fresh processes)
def _time_calls(call, calls, warmup):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_ms": 1e3 * statistics.median(times), "p95_ms": 1e3 * times[int(0.95 * (len(times) - 1))],
            "calls": calls}


def _throughput(call, batch, seconds):
    call()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 1:
        call()
        n += 1
    return {"images_per_s": n * batch / (time.perf_counter() - start), "batch": batch, "calls": n}


def _worker(spec):
    import numpy as np

    threads = spec["threads"]
    rng = np.random.default_rng(0)
    z1 = rng.standard_normal((1, LATENT_DIM), dtype=np.float32)
    z64 = rng.standard_normal((64, LATENT_DIM), dtype=np.float32)
    if spec["runtime"] == "saved_model":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        fn = tf.saved_model.load(spec["path1"]).signatures["serving_default"]
        t1, t64 = tf.constant(z1), tf.constant(z64)

        def call1():
            return fn(latent=t1)["images"].numpy()

        def call64():
            return fn(latent=t64)["images"].numpy()
    else:
        from ai_edge_litert.interpreter import Interpreter

        def runner(path, z):
            it = Interpreter(model_path=path, num_threads=threads or os.cpu_count())
            inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
            if it.get_input_details()[0]["shape_signature"][0] == -1:
                it.resize_tensor_input(inp, list(z.shape))
            it.allocate_tensors()

            def call():
                it.set_tensor(inp, z)
                it.invoke()
                return it.get_tensor(out)

            return call

        call1, call64 = runner(spec["path1"], z1), runner(spec["path64"], z64)
    assert call1().shape == (1, 28, 28, 1) and call64().shape == (64, 28, 28, 1)
    return {"latency_b1": _time_calls(call1, spec["calls"], spec["warmup"]),
            "throughput_b64": _throughput(call64, 64, spec["throughput_seconds"])}


def _run_worker(spec):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)], env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"worker {spec['runtime']} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- driver
def _export(export_base):
    sys.path.insert(0, REPO)
    import kgan_cli  # noqa: F401  (before TensorFlow: oneDNN's kernels on x86-64, as the commands run)
    import keras

    from kgan import export, nets

    keras.utils.set_random_seed(0)
    generator = nets.dcgan_generator(latent_dim=LATENT_DIM)
    t = time.perf_counter()
    dynamic = export.export_generator(generator, export_base)
    export_s = time.perf_counter() - t
    fixed1 = export.export_generator(generator, export_base, formats=("tflite",), fixed_batch=1)
    fixed64 = export.export_generator(generator, export_base, formats=("tflite",), fixed_batch=64)
    return dynamic, fixed1, fixed64, generator.count_params(), export_s


def _versions():
    out = {"python": platform.python_version()}
    for mod, name in (("tensorflow", "tensorflow"), ("keras", "keras"), ("ai_edge_litert", "ai-edge-litert")):
        try:
            from importlib.metadata import version

            out[mod] = version(name if mod != "tensorflow" else _tf_dist())
        except Exception:  # noqa: BLE001
            out[mod] = None
    return out


def _tf_dist():
    from importlib.metadata import PackageNotFoundError, version

    for name in ("tensorflow", "tensorflow-cpu"):
        try:
            version(name)
            return name
        except PackageNotFoundError:
            pass
    return "tensorflow"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


ROWS = ["saved_model", *(f"{v}_dynamic_batch" for v in VARIANTS), *(f"{v}_fixed_batch" for v in VARIANTS)]


def _label(name):
    if name == "saved_model":
        return "SavedModel (TF, from Python)"
    variant = _variant(name)
    return f"TFLite {variant}, {name[len(variant) + 1:].replace('_', ' ')}"


def _variant(name):
    return next(v for v in VARIANTS if name.startswith(v + "_"))


def _table(results, sizes):
    f32 = sizes["float32"]
    rows = ["| runtime | file size | batch 1, 1 thread: median / p95 (ms) | batch 1, all threads: median / p95 (ms) "
            "| batch 64, 1 / all threads (images/s) |",
            "| --- | --- | --- | --- | --- |"]
    for name in ROWS:
        one, allt = results[name]["1"], results[name]["all"]
        if name == "saved_model":
            size_s = f"{sizes['saved_model'] / 1e6:.2f} MB"
        else:
            size = sizes[_variant(name)]
            size_s = f"{size / 1e6:.2f} MB ({100 * size / f32:.0f}%)"
        rows.append(
            f"| {_label(name)} | {size_s} "
            f"| {one['latency_b1']['median_ms']:.2f} / {one['latency_b1']['p95_ms']:.2f} "
            f"| {allt['latency_b1']['median_ms']:.2f} / {allt['latency_b1']['p95_ms']:.2f} "
            f"| {one['throughput_b64']['images_per_s']:,.0f} / {allt['throughput_b64']['images_per_s']:,.0f} |")
    return "\n".join(rows)


def main():
    import machine

    print("machine:", machine.describe(), flush=True)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=200, help="timed batch-1 calls per configuration and round (>= 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    p.add_argument("--throughput_seconds", type=float, default=1.5, help="seconds of batch-64 calls")
    p.add_argument("--rounds", type=int, default=2, help="measure everything this many times, keep each best")
    p.add_argument("--out", default=os.path.join(HERE, "results", "inference.json"))
    p.add_argument("--keep_export", default=None, help="export into this directory and keep it")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    if args.calls < 200:
        p.error("--calls must be >= 200")

    start = time.perf_counter()
    load_before = os.getloadavg()
    tmp = None
    if args.keep_export:
        export_base = args.keep_export
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kgan-bench-")
        export_base = tmp.name
    dynamic, fixed1, fixed64, params, export_s = _export(export_base)
    sizes = dict(dynamic.sizes)
    paths = {"saved_model": (dynamic.saved_model, dynamic.saved_model)}
    for v in VARIANTS:
        paths[f"{v}_dynamic_batch"] = (dynamic.tflite[v], dynamic.tflite[v])
        paths[f"{v}_fixed_batch"] = (fixed1.tflite[v], fixed64.tflite[v])
    cpus = os.cpu_count()
    # Rounds: every configuration once per round, rounds one after the other; each configuration
    # keeps its best round (lowest median latency, highest throughput). On a shared machine that
    # filters out the windows where something else held the cores.
    rounds = {name: {"1": [], "all": []} for name in ROWS}
    for r in range(args.rounds):
        for name in ROWS:
            for label, threads in (("1", 1), ("all", 0)):
                spec = {"runtime": "saved_model" if name == "saved_model" else "tflite", "path1": paths[name][0],
                        "path64": paths[name][1], "threads": threads, "calls": args.calls, "warmup": args.warmup,
                        "throughput_seconds": args.throughput_seconds}
                m = _run_worker(spec)
                rounds[name][label].append(m)
                print(f"  round {r + 1} {name:<26} threads={label:<3} batch 1 median "
                      f"{m['latency_b1']['median_ms']:.2f} ms, batch 64 "
                      f"{m['throughput_b64']['images_per_s']:,.0f} images/s", file=sys.stderr)
    results = {
        name: {label: {"latency_b1": min((m["latency_b1"] for m in ms), key=lambda x: x["median_ms"]),
                       "throughput_b64": max((m["throughput_b64"] for m in ms), key=lambda x: x["images_per_s"]),
                       "rounds": ms}
               for label, ms in by_threads.items()}
        for name, by_threads in rounds.items()}
    if tmp is not None:
        tmp.cleanup()

    def speedup(name):
        return {label: results["saved_model"][label]["latency_b1"]["median_ms"]
                / results[name][label]["latency_b1"]["median_ms"] for label in ("1", "all")}

    best = {label: max(speedup(n)[label] for n in ("float32_dynamic_batch", "float32_fixed_batch"))
            for label in ("1", "all")}
    goals = {
        "tflite_float32_batch1_speedup_vs_saved_model": {
            "dynamic_batch": speedup("float32_dynamic_batch"), "fixed_batch": speedup("float32_fixed_batch")},
        "tflite_float32_3x_lower_latency": {label: best[label] >= 3 for label in ("1", "all")},
        "int8_size_fraction_of_float32": {v: sizes[v] / sizes["float32"] for v in ("int8_dynamic", "int8_full")},
        "int8_at_most_30_percent": all(sizes[v] <= 0.3 * sizes["float32"] for v in ("int8_dynamic", "int8_full")),
    }
    table = _table(results, sizes)
    record = {
        "command": "python bench/inference.py " + " ".join(a for a in sys.argv[1:]),
        "network": f"kgan.nets.dcgan_generator(latent_dim={LATENT_DIM}) (TF DCGAN tutorial), random init, "
                   f"{params:,} parameters, output 28x28x1",
        "machine": {"cpus": cpus, "cpu": _cpu_name(), **_versions(),
                    # 1-minute load average: other processes competing for the cores skew the figures
                    "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]]},
        "settings": {"calls": args.calls, "warmup": args.warmup, "throughput_seconds": args.throughput_seconds,
                     "rounds": args.rounds, "all_threads": cpus},
        "export_seconds": export_s,
        "sizes_bytes": sizes,
        "results": results,
        "goals": goals,
        "table_markdown": table,
        "total_seconds": time.perf_counter() - start,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)
    print(table)
    print()
    for kind in ("dynamic_batch", "fixed_batch"):
        sp = goals["tflite_float32_batch1_speedup_vs_saved_model"][kind]
        print(f"TFLite float32 ({kind.replace('_', ' ')}) vs SavedModel at batch 1: {sp['1']:.1f}x lower latency "
              f"(1 thread), {sp['all']:.1f}x (all {cpus} threads)")
    met = goals["tflite_float32_3x_lower_latency"]
    print(f"goal >= 3x: 1 thread {'met' if met['1'] else 'NOT met'}, all threads {'met' if met['all'] else 'NOT met'}")
    print(f"int8 size: dynamic {100 * goals['int8_size_fraction_of_float32']['int8_dynamic']:.0f}%, full "
          f"{100 * goals['int8_size_fraction_of_float32']['int8_full']:.0f}% of float32; goal <= 30%: "
          f"{'met' if goals['int8_at_most_30_percent'] else 'NOT met'}")
    print(f"({record['total_seconds']:.0f} s; results in {os.path.relpath(args.out, REPO)})")


if __name__ == "__main__":
    main()
