"""The generator as a TF Serving SavedModel, written with Keras 3's `keras.export.ExportArchive`.

Signatures, all inference-only (`training=False`: BatchNorm uses its moving
averages, dropout is off):

- `serving_default`: input `latent` float32 `[batch, latent_dim]` -> output
  `images` float32 `[batch, H, W, C]` in [0, 1]. Batchable (TF Serving's
  `--enable_batching` merges requests along the batch axis).
- `generate`: scalar inputs `num_images` (int32), `seed` (int64) and
  optionally `truncation` (float32, default 1.0 = none) -> output `images`.
  It draws the latents itself, exactly as `GAN.latents(n, seed)` does
  (`keras.random.normal` = `tf.random.stateless_normal` with seed
  `[seed mod (2**31 - 2), 0]`), so the same seed gives the same images, here,
  in `GAN.generate(n, seed)` and in `latents(n, latent_dim, seed)` (also `kgan.export.latents`).
  `truncation` = psi in [0, 1] multiplies the latents by psi (component 0 kept
  for a self-conditioned generator), the same float32 product as
  `GAN.generate(..., truncation=psi)`. `num_images` outside [1, max_images]
  (1024 by default) or psi outside [0, 1] fails inside the graph with an
  `InvalidArgument` error (HTTP 400 from TF Serving) before anything is
  allocated. Scalar inputs have no batch axis: not batchable.
- `generate_uint8`: the inputs of `generate` -> `images` uint8 `[n, H, W, C]`
  (round half up of 255 x the float images: 1 byte per pixel, not 4).
- `generate_png`: the inputs of `generate` -> `png_bytes` string `[n]`, one PNG
  file per image. The name ends in `_bytes`, so TF Serving's REST API sends
  each as `{"b64": "..."}`.

The default of `truncation` is recorded in the SignatureDef (`defaults`), which
TF Serving (2.14 and later) applies when a request leaves the input out. Python's
`tf.saved_model.load(...).signatures[...]` does not apply it: pass
`truncation=tf.constant(1.0)` there.

A conditional generator (two inputs `[latent, label]`, e.g.
`kgan.nets.cdcgan_generator`) gets one more input in every signature:
`serving_default` takes `label` int32 `[batch]`, and the `generate*` ones a scalar
`label` int32: a class in [0, num_classes) for every image, or -1 to cycle the
classes 0, 1, ..., num_classes - 1 as `GAN.generate` does by default. A label
outside those values fails inside the graph with `InvalidArgument`.

The SavedModel holds only the generator's variables and TensorFlow ops: it
loads with `tf.saved_model.load` (or TF Serving) without kgan or Keras.
"""

import keras
import tensorflow as tf

from kgan import checks

SERVING_DEFAULT = "serving_default"
GENERATE = "generate"
GENERATE_UINT8 = "generate_uint8"
GENERATE_PNG = "generate_png"
SIGNATURES = (SERVING_DEFAULT, GENERATE, GENERATE_UINT8, GENERATE_PNG)
LATENT_INPUT = "latent"
LABEL_INPUT = "label"
TRUNCATION_INPUT = "truncation"
OUTPUT = "images"
PNG_OUTPUT = "png_bytes"  # TF Serving's REST API base64-encodes string outputs named *_bytes
MAX_IMAGES = 1024

# keras.random.normal(seed=int) on TensorFlow: seed [s, 0] as int64, then
# floormod(s, int32.max - 1) cast to int32 (keras/src/backend/tensorflow/random.py).
_SEED_MODULUS = 2**31 - 2


def stateless_latents(num_images, latent_dim, seed):
    """Latents `[num_images, latent_dim]` equal to `keras.random.normal(..., seed=seed)`; works in a graph.

    Example:

    >>> z = stateless_latents(4, 16, tf.constant(0, tf.int64))
    >>> z.shape
    TensorShape([4, 16])
    """
    seed = tf.cast(seed, tf.int64)
    pair = tf.stack([tf.math.floormod(seed, _SEED_MODULUS), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal(tf.stack([num_images, latent_dim]), seed=tf.cast(pair, tf.int32),
                                      dtype=tf.float32)


def latents(num_images, latent_dim, seed=0, max_images=None):
    """Latent vectors float32 `[num_images, latent_dim]`, the same `GAN.latents(num_images, seed)` draws.

    Raises `ConfigError` unless 1 <= num_images <= max_images (default 1024).

    Example:

    >>> latents(4, 100, seed=0).shape
    (4, 100)
    """
    max_images = MAX_IMAGES if max_images is None else int(max_images)
    checks.integer("num_images", num_images, min=1, max=max_images)
    checks.integer("seed", seed)
    return stateless_latents(int(num_images), int(latent_dim), int(seed)).numpy()


def to_unit_range(images):
    """Generator output in [-1, 1] to float32 images in [0, 1] (as `GAN.generate`)."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(images):
    """Float images in [0, 1] to uint8, round half up: the same float32 ops as `kgan.sampling.to_uint8`."""
    x = tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0)
    return tf.cast(tf.floor(x * 255.0 + 0.5), tf.uint8)


def truncate(latents, psi, keep=0):
    """`latents` with components `keep:` multiplied by `psi` (float32), as `kgan.sampling.truncate`."""
    psi = tf.cast(psi, tf.float32)
    if not keep:
        return latents * psi
    return tf.concat([latents[:, :keep], latents[:, keep:] * psi], axis=1)


def is_conditional(generator):
    """True for a generator that takes `[latent, label]` (two inputs)."""
    return len(getattr(generator, "inputs", None) or []) == 2


def build_archive(generator, max_images=MAX_IMAGES, num_classes=None):
    """An `ExportArchive` with the endpoints `SIGNATURES` of `generator`.

    `num_classes` is required for a conditional generator (two inputs).

    Example:

    ```python
    archive = build_archive(gan.generator)
    archive.write_out("/tmp/kgan/1", verbose=False)
    ```
    """
    from kgan.sampling import kept_components

    latent_dim = int(generator.inputs[0].shape[-1])
    max_images = int(max_images)
    conditional = is_conditional(generator)
    # A self-conditioned generator reads its cluster from component 0: truncation leaves it.
    keep = kept_components(generator)
    if conditional and (num_classes is None or int(num_classes) < 1):
        raise ValueError(f"a conditional generator needs num_classes >= 1, got {num_classes!r}")
    # No `archive.track(generator)`: the endpoints track the variables they use, and tracking the
    # model too would store every weight twice (its keras.Variable list beside the archive's own).
    archive = keras.export.ExportArchive()

    def check_labels(label, allow_cycle=False):
        low = -1 if allow_cycle else 0
        message = f"label must be in [{low}, {int(num_classes) - 1}]"
        checks = [
            tf.debugging.assert_greater_equal(label, low, message=message, name="label_in_range_low"),
            tf.debugging.assert_less(label, int(num_classes), message=message, name="label_in_range_high"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(label)

    def unit_images(latent, label=None):
        inputs = latent if label is None else [latent, label]
        return to_unit_range(generator(inputs, training=False))

    def encode(images, kind):
        if kind == GENERATE:
            return {OUTPUT: images}
        u8 = to_uint8(images)
        if kind == GENERATE_UINT8:
            return {OUTPUT: u8}
        return {PNG_OUTPUT: tf.map_fn(tf.io.encode_png, u8, fn_output_signature=tf.TensorSpec([], tf.string))}

    def check_num_images(num_images):
        n = tf.convert_to_tensor(num_images, tf.int32)
        message = f"num_images must be in [1, {max_images}]"
        checks = [
            tf.debugging.assert_greater_equal(n, 1, message=message, name="num_images_at_least_1"),
            tf.debugging.assert_less_equal(n, max_images, message=message, name="num_images_at_most_max"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(n)

    def latents(num_images, seed, truncation):
        n = check_num_images(num_images)
        psi = tf.convert_to_tensor(truncation, tf.float32)
        message = "truncation must be in [0, 1] (1 = none)"
        checks = [tf.debugging.assert_greater_equal(psi, 0.0, message=message, name="truncation_at_least_0"),
                  tf.debugging.assert_less_equal(psi, 1.0, message=message, name="truncation_at_most_1")]
        with tf.control_dependencies(checks):
            return n, truncate(stateless_latents(n, latent_dim, seed), psi, keep)

    latent_spec = tf.TensorSpec([None, latent_dim], tf.float32, name=LATENT_INPUT)
    gen_specs = [tf.TensorSpec([], tf.int32, name="num_images"), tf.TensorSpec([], tf.int64, name="seed")]
    psi_spec = tf.TensorSpec([], tf.float32, name=TRUNCATION_INPUT)
    label_spec = tf.TensorSpec([], tf.int32, name=LABEL_INPUT)
    # The Python default of `truncation` (a tensor) becomes the SignatureDef default TF Serving applies.
    if conditional:
        def serve(latent, label):
            return {OUTPUT: unit_images(latent, check_labels(label))}

        archive.add_endpoint(SERVING_DEFAULT, serve,
                             input_signature=[latent_spec, tf.TensorSpec([None], tf.int32, name=LABEL_INPUT)])
        def generate_fn(kind):  # one closure per output kind; `truncation` must be the only default
            def generate(num_images, seed, label, truncation=tf.constant(1.0)):
                n, z = latents(num_images, seed, truncation)
                label = check_labels(label, allow_cycle=True)
                labels = tf.where(label < 0, tf.range(n) % int(num_classes), tf.fill([n], label))
                return encode(unit_images(z, labels), kind)

            return generate

        for kind in (GENERATE, GENERATE_UINT8, GENERATE_PNG):
            archive.add_endpoint(kind, generate_fn(kind), input_signature=[*gen_specs, label_spec, psi_spec])
    else:
        def serve(latent):
            return {OUTPUT: unit_images(latent)}

        archive.add_endpoint(SERVING_DEFAULT, serve, input_signature=[latent_spec])
        def generate_fn(kind):
            def generate(num_images, seed, truncation=tf.constant(1.0)):
                _, z = latents(num_images, seed, truncation)
                return encode(unit_images(z), kind)

            return generate

        for kind in (GENERATE, GENERATE_UINT8, GENERATE_PNG):
            archive.add_endpoint(kind, generate_fn(kind), input_signature=[*gen_specs, psi_spec])
    return archive


def write(generator, path, max_images=MAX_IMAGES, num_classes=None):
    """Writes the SavedModel of `generator` (both signatures) to the directory `path`.

    Example:

    ```python
    write(gan.generator, "/tmp/kgan/1")
    tf.saved_model.load("/tmp/kgan/1").signatures["serving_default"](latent=z)["images"]
    ```
    """
    build_archive(generator, max_images, num_classes).write_out(str(path), verbose=False)
    return str(path)
