"""kgan's command line: one module per command, each with a `main()` (setup.py's console scripts).

    kgan-train     kgan_cli.train      train a GAN (python train.py in a clone)
    kgan-evaluate  kgan_cli.evaluate   score a run's samples
    kgan-export    kgan_cli.export     export a run's generator for serving
    kgan-client    kgan_cli.client     query an export (TF Serving REST or TFLite) for a PNG grid
    kgan-launch    kgan_cli.launch     local multi-worker training
    kgan-generate  kgan_cli.generate   a run's samples (PNG folder / .npz), truncation, interpolation GIFs

`kgan_cli.common` holds what they share. The package lives outside `kgan/` so
the library stays free of command-line policy; importing it imports nothing else.

Importing it sets one process default before TensorFlow starts (`enable_onednn`): TensorFlow's oneDNN kernels
on every x86-64 CPU, where TF 2.21 turns them on only for CPUs with AVX-512 VNNI, AVX512-BF16 or AMX.
"""

import os
import platform

ONEDNN_MACHINES = ("x86_64", "amd64")


def enable_onednn(environ=None, machine=None):
    """Sets `TF_ENABLE_ONEDNN_OPTS=1` on an x86-64 machine unless it is set; returns whether it set it.

    TensorFlow reads the variable once, when it is imported, and when it is unset TF 2.21 uses oneDNN's kernels
    only on CPUs with AVX-512 VNNI, AVX512-BF16 or AMX: an AVX2 CPU (an AMD EPYC without AVX-512, 2026-12-07) got
    Eigen's, and `flags/dcgan.cfg`'s step made 0.70x the images/s it makes with oneDNN's (README "oneDNN's kernels
    on every x86-64 CPU"). `TF_ENABLE_ONEDNN_OPTS=0` keeps Eigen's kernels; other machines (aarch64) are left as
    TensorFlow sets them.

    Example:

    >>> env = {}
    >>> enable_onednn(env, machine="x86_64"), env
    (True, {'TF_ENABLE_ONEDNN_OPTS': '1'})
    >>> enable_onednn({"TF_ENABLE_ONEDNN_OPTS": "0"}, machine="x86_64")
    False
    >>> enable_onednn({}, machine="aarch64")
    False
    """
    environ = os.environ if environ is None else environ
    machine = platform.machine() if machine is None else machine
    if machine.lower() not in ONEDNN_MACHINES or "TF_ENABLE_ONEDNN_OPTS" in environ:
        return False
    environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    return True


enable_onednn()
