"""The machine a benchmark ran on, in one line: `python bench/machine.py`.

This VM's host CPU has changed between sessions (an AMD EPYC with AVX512-BF16 and no AMX until at least
2026-12-02; an Intel Xeon with AMX on 2026-12-05), and with it the speed of a step and of bfloat16 most of
all. Every benchmark prints this line first, so a figure can be matched to its CPU.
"""

import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kgan_cli.common import cpu_model_and_flags  # noqa: E402

# CPU flags that change which kernels oneDNN picks (bfloat16 and int8 above all).
FLAGS_OF_NOTE = ("avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8")


def describe():
    """E.g. 'Intel(R) Xeon(R) Processor, 2 cores; avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_int8'."""
    model, cpu_flags = cpu_model_and_flags()
    model, cpu_flags = model or platform.processor() or platform.machine(), cpu_flags or set()
    noted = " ".join(flag for flag in FLAGS_OF_NOTE if flag in cpu_flags) or "none of " + " ".join(FLAGS_OF_NOTE)
    return f"{model}, {os.cpu_count()} cores; {noted}"


if __name__ == "__main__":
    print(describe())
