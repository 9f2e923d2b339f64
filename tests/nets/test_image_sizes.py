"""DCGAN networks for any power-of-two multiple of a small base: 28, 32, 64, 128 px, 1 or 3 channels.

The MNIST networks must not change: every flagfile in flags/ builds exactly the
layers and parameter counts recorded in flagfile_networks.json (written from the
networks before they learned other sizes). One record changed since: the projection discriminator's
`keras.layers.Dot(axes=1)` became `kgan.nets.cdcgan.RowDot` (2026-12-07), the same row-by-row dot product
without a batched matrix multiply.

A new MNIST flagfile is recorded with `KGAN_RECORD=1 python -m pytest tests/nets/test_image_sizes.py -n 0 -k
recorded_flagfiles` (`record_flagfiles`): it adds the records of flagfiles the JSON lacks and drops those of deleted
ones, never rewriting an existing record, and skips; review and commit the JSON.
"""

import dataclasses
import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import nets
from kgan.errors import ConfigError
from kgan.nets.dcgan import default_filters, doublings

from ..conftest import eagerly

REPO = pathlib.Path(__file__).resolve().parents[2]
RECORD_FILE = pathlib.Path(__file__).parent / "flagfile_networks.json"
RECORDED = json.loads(RECORD_FILE.read_text())
SIZES = [28, 32, 64, 128]


def _config_module():
    try:
        from kgan import config  # the target layout (issue 15)

        return config, __import__("kgan.training", fromlist=["build_gan"])
    except ImportError:
        from kgan import train

        return train, train


def _parse_flagfile(path, out=None):
    """{flag: text} of a flagfile, following nested --flagfile lines (later lines win)."""
    out = {} if out is None else out
    for line in (REPO / path).read_text().splitlines():
        line = line.strip()
        if not line.startswith("--"):
            continue
        key, _, value = line[2:].partition("=")
        if key == "flagfile":
            _parse_flagfile(value, out)
        else:
            out[key] = value
    return out


def _config(flagfile):
    config_mod, _ = _config_module()
    types = {f.name: str(f.type) for f in dataclasses.fields(config_mod.TrainConfig)}
    kwargs = {}
    for key, value in _parse_flagfile(flagfile).items():
        if key not in types and key.startswith("no") and key[2:] in types:
            kwargs[key[2:]] = False
            continue
        t = types[key]
        if "bool" in t:
            kwargs[key] = value in ("", "true", "True", "1")
        elif "tuple" in t:
            kwargs[key] = tuple(int(v) for v in value.split(","))
        elif "float" in t:
            kwargs[key] = float(value)
        elif "int" in t:
            kwargs[key] = int(value)
        else:
            kwargs[key] = value
    return config_mod.TrainConfig(**kwargs)


def _fingerprint(model):
    out = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") and not isinstance(layer.output, list) \
            else None
        out.append(str((layer.__class__.__name__, shape, layer.count_params())))
    return out


def _networks(flagfile):
    """The record of what `flags/<flagfile>` builds for 28x28x1 images: parameter counts and layers of G and D."""
    _, training = _config_module()
    keras.utils.set_random_seed(0)
    gan = training.build_gan(_config(f"flags/{flagfile}"), (28, 28, 1))
    return {"g": gan.generator.count_params(), "d": gan.discriminator.count_params(),
            "gl": _fingerprint(gan.generator), "dl": _fingerprint(gan.discriminator)}


def _mnist_flagfiles():
    """The flagfiles whose networks are recorded: all of flags/*.cfg but the RGB ones (folder*.cfg, tested below)."""
    return {p.name for p in (REPO / "flags").glob("*.cfg") if not p.name.startswith("folder")}


def record_flagfiles(flagfiles, recorded, path):
    """Writes `path`: `recorded` with a record added for each of `flagfiles` it lacks, and those not in `flagfiles`
    dropped. An existing record is never rewritten (that would bless a changed network). Returns (added, dropped)."""
    added = sorted(set(flagfiles) - set(recorded))
    dropped = sorted(set(recorded) - set(flagfiles))
    out = {name: record for name, record in recorded.items() if name not in dropped}
    out.update((name, _networks(name)) for name in added)
    pathlib.Path(path).write_text(json.dumps(out, indent=1) + "\n")
    return added, dropped


@pytest.mark.parametrize("flagfile", sorted(RECORDED))
def test_every_flagfile_builds_the_networks_it_built_before(flagfile):
    got, want = _networks(flagfile), RECORDED[flagfile]
    assert got["g"] == want["g"]
    assert got["d"] == want["d"]
    assert got["gl"] == want["gl"]
    assert got["dl"] == want["dl"]


def test_recorded_flagfiles_are_all_the_mnist_flagfiles():
    mnist = _mnist_flagfiles()
    if os.environ.get("KGAN_RECORD") == "1":
        added, dropped = record_flagfiles(mnist, RECORDED, RECORD_FILE)
        pytest.skip(f"KGAN_RECORD=1: recorded {added or 'nothing'}, dropped {dropped or 'nothing'} in {RECORD_FILE}: "
                    "review and commit it")
    unrecorded, gone = sorted(mnist - set(RECORDED)), sorted(set(RECORDED) - mnist)
    record = (f"KGAN_RECORD=1 python -m pytest {pathlib.Path(__file__).relative_to(REPO)} -n 0 -k recorded_flagfiles "
              f"(it keeps the existing records), then commit {RECORD_FILE.relative_to(REPO)}")
    assert not unrecorded, (f"{RECORD_FILE.name} does not record the networks of flags/{', flags/'.join(unrecorded)} "
                            "(every MNIST flagfile's are, so that a change to them is caught; an RGB flagfile is "
                            f"named folder*.cfg): record them with {record}")
    assert not gone, (f"{RECORD_FILE.name} records {', '.join(gone)}, which flags/ no longer holds: drop the records "
                      f"with {record}")


def test_kgan_record_adds_new_flagfiles_keeps_and_drops_records(tmp_path):
    """KGAN_RECORD=1 writes what the test above compares against: a flagfile recorded anew gets its record back."""
    path = tmp_path / "networks.json"
    old = {name: RECORDED[name] for name in RECORDED if name != "gan.cfg"}
    old["deleted.cfg"] = RECORDED["gan.cfg"]
    assert record_flagfiles([*RECORDED], old, path) == (["gan.cfg"], ["deleted.cfg"])
    written = json.loads(path.read_text())
    assert written == RECORDED and list(written)[:-1] == [name for name in RECORDED if name != "gan.cfg"]
    assert path.read_text() == json.dumps(written, indent=1) + "\n"


def test_default_widths_follow_the_size():
    assert default_filters((28, 28, 1)) == ((256, 128, 64), (64, 128))  # the TF tutorial
    assert default_filters((32, 32, 3)) == ((256, 128, 64), (64, 128, 256))
    assert default_filters((64, 64, 3)) == ((512, 256, 128, 64), (64, 128, 256, 512))  # the DCGAN paper
    assert default_filters((128, 128, 3)) == ((512, 512, 256, 128, 64), (64, 128, 256, 512, 512))
    assert doublings((28, 28, 1)) == (2, (7, 7))
    assert doublings((64, 32, 3)) == (3, (8, 4))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_shapes_range_and_one_stage_per_doubling(size, channels):
    shape = (size, size, channels)
    G = nets.dcgan_generator(latent_dim=16, image_shape=shape)
    D = nets.dcgan_discriminator(image_shape=shape)
    images = G(keras.random.normal((2, 16), seed=1), training=False)
    assert images.shape == (2, *shape)
    assert float(keras.ops.max(keras.ops.abs(images))) <= 1.0
    assert D(images).shape == (2, 1)
    n, base = doublings(shape)
    assert G.get_layer(index=4).output.shape[1:3] == base  # the dense projection's grid
    transposed = [l for l in G.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert sum(l.strides == (2, 2) for l in transposed) == n
    convs = [l for l in D.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == n and convs[-1].output.shape[1:3] == base
    # The conditional family scales the same way.
    cG = nets.cdcgan_generator(latent_dim=16, num_classes=3, image_shape=shape, filters=(32, 16, 8, 8, 8)[: n + 1])
    cD = nets.cdcgan_discriminator(image_shape=shape, num_classes=3, filters=(8,) * n)
    labels = keras.ops.array([0, 2], "int32")
    fake = cG([keras.random.normal((2, 16), seed=1), labels])
    assert fake.shape == (2, *shape) and cD([fake, labels]).shape == (2, 1)


def test_fewer_filters_start_from_a_larger_grid():
    # dcgan.cfg's three G widths on 64 px: 3 doublings from 8x8, no stride-1 layer.
    G = nets.dcgan_generator(latent_dim=8, image_shape=(64, 64, 3), filters=(32, 16, 8))
    assert G.get_layer(index=4).output.shape[1:] == (8, 8, 32)
    assert G.output.shape == (None, 64, 64, 3)
    # More widths than doublings: the extra ones keep the base resolution (the TF tutorial's shape).
    G = nets.dcgan_generator(latent_dim=8, image_shape=(32, 32, 1), filters=(32, 16, 16, 8, 8))
    strides = [l.strides for l in G.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert strides == [(1, 1), (1, 1), (2, 2), (2, 2), (2, 2)] and G.output.shape[1] == 32


@pytest.mark.parametrize("shape", [(30, 30, 1), (44, 44, 3), (6, 6, 1)])
def test_sizes_without_a_small_base_are_refused(shape):
    with pytest.raises(ConfigError, match="power-of-two multiple of a small base"):
        nets.dcgan_generator(image_shape=shape)


def _rgb_data(size, n=32, batch=16):
    x = np.random.RandomState(0).uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)


@pytest.mark.parametrize("size", [32, 64])
def test_two_replicas_make_the_same_update_as_one_device_in_rgb(size, two_replicas):
    n, _ = doublings((size, size, 3))

    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            G = nets.dcgan_generator(latent_dim=8, image_shape=(size, size, 3), filters=(16,) + (8,) * (n - 1),
                                     kernel_size=3, sync_batchnorm=True)
            D = nets.dcgan_discriminator(image_shape=(size, size, 3), filters=(4,) * n, kernel_size=3, dropout=0.0)
            gan = kgan.GAN(G, D, seed=3)
            gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss="non_saturating", d_steps=2)
        before = [v.numpy().copy() for v in G.weights + D.weights]
        gan.fit(_rgb_data(size), epochs=1, verbose=0)
        return before, [v.numpy() for v in G.weights + D.weights]

    with eagerly():
        before, w1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    _, w2 = train(two_replicas)
    moved = max(np.abs(a - b).max() for a, b in zip(before, w1))
    diff = max(np.abs(a - b).max() for a, b in zip(w1, w2))
    assert moved > 1e-3
    assert diff < max(1e-5, 5e-5 * moved), f"{size} px: 1 vs 2 replicas differ by {diff}"


def test_rgb_export_parity_saved_model_and_tflite(tmp_path):
    """One RGB size (64x64x3, a small G): the SavedModel and the float32 TFLite model draw G's images.

    (The int8 variants are checked on the trained MNIST generator in tests/export; an untrained
    generator has too little structure for their correlation checks to mean anything.)"""
    from kgan import export

    keras.utils.set_random_seed(0)
    G = nets.dcgan_generator(latent_dim=16, image_shape=(64, 64, 3), filters=(32, 16, 8, 8), kernel_size=4)
    D = nets.dcgan_discriminator(image_shape=(64, 64, 3), filters=(8, 8, 8, 8), kernel_size=4)
    gan = kgan.GAN(G, D)
    gan.compile()
    gan.fit(_rgb_data(64), epochs=1, verbose=0)  # moves the BatchNorm statistics off their initial values
    result = export.export_generator(gan, tmp_path, tflite_variants=("float32",))
    z = gan.latents(8, seed=4)
    want = gan.generate(8, latents=z)
    assert want.shape == (8, 64, 64, 3) and np.abs(want[0] - want[1]).max() > 1e-3
    served = tf.saved_model.load(result.saved_model).signatures["serving_default"](latent=tf.constant(z))["images"]
    assert served.shape == (8, 64, 64, 3)
    assert np.abs(served.numpy() - want).max() <= 1e-5
    from kgan.serving import TFLiteGenerator

    lite = TFLiteGenerator(result.tflite["float32"])(z)
    assert lite.shape == (8, 64, 64, 3)
    assert np.abs(lite - want).max() <= 1e-4
