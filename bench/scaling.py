"""How DCGAN training should scale over workers, computed (not measured) from the networks themselves.

    python bench/scaling.py                       # prints Markdown tables, writes bench/results/scaling.json
    python bench/scaling.py --gbps=100 --device_tflops=20

From the TF-tutorial DCGAN that `flags/dcgan.cfg` trains:

- parameters and gradient bytes per training step (one D update + one G update, float32 gradients,
  each all-reduced once);
- FLOPs per image of a training step, counted layer by layer (Dense 2*in*out, Conv2D
  2*Ho*Wo*k*k*Cin*Cout, Conv2DTranspose 2*Hi*Wi*k*k*Cin*Cout; a backward pass costs 2 forwards).
  A D update runs G forward, D forward+backward on real and fake; a G update runs G and D forward
  and backward: about 4 G-forwards + 9 D-forwards per image;
- ring all-reduce time on the network: 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency per
  all-reduce (two all-reduces per step);
- compute time per step on one worker = per-worker batch * FLOPs per image / effective FLOP/s.
  Two devices: this CPU, at the rate bench/throughput.py measured (bench/results/throughput.json,
  or --cpu_images_per_s), and a GPU at --device_tflops effective (an assumption, stated).

No overlap of communication with compute is assumed (Keras all-reduces after the backward pass),
so a step takes compute + all-reduce, and N workers at a fixed per-worker batch give a speedup of
N * compute / (compute + all-reduce). Scaling stops paying when the all-reduce takes as long as the
compute: below that per-worker batch, adding a worker buys less than half a worker.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))


def forward_flops(model):
    """Multiply-adds * 2 of one image through `model` (Dense, Conv2D, Conv2DTranspose layers)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, _ = layer.input.shape
            kh, kw, cout, cin = layer.kernel.shape
            total += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            kh, kw, cin, cout = layer.kernel.shape
            total += 2 * h * w * kh * kw * cin * cout
    return int(total)


def allreduce_seconds(nbytes, workers, gbps, latency_s):
    if workers == 1:
        return 0.0
    return 2 * (workers - 1) / workers * nbytes / (gbps * 1e9 / 8) + 2 * (workers - 1) * latency_s


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gbps", type=float, default=25.0, help="network bandwidth per worker, Gbit/s")
    p.add_argument("--latency_us", type=float, default=50.0, help="per-hop latency of one ring step, microseconds")
    p.add_argument("--device_tflops", type=float, default=10.0,
                   help="assumed effective TFLOP/s of one GPU worker on these small convolutions")
    p.add_argument("--cpu_images_per_s", type=float, default=None,
                   help="training images/s of one CPU worker (default: bench/results/throughput.json)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "scaling.json"))
    args = p.parse_args()

    import kgan

    G = kgan.nets.dcgan_generator(latent_dim=100)
    D = kgan.nets.dcgan_discriminator()
    g_params, d_params = G.count_params(), D.count_params()
    g_trainable = sum(int(v.numpy().size) for v in G.trainable_variables)
    d_trainable = sum(int(v.numpy().size) for v in D.trainable_variables)
    grad_bytes = 4 * (g_trainable + d_trainable)
    g_f, d_f = forward_flops(G), forward_flops(D)
    step_flops = 4 * g_f + 9 * d_f

    cpu_rate = args.cpu_images_per_s
    source = "--cpu_images_per_s"
    if cpu_rate is None:
        path = os.path.join(HERE, "results", "throughput.json")
        if os.path.exists(path):
            with open(path) as f:
                cpu_rate = json.load(f)["images_per_s"]["kgan"]
            source = "bench/results/throughput.json (bench/throughput.py)"
        else:
            cpu_rate, source = 650.0, "default 650 images/s (run bench/throughput.py to measure)"
    devices = {
        "this CPU (2 cores)": cpu_rate * step_flops,
        f"GPU at {args.device_tflops:g} TFLOP/s effective (assumed)": args.device_tflops * 1e12,
    }
    latency = args.latency_us * 1e-6
    per_step_allreduce = {n: 2 * allreduce_seconds(grad_bytes / 2, n, args.gbps, latency) for n in (2, 4, 8, 16, 32)}

    print(f"Generator: {g_params:,} parameters ({g_trainable:,} trainable); discriminator: {d_params:,} "
          f"({d_trainable:,} trainable).")
    print(f"Gradient bytes all-reduced per training step: {grad_bytes / 1e6:.2f} MB (float32).")
    print(f"Forward FLOPs per image: G {g_f / 1e6:.1f} M, D {d_f / 1e6:.1f} M; training step "
          f"(4 G + 9 D forwards): {step_flops / 1e9:.3f} GFLOP per image.")
    print(f"CPU worker: {cpu_rate:.0f} images/s from {source} = {cpu_rate * step_flops / 1e9:.0f} GFLOP/s effective.")
    print(f"Network: {args.gbps:g} Gb/s, {args.latency_us:g} us per ring hop.\n")
    print("| workers | all-reduce per step (ms) |")
    print("| --- | --- |")
    for n, t in per_step_allreduce.items():
        print(f"| {n} | {t * 1e3:.2f} |")

    result = {"g_params": g_params, "d_params": d_params, "grad_bytes": grad_bytes, "g_forward_flops": g_f,
              "d_forward_flops": d_f, "step_flops_per_image": step_flops, "cpu_images_per_s": cpu_rate,
              "gbps": args.gbps, "latency_us": args.latency_us, "devices": {}}
    for name, flops in devices.items():
        print(f"\n**{name}**: speedup of N workers over one, at a fixed per-worker batch\n")
        print("| per-worker batch | compute per step (ms) | " + " | ".join(f"{n} workers" for n in per_step_allreduce)
              + " |")
        print("| --- | --- | " + " | ".join("---" for _ in per_step_allreduce) + " |")
        rows = []
        for b in (16, 32, 64, 128, 256):
            compute = b * step_flops / flops
            speedups = {n: n * compute / (compute + t) for n, t in per_step_allreduce.items()}
            rows.append({"batch": b, "compute_s": compute, "speedup": speedups})
            print(f"| {b} | {compute * 1e3:.1f} | " + " | ".join(f"{s:.1f}x" for s in speedups.values()) + " |")
        # Break-even: the per-worker batch whose compute equals the all-reduce time.
        breakeven = {n: t * flops / step_flops for n, t in per_step_allreduce.items()}
        print("\nper-worker batch below which the all-reduce outweighs the compute: "
              + ", ".join(f"{n} workers: {b:.0f}" for n, b in breakeven.items()))
        result["devices"][name] = {"flops_per_s": flops, "rows": rows, "breakeven_batch": breakeven}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
