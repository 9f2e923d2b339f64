"""Versioned, atomic publishing: increasing versions, no temp dirs, failures leave nothing, bad arguments."""

import os

import pytest

from kgan import export
from kgan.errors import ConfigError

from .helpers import tree_hashes


def _export(gan, base, **kwargs):
    return export.export_generator(gan, base, formats=("saved_model",), **kwargs)


def test_versions_increase_and_never_overwrite(gan, tmp_path):
    base = tmp_path / "exports"
    assert [_export(gan, base).version for _ in range(2)] == [1, 2]
    first = tree_hashes(base / "kgan" / "1")
    (base / "kgan" / "7").mkdir()  # a version made by hand or by another exporter
    (base / "kgan" / "7" / "saved_model.pb").write_bytes(b"someone else's")
    (base / "kgan" / "9").write_text("a stray file named like a version")
    (base / "kgan" / "notes").mkdir()  # not a version: ignored
    r = _export(gan, base)
    assert r.version == 10 and r.version_dir == str(base / "kgan" / "10")
    assert export.versions(base / "kgan") == [1, 2, 7, 10]
    assert (base / "kgan" / "7" / "saved_model.pb").read_bytes() == b"someone else's"
    assert tree_hashes(base / "kgan" / "1") == first
    assert not [n for n in os.listdir(base) if n.startswith(export.TMP_PREFIX)]


def test_a_version_taken_during_the_export_is_skipped(gan, tmp_path, monkeypatch):
    """Another exporter publishes version 1 between our choice of number and our rename: we take 2."""
    base = tmp_path / "exports"
    real = export.publish._write_manifest
    raced = []

    def racing_write_manifest(tmp, version):
        if not raced:
            raced.append(version)
            os.makedirs(base / "kgan" / str(version))
            (base / "kgan" / str(version) / "saved_model.pb").write_bytes(b"theirs")
        real(tmp, version)

    monkeypatch.setattr(export.publish, "_write_manifest", racing_write_manifest)
    r = _export(gan, base)
    assert raced == [1] and r.version == 2
    assert (base / "kgan" / "1" / "saved_model.pb").read_bytes() == b"theirs"


def test_failure_mid_export_leaves_no_version(gan, tmp_path, monkeypatch):
    base = tmp_path / "exports"
    _export(gan, base)
    before = tree_hashes(base)
    seen = {}

    def failing_convert(saved_model_dir, variant, **kwargs):
        # The SavedModel is already written in the temporary directory at this point.
        seen["tmp"] = saved_model_dir
        assert os.path.isfile(os.path.join(saved_model_dir, "saved_model.pb"))
        assert export.versions(base / "kgan") == [1]  # ...and not visible as a version
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export.tflite, "convert", failing_convert)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export.export_generator(gan, base)
    assert os.path.basename(seen["tmp"]).startswith(export.TMP_PREFIX)
    assert os.path.dirname(seen["tmp"]) == str(base)  # built inside the export base: same filesystem
    assert sorted(os.listdir(base)) == ["kgan"] and export.versions(base / "kgan") == [1]
    assert tree_hashes(base) == before


def test_failed_full_int8_conversion_is_skipped_not_fatal(gan, tmp_path, monkeypatch):
    real = export.tflite.convert

    def convert(saved_model_dir, variant, **kwargs):
        if variant == "int8_full":
            raise ValueError("Quantization not yet supported for op: 'FOO'.\nmore detail")
        return real(saved_model_dir, variant, **kwargs)

    monkeypatch.setattr(export.tflite, "convert", convert)
    r = export.export_generator(gan, tmp_path / "exports", tflite_variants=("float32", "int8_full"))
    assert set(r.tflite) == {"float32"}
    assert r.tflite_skipped == {"int8_full": "Quantization not yet supported for op: 'FOO'."}


@pytest.mark.parametrize("kwargs, message", [
    (dict(formats=("saved_model", "onnx")), "unknown export format 'onnx'"),
    (dict(formats=()), "formats is empty"),
    (dict(tflite_variants=("int4",)), "unknown TFLite variant 'int4'"),
    (dict(model_name="../evil"), "model_name must be a directory name"),
    (dict(model_name=""), "model_name must be a directory name"),
    (dict(fixed_batch=0), "fixed_batch must be a positive integer"),
    (dict(max_images=0), "max_images must be a positive integer"),
])
def test_bad_arguments_raise_config_error_and_write_nothing(gan, tmp_path, kwargs, message):
    base = tmp_path / "exports"
    _export(gan, base)
    before = tree_hashes(base)
    with pytest.raises(ConfigError, match=message):
        export.export_generator(gan, base, **{"formats": ("saved_model",), **kwargs})
    assert tree_hashes(base) == before and sorted(os.listdir(base)) == ["kgan"]


def test_export_base_that_is_a_file(gan, tmp_path):
    f = tmp_path / "exports"
    f.write_text("not a directory")
    with pytest.raises(ConfigError, match="is a file"):
        _export(gan, f)
    assert f.read_text() == "not a directory"
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kgan").write_text("file where the model directory goes")
    with pytest.raises(ConfigError, match="is a file"):
        _export(gan, tmp_path / "base")


def test_exports_a_generator_model_and_the_ema_hook(gan, tmp_path):
    import types

    import keras
    import numpy as np
    import tensorflow as tf

    r = _export(gan.generator, tmp_path / "a", model_name="bare")
    assert r.latent_dim == 16 and r.version_dir.endswith(os.path.join("bare", "1"))
    assert export.inference_generator(gan) is gan.generator  # no averaged weights in this run
    # A GAN that keeps averaged weights exports them (`ema_generator`, or `sampling_generator` where the
    # GAN class provides it). A stand-in object, so the shared GAN is not modified.
    ema = keras.models.clone_model(gan.generator)
    ema.set_weights([w * 0 for w in gan.generator.get_weights()])
    with_ema = types.SimpleNamespace(generator=gan.generator, discriminator=gan.discriminator, latent_dim=16,
                                     ema_generator=ema)
    assert export.inference_generator(with_ema) is ema
    r = _export(with_ema, tmp_path / "b")
    images = tf.saved_model.load(r.saved_model).signatures["serving_default"](
        latent=tf.zeros((2, 16)))["images"].numpy()
    np.testing.assert_allclose(images, 0.5)  # all-zero weights: tanh(0) -> 0.5
