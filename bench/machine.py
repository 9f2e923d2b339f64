"""The machine a benchmark ran on, in one line: `python bench/machine.py`.

This VM's host CPU has changed between sessions (an AMD EPYC with AVX512-BF16 and no AMX until at least
2026-12-02; an Intel Xeon with AMX on 2026-12-05), and with it the speed of a step and of bfloat16 most of
all. Every benchmark prints this line first, so a figure can be matched to its CPU.
"""

import os
import platform

# CPU flags that change which kernels oneDNN picks (bfloat16 and int8 above all).
FLAGS_OF_NOTE = ("avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8")


def describe():
    """E.g. 'Intel(R) Xeon(R) Processor, 2 cores; avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_int8'."""
    model, cpu_flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    cpu_flags = set(value.split())
                    break
    except OSError:
        pass
    noted = " ".join(flag for flag in FLAGS_OF_NOTE if flag in cpu_flags) or "none of " + " ".join(FLAGS_OF_NOTE)
    return f"{model}, {os.cpu_count()} cores; {noted}"


if __name__ == "__main__":
    print(describe())
