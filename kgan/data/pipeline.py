"""The shared tf.data pipeline: cache, seeded shuffle, batch, scale to [-1, 1], prefetch."""

import tensorflow as tf

from kgan.errors import DataError


def _options(shard_policy):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = shard_policy
    return options


def without_autotune(ds):
    """`ds` with tf.data's autotuning off (options reach every dataset made from it).

    The autotuning thread sleeps in doubling periods (10 ms, 20 ms, ... up to a minute), and
    destroying an iterator waits for its current sleep to end. `fit` destroys one at every epoch's
    end and when it returns: measured on this 2-core CPU, up to 0.9 s lost at an epoch boundary
    (epochs of ~7 s) and a short `fit` rounded up to 10.24 s, 20.48 s or 40.96 s from its start
    (bench/throughput.py's rounds). Without it, `AUTOTUNE` parallelism is the number of cores and
    prefetching keeps a fixed buffer; the input pipeline stays far faster than training.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def from_arrays(images, labels=None):
    """An unbatched dataset of uint8 images (and int32 labels) held in memory; shards by DATA."""
    ds = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    return ds.with_options(_options(tf.data.experimental.AutoShardPolicy.DATA))


def finish(ds, num_examples, *, batch_size, shuffle=True, seed=0, cache=True, drop_remainder=True,
           shuffle_buffer=10_000):
    """Batches an unbatched dataset of uint8 (or float in [0, 255]) images and scales them to [-1, 1].

    `batch_size` is checked by `kgan.data.load`, the one caller.
    """
    if drop_remainder and num_examples is not None and batch_size > num_examples:
        raise DataError(f"batch_size={batch_size} is larger than the {num_examples} images available")
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(shuffle_buffer, num_examples or shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def scale(x):
        return tf.cast(x, tf.float32) / 127.5 - 1.0

    ds = ds.map(lambda *e: (scale(e[0]), *e[1:]) if len(e) > 1 else scale(e[0]),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return without_autotune(ds.prefetch(2))
