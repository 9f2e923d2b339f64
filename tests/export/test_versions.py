"""Versioned, atomic publishing: increasing versions, no temp dirs, failures leave nothing, bad arguments; formats
and TFLite variants added to the tables (`FORMAT_SPECS`, `TFLITE_VARIANT_SPECS`)."""

import dataclasses
import json
import os
import pathlib

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


FAKE_NOTES = b"a second file of the fake format\n"


def _register_fake_format_and_variant(monkeypatch):
    """Adds what a contributor adds, one table entry each: a format `fake` (one part, the directory `fake/` of two
    files) and a TFLite variant `int8_fake` with int8 activations (int8_full's converter options)."""
    def write_fake(job):
        os.makedirs(os.path.join(job.dir, "fake"))
        with open(os.path.join(job.dir, "fake", "generator.bin"), "wb") as f:
            f.write(bytes(range(256)) * 12)
        with open(os.path.join(job.dir, "fake", "notes.txt"), "wb") as f:
            f.write(FAKE_NOTES)
        return export.FormatOutput(files={"fake": "fake"})

    monkeypatch.setitem(export.FORMAT_SPECS, "fake", export.FormatSpec(write_fake))
    monkeypatch.setitem(export.TFLITE_VARIANT_SPECS, "int8_fake",
                        dataclasses.replace(export.TFLITE_VARIANT_SPECS["int8_full"], description="fake int8"))


def _tree_bytes(root, top=None):
    """Bytes of the files under `root` whose first path component is in `top` (every file for None)."""
    files = [p for p in pathlib.Path(root).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files if top is None or p.relative_to(root).parts[0] in top)


def test_a_format_and_a_variant_added_to_the_tables_are_written_listed_and_sized(gan, tmp_path, monkeypatch):
    """One entry in each table, nothing else: both are written, listed in the manifest, `ExportResult` and its
    `files`, and each part is sized from its own files (the SavedModel no longer absorbs every other file)."""
    _register_fake_format_and_variant(monkeypatch)
    r = export.export_generator(gan, tmp_path / "exports", formats=("saved_model", "tflite", "fake"),
                                tflite_variants=("int8_fake",))
    v = pathlib.Path(r.version_dir)
    tfl = v / "tflite" / "generator_int8_fake.tflite"
    assert r.formats == ("saved_model", "tflite", "fake")
    assert r.files == {"saved_model": r.version_dir, "int8_fake": str(tfl), "fake": str(v / "fake")}
    assert list(r.sizes) == list(r.files)
    assert r.tflite == {"int8_fake": str(tfl)} and r.tflite_skipped == r.skipped == {}

    assert r.sizes["fake"] == 256 * 12 + len(FAKE_NOTES)
    assert r.sizes["int8_fake"] == tfl.stat().st_size
    saved_model = {p.name for p in v.iterdir()} - {"fake", "tflite", export.MANIFEST}
    assert {"saved_model.pb", "variables"} <= saved_model
    assert r.sizes["saved_model"] == _tree_bytes(v, saved_model)
    # Every byte of the version is counted once: the parts and the manifest make up the directory.
    assert sum(r.sizes.values()) + (v / export.MANIFEST).stat().st_size == _tree_bytes(v)

    manifest = json.loads((v / export.MANIFEST).read_text())
    assert manifest["fake"] == {"fake": {"file": "fake", "bytes": r.sizes["fake"]}}
    assert manifest["tflite"] == {"int8_fake": {"file": os.path.join("tflite", "generator_int8_fake.tflite"),
                                                "bytes": r.sizes["int8_fake"], "batch": None}}
    assert manifest["tflite_skipped"] == {} and manifest["sizes"] == r.sizes

    # The converter took int8_full's options from the entry: int8 throughout, one quantize op in, one dequantize out.
    from ai_edge_litert.interpreter import Interpreter

    ops = [op["op_name"] for op in Interpreter(model_path=str(tfl))._get_ops_details()]
    assert ops.count("QUANTIZE") == 1 and ops.count("DEQUANTIZE") == 1, ops


def test_an_added_quantized_variant_is_skipped_like_int8_full(gan, tmp_path, monkeypatch):
    """`quantized_activations` in the entry, not the name "int8_full", decides: a converter failure skips the
    variant (recorded, not fatal), a quantization-sensitive generator skips it unconverted, and asking for only
    such variants is refused before anything is written."""
    assert export.FORMATS == tuple(export.FORMAT_SPECS) and export.TFLITE_VARIANTS == tuple(export.TFLITE_VARIANT_SPECS)
    assert [v for v, spec in export.TFLITE_VARIANT_SPECS.items() if spec.quantized_activations] == ["int8_full"]
    _register_fake_format_and_variant(monkeypatch)
    converted = []

    def convert(saved_model_dir, variant, **kwargs):
        converted.append(variant)
        if variant in ("int8_full", "int8_fake"):
            raise ValueError(f"Quantization not yet supported for op: '{variant}'.\nmore detail")
        return b"not really a flatbuffer"

    monkeypatch.setattr(export.tflite, "convert", convert)
    variants = ("float32", "int8_full", "int8_fake")
    r = export.export_generator(gan, tmp_path / "failed", tflite_variants=variants)
    assert converted == list(variants) and set(r.tflite) == {"float32"}
    want = {v: f"Quantization not yet supported for op: '{v}'." for v in ("int8_full", "int8_fake")}
    assert r.tflite_skipped == r.skipped == want
    assert json.loads((pathlib.Path(r.version_dir) / export.MANIFEST).read_text())["tflite_skipped"] == want

    monkeypatch.setattr(export.writer, "_quantization_sensitive", lambda net: "its clusters need float activations")
    converted.clear()
    r = export.export_generator(gan, tmp_path / "sensitive", tflite_variants=variants)
    assert converted == ["float32"] and set(r.tflite) == {"float32"}
    assert r.tflite_skipped == {v: "its clusters need float activations" for v in ("int8_full", "int8_fake")}

    for asked, it in ((("int8_fake",), "it"), (("int8_full", "int8_fake"), "them")):
        with pytest.raises(ConfigError, match=rf"^tflite_variants={','.join(asked)} only, but this generator cannot "
                                              rf"take {it}: its clusters need float activations; ask for another "
                                              r"variant too \(float32, float16, int8_dynamic\)$"):
            export.export_generator(gan, tmp_path / "refused", tflite_variants=asked)
    assert not (tmp_path / "refused").exists() and converted == ["float32"]
