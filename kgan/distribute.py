"""Picking a `tf.distribute` strategy by name.

`make_strategy("auto" | "default" | "mirrored", cpu_replicas=N)`:

- `default`: TensorFlow's default (one device).
- `mirrored`: `MirroredStrategy` over all GPUs, or over the CPU split into
  `cpu_replicas` logical devices when there is no GPU (how multi-replica code is
  tested on a CPU-only machine).
- `auto`: `mirrored` when more than one GPU is visible or `cpu_replicas > 1`,
  else `default`.
"""

import logging

import tensorflow as tf

from kgan.errors import ConfigError

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored")


def split_cpu(num_devices):
    """Splits the first physical CPU into `num_devices` logical devices.

    Must run before TensorFlow initializes its devices (before any op runs).
    """
    if isinstance(num_devices, bool) or not isinstance(num_devices, int) or num_devices < 1:
        raise ConfigError(f"cpu_replicas must be an integer >= 1, got {num_devices!r}")
    if num_devices == 1:
        return  # nothing to split; the default single device is used
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == num_devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as e:
        have = len(tf.config.list_logical_devices("CPU"))
        raise ConfigError(
            f"cpu_replicas={num_devices} must be set before TensorFlow starts "
            f"(it already runs with {have} CPU device(s)): call make_strategy first"
        ) from e


def make_strategy(name="auto", cpu_replicas=1):
    """Returns the `tf.distribute.Strategy` called `name` (see module docstring)."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    split_cpu(cpu_replicas)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 or cpu_replicas > 1 else "default"
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif gpus:
        strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
    else:
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(cpus)
    log.info("strategy: %s with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


def check_global_batch(batch_size, strategy):
    """Raises ConfigError unless `batch_size` splits evenly over the replicas."""
    n = strategy.num_replicas_in_sync
    if batch_size % n:
        raise ConfigError(
            f"batch_size={batch_size} is not divisible by the {n} replicas: use a multiple of {n}"
        )
