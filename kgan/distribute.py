"""Picking a `tf.distribute` strategy by name, and who writes what on a cluster.

`make_strategy("auto" | "default" | "mirrored" | "multi_worker" | "tpu", cpu_replicas=N)`:

- `default`: TensorFlow's default (one device).
- `mirrored`: `MirroredStrategy` over all GPUs, or over the CPU split into
  `cpu_replicas` logical devices when there is no GPU (how multi-replica code is
  tested on a CPU-only machine).
- `multi_worker`: `MultiWorkerMirroredStrategy` over every worker named in the
  `TF_CONFIG` environment variable (the standard cluster description that
  Kubernetes operators and Vertex AI set), each with its GPUs (one replica per
  GPU) or one CPU replica. The global batch is split over all replicas on all
  workers.
- `tpu`: `TPUStrategy` on the TPU named by `tpu` (a name or `grpc://` address;
  "" for a TPU VM or Colab). Written from TensorFlow's TPU guide; **not tested
  here** (no TPU on the CI machine).
- `auto`: `mirrored` when more than one GPU is visible or `cpu_replicas > 1`,
  else `default`.

On a cluster only the chief writes the run's outputs; `is_chief(strategy)` and
`worker_dir(workdir, strategy)` implement TensorFlow's multi-worker rule: every
worker runs the same checkpoint, guard and stopping callbacks (saving can involve
collectives), the others into a temporary directory of their own that is removed
after training (they draw no sample grids or plots: `kgan.training.default_callbacks`).

Example:

```python
strategy = kgan.distribute.make_strategy("multi_worker")  # TF_CONFIG names the cluster
with strategy.scope():
    gan = kgan.GAN(...)
    gan.compile(...)
gan.fit(kgan.data.load("mnist", batch_size=256), epochs=5)  # 256 split over all workers
```
"""

import json
import logging
import os

import tensorflow as tf

from kgan import checks
from kgan.errors import ConfigError

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
CONNECT_TIMEOUT_S = 120


def split_cpu(num_devices):
    """Splits the first physical CPU into `num_devices` logical devices.

    Must run before TensorFlow initializes its devices (before any op runs).
    """
    checks.integer("cpu_replicas", num_devices, min=1)
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


def parse_tf_config(text=None):
    """The `TF_CONFIG` JSON (default: the environment's), checked; raises ConfigError naming the problem.

    Example:

    >>> parse_tf_config('{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "worker", "index": 0}}')
    {'cluster': {'worker': ['127.0.0.1:2222']}, 'task': {'type': 'worker', 'index': 0}}
    """
    if text is None:
        text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError("strategy multi_worker needs the TF_CONFIG environment variable (the cluster and this "
                          "worker's task); set it, or start local workers with: python launch.py --workers=2 -- ...")
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}): expected "
                          '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}') from e
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not config["cluster"]:
        raise ConfigError('TF_CONFIG has no "cluster": expected {"cluster": {"worker": ["host:port", ...]}, ...}')
    for job, hosts in config["cluster"].items():
        if job not in ("chief", "worker", "evaluator", "ps"):
            raise ConfigError(f"TF_CONFIG cluster job {job!r} is unknown: expected chief, worker (or evaluator, ps)")
        if not isinstance(hosts, list) or not hosts or not all(
                isinstance(h, str) and h.rpartition(":")[2].isdigit() for h in hosts):
            raise ConfigError(f"TF_CONFIG cluster[{job!r}] must be a list of \"host:port\" strings, got {hosts!r}")
    if "ps" in config["cluster"]:
        raise ConfigError("TF_CONFIG names parameter servers (ps): kgan trains with MultiWorkerMirroredStrategy, "
                          "list the machines as chief/worker")
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in config["cluster"] \
            or not checks.is_int(task.get("index")) \
            or not 0 <= task["index"] < len(config["cluster"][task["type"]]):
        raise ConfigError(f"TF_CONFIG task {task!r} must name a job of the cluster and an index in it, "
                          'e.g. {"type": "worker", "index": 0}')
    return config


def _configure_coordination(config, timeout_s):
    """TF's own coordination-service settings for MultiWorkerMirroredStrategy, plus a register timeout.

    Without one a worker waits forever for a peer that never comes; with it the
    strategy fails after `timeout_s` (TF skips its own configuration when one is set).
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    cluster = config["cluster"]
    leader = "/job:chief/replica:0/task:0" if "chief" in cluster else "/job:worker/replica:0/task:0"
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ("chief", "worker") if job in cluster]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=leader, coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=int(timeout_s * 1000))


def _multi_worker(cpu_replicas, timeout_s):
    config = parse_tf_config()
    if cpu_replicas != 1:
        raise ConfigError(f"cpu_replicas={cpu_replicas} does not apply to strategy multi_worker: "
                          "MultiWorkerMirroredStrategy runs one replica per worker on CPU (one per GPU with GPUs); "
                          "start more workers instead")
    _configure_coordination(config, timeout_s)
    try:
        return _create_multi_worker(timeout_s)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.UnknownError) as e:
        task = config["task"]
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        workers = ", ".join(f"{job}:{h}" for job, hosts in config["cluster"].items() for h in hosts)
        raise ConfigError(
            f"worker {task['type']}:{task['index']} could not join the cluster ({workers}) within "
            f"{timeout_s:g} s ({first}): start every worker TF_CONFIG names, check the addresses and ports, "
            "or raise --connect_timeout") from e


def _create_multi_worker(timeout_s):
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=float(timeout_s))
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _tpu(tpu):
    # TensorFlow's TPU guide (https://www.tensorflow.org/guide/tpu); untested here: no TPU on this machine.
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name="auto", cpu_replicas=1, tpu="", timeout_s=CONNECT_TIMEOUT_S):
    """Returns the `tf.distribute.Strategy` called `name` (see module docstring).

    Example:

    >>> make_strategy("mirrored", cpu_replicas=2).num_replicas_in_sync
    2
    """
    checks.one_of("strategy", name, STRATEGIES)
    if cpu_replicas != 1 and name in ("default", "tpu"):  # it trained on one device, silently
        raise ConfigError(f"cpu_replicas={cpu_replicas} does not apply to strategy {name}: use strategy auto or "
                          "mirrored to train on that many CPU replicas")
    if tpu and name != "tpu":
        raise ConfigError(f"tpu={tpu!r} applies to strategy tpu only, not {name}: pass both, or neither")
    if name == "multi_worker":
        strategy = _multi_worker(cpu_replicas, timeout_s)
        log.info("strategy: MultiWorkerMirroredStrategy, task %s, %d replica(s) in all",
                 task_name(strategy), strategy.num_replicas_in_sync)
        return strategy
    if name == "tpu":
        return _tpu(tpu)
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


def _task(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, None, False
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type, resolver.task_id, has_chief


def task_name(strategy):
    """"worker:1" on a cluster, "" otherwise."""
    task_type, task_id, _ = _task(strategy)
    return f"{task_type}:{task_id}" if task_type else ""


def is_chief(strategy):
    """True unless `strategy` runs on a cluster and this process is not its chief.

    The chief is the `chief` task if the cluster has one, else worker 0 (TF's convention).
    """
    task_type, task_id, has_chief = _task(strategy)
    if task_type is None:
        return True
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def worker_dir(workdir, strategy):
    """Where this process writes: `workdir` on the chief, else `<workdir>/.worker-<type>-<id>` (temporary).

    Example:

    >>> worker_dir("runs/dcgan", tf.distribute.get_strategy())  # one process: it is the chief
    'runs/dcgan'

    On worker 1 of a cluster without a chief task it is `'runs/dcgan/.worker-worker-1'`.
    """
    if is_chief(strategy):
        return workdir
    task_type, task_id, _ = _task(strategy)
    return os.path.join(workdir, f".worker-{task_type}-{task_id}")


def check_steps_per_execution(steps, strategy=None, cpu_replicas=None):
    """Raises ConfigError for `steps_per_execution` > 1 on more than one replica (`strategy`'s, or `cpu_replicas`).

    Keras 3's loop of several steps per call fails inside TensorFlow under a `tf.distribute` strategy ("You must
    feed a value for placeholder tensor", keras-team/keras#19246, open; TF 2.21 and Keras 3.15, a plain
    `Sequential` model too), after a run's files are written: refused before.

    >>> check_steps_per_execution(4, cpu_replicas=2)
    Traceback (most recent call last):
    kgan.errors.ConfigError: steps_per_execution=4 on 2 replicas: Keras 3 cannot run several steps per call under a tf.distribute strategy (keras-team/keras#19246); use steps_per_execution=1 there
    """
    n = strategy.num_replicas_in_sync if strategy is not None else cpu_replicas
    if checks.is_int(steps) and steps > 1 and checks.is_int(n) and n > 1:
        raise ConfigError(f"steps_per_execution={steps} on {n} replicas: Keras 3 cannot run several steps per call "
                          "under a tf.distribute strategy (keras-team/keras#19246); use steps_per_execution=1 there")


def check_global_batch(batch_size, strategy=None, cpu_replicas=None):
    """Raises ConfigError unless `batch_size` splits evenly over the replicas.

    The replicas are `strategy`'s, or (before a strategy exists) the `cpu_replicas`
    a strategy will split the CPU into. Whether `batch_size` is a positive
    integer is `kgan.data.load`'s check.

    >>> check_global_batch(10, cpu_replicas=4)
    Traceback (most recent call last):
    kgan.errors.ConfigError: batch_size=10 is not divisible by cpu_replicas=4: use a multiple of 4
    """
    n = strategy.num_replicas_in_sync if strategy is not None else cpu_replicas
    if checks.is_int(batch_size) and checks.is_int(n) and n > 0 and batch_size % n:
        replicas = f"the {n} replicas" if strategy is not None else f"cpu_replicas={n}"
        raise ConfigError(f"batch_size={batch_size} is not divisible by {replicas}: use a multiple of {n}")
