"""What a Keras user does with a GAN, as the README says it: the callback list, save / load_model / fit on,
custom losses across save and load, and the two image ranges (predict: [-1, 1], generate: [0, 1])."""

import csv
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan.errors import ConfigError

LATENT_DIM = 8


def _gan(seed=0):
    keras.utils.set_random_seed(seed)
    g = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(16, activation="tanh"),
                          keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    return kgan.GAN(g, d, seed=seed)


def _data():
    x = np.random.default_rng(0).uniform(-1, 1, (64, 4, 4, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True).repeat()


def test_the_readme_callback_list_then_save_load_and_train_on(tmp_path):
    gan = _gan()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt.keras")),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(monitor="g_loss", mode="min", patience=5),
    ]
    history = gan.fit(_data(), epochs=3, steps_per_epoch=4, callbacks=callbacks, verbose=0)
    assert len(history.history["g_loss"]) == 3 and np.isfinite(history.history["d_loss"]).all()
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and "g_loss" in rows[0]
    assert (tmp_path / "ckpt.keras").is_file() and any((tmp_path / "tb").rglob("events.out.tfevents*"))
    assert int(gan.g_optimizer.iterations.numpy()) == 12

    from_checkpoint = keras.saving.load_model(tmp_path / "ckpt.keras")  # ModelCheckpoint's whole-model file
    assert isinstance(from_checkpoint, kgan.GAN)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    z = gan.latents(4, seed=1)
    np.testing.assert_allclose(loaded.generate(4, latents=z), gan.generate(4, latents=z), atol=1e-6)
    assert loaded.loss_name == "non_saturating" and loaded.d_steps == gan.d_steps
    assert int(loaded.g_optimizer.iterations.numpy()) == 12  # optimizer state came back too
    gan.compile(steps_per_execution=3)  # Keras's own compile settings come back too (they were lost until 2026-12-07)
    gan.save(tmp_path / "spe.keras")
    assert keras.saving.load_model(tmp_path / "spe.keras").steps_per_execution == 3
    more = loaded.fit(_data(), epochs=2, steps_per_epoch=3, verbose=0,
                      callbacks=[keras.callbacks.EarlyStopping(monitor="g_loss", mode="min")])
    assert len(more.history["g_loss"]) == 2 and int(loaded.g_optimizer.iterations.numpy()) == 18


def test_early_stopping_on_g_loss_needs_a_mode():
    """Why the README says mode="min": Keras cannot infer the direction of a custom metric name."""
    gan = _gan()
    gan.compile()
    with pytest.raises(ValueError, match="mode"):
        gan.fit(_data(), epochs=1, steps_per_epoch=1, verbose=0,
                callbacks=[keras.callbacks.EarlyStopping(monitor="g_loss")])


@keras.saving.register_keras_serializable(package="kgan_tests")
def registered_hinge(real_logits, fake_logits):
    return kgan.losses.LOSSES["hinge"](real_logits, fake_logits)


def unregistered_hinge(real_logits, fake_logits):
    return kgan.losses.LOSSES["hinge"](real_logits, fake_logits)


def test_a_registered_custom_loss_survives_save_and_load(tmp_path):
    gan = _gan()
    gan.compile(loss=registered_hinge)
    gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert loaded.loss_fn is registered_hinge and loaded.loss_name == "registered_hinge"


def test_an_unregistered_custom_loss_refuses_to_save(tmp_path):
    gan = _gan()
    gan.compile(loss=unregistered_hinge)
    with pytest.raises(ConfigError, match="register_keras_serializable"):
        gan.save(tmp_path / "gan.keras")
    assert not (tmp_path / "gan.keras").exists()  # refused before anything is written
    lam = _gan()
    lam.compile(loss=lambda r, f: unregistered_hinge(r, f))
    with pytest.raises(ConfigError, match="custom loss"):
        lam.save(tmp_path / "lam.keras")


def test_builtin_losses_round_trip_by_name(tmp_path):
    for name in ("wasserstein", "hinge"):
        gan = _gan()
        gan.compile(loss=kgan.losses.LOSSES[name], gradient_penalty=1.0 if name == "wasserstein" else 0.0)
        gan.save(tmp_path / f"{name}.keras")
        assert keras.saving.load_model(tmp_path / f"{name}.keras").loss_fn is kgan.losses.LOSSES[name]


def test_predict_is_raw_generate_is_unit_range():
    gan = _gan()
    z = gan.latents(5, seed=3)
    raw = gan.predict(z, verbose=0)
    np.testing.assert_allclose(gan.generate(5, latents=z), np.clip((raw + 1) / 2, 0, 1), atol=1e-6)
    assert raw.min() < 0  # tanh output, not [0, 1]


def test_fit_on_a_dataset_warns_nothing_and_shuffle_still_reaches_keras():
    """`gan.fit(ds)` as the README writes it prints no Keras "shuffle=True was passed, but will be ignored"
    warning (a `tf.data.Dataset` shuffles itself); a `shuffle` given by keyword or position is passed on."""
    import warnings

    gan = _gan()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
    by_keyword = dict(epochs=1, verbose=0, shuffle=True)
    by_position = (None, None, 1, 0, None, 0.0, None, True)  # y, batch_size, epochs, verbose, ..., shuffle
    for args, kwargs in (((), by_keyword), (by_position, {})):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gan.fit(_data(), *args, steps_per_epoch=2, **kwargs)
        assert [w for w in caught if "shuffle=True" in str(w.message)]  # the user's own choice: Keras's warning


def _images(n=32):
    return np.random.default_rng(0).uniform(-1, 1, (n, 4, 4, 1)).astype("float32")


def test_predict_names_latents_of_another_width_and_compile_refuses_metrics():
    gan = _gan()
    gan.compile()
    assert gan.predict(np.zeros((3, LATENT_DIM), "float32"), verbose=0).shape == (3, 4, 4, 1)
    with pytest.raises(ConfigError, match=rf"^predict takes latents \[N, {LATENT_DIM}\], got \[3, {LATENT_DIM + 1}\]$"):
        gan.predict(np.zeros((3, LATENT_DIM + 1), "float32"), verbose=0)  # was a graph error from MatMul
    with pytest.raises(ConfigError, match="^metrics: a GAN's step has no targets to score"):
        _gan().compile(metrics=["accuracy"])  # Keras took it and never computed it


def test_fit_refuses_integer_images_before_training():
    """uint8 images in [0, 255] (what `kgan.data.arrays` gives) trained without complaint: the fakes were cast
    to uint8 beside them. As an array, a tensor, a dataset and a dataset of (images, labels): one ConfigError."""
    gan = _gan()
    gan.compile()
    u8 = ((_images() + 1) * 127.5).astype("uint8")
    as_dataset = tf.data.Dataset.from_tensor_slices(u8).batch(16)
    with_labels = tf.data.Dataset.from_tensor_slices((u8, np.zeros(32, "int32"))).batch(16)
    for data in (u8, tf.constant(u8), as_dataset, with_labels, u8.astype("int64")):
        with pytest.raises(ConfigError, match=r"fit takes float images in \[-1, 1\] like kgan.data.load gives, "
                                              r"got u?int\d+ images: scale .*/ 127.5 - 1"):
            gan.fit(data, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 0


def test_fit_warns_about_images_with_no_negative_value(caplog):
    gan = _gan()
    gan.compile()
    def kgan_records():
        return [r for r in caplog.records if r.name == "kgan.gan"]

    with caplog.at_level("WARNING", logger="kgan.gan"):
        gan.fit(_images(), epochs=1, batch_size=16, verbose=0)
        assert not kgan_records()
        gan.fit((_images() + 1) / 2, epochs=1, batch_size=16, verbose=0)
    [record] = kgan_records()
    assert record.levelname == "WARNING" and "the generator's outputs are in [-1, 1]" in record.getMessage()
    assert "x * 2 - 1" in record.getMessage()
    assert int(gan.g_optimizer.iterations.numpy()) == 4  # a warning, not an error: both fits trained


def test_fit_names_images_shaped_unlike_the_generator_output():
    gan = _gan()  # makes 4x4x1 images
    gan.compile()
    rgb = tf.data.Dataset.from_tensor_slices(np.zeros((8, 8, 8, 3), "float32")).batch(4)
    with pytest.raises(ConfigError, match=r"^images are 8x8x3, but the generator makes 4x4x1$"):
        gan.fit(rgb, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"^images are 4x4, but the generator makes 4x4x1: add a channel axis"):
        gan.fit(_images()[..., 0], epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"the dataset yields single 4x4x1 images, .* ds.batch\(64\)"):
        gan.fit(tf.data.Dataset.from_tensor_slices(_images()), epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"the dataset yields single 8x8x3 images, .* ds.batch\(64\)"):
        gan.fit(tf.data.Dataset.from_tensor_slices(np.zeros((8, 8, 8, 3), "float32")), epochs=1, verbose=0)
    unknown_batch = tf.data.Dataset.from_tensor_slices(_images()).batch(16)  # [None, 4, 4, 1]: trains
    assert len(gan.fit(unknown_batch, epochs=1, verbose=0).history["g_loss"]) == 1


@pytest.mark.parametrize("data", [None, "list", "dict"])
def test_fit_says_what_it_takes_when_given_no_images(data):
    gan = _gan()
    gan.compile()
    x = {"list": [_images()], "dict": {"images": _images()}}.get(data)
    got = {None: "no data", "list": "a list", "dict": "a dict"}[data]
    with pytest.raises(ConfigError, match=rf"^fit takes float images \[N, H, W, C\] in \[-1, 1\] .*; got {got}$"):
        gan.fit() if x is None else gan.fit(x, epochs=1, verbose=0)


def test_save_refuses_hdf5_before_writing_anything(tmp_path):
    """h5py failed midway ("name already exists": the EMA generator shares the generator's layer names),
    leaving a broken file behind."""
    g = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = kgan.GAN(g, d, ema_decay=0.9)
    gan.compile()
    for name in ("gan.h5", "gan.HDF5"):
        with pytest.raises(ConfigError, match=r"cannot save a GAN to the HDF5 file .*: use a .keras file "
                                              r"\(gan.generator.save\(...\) saves the generator alone\)"):
            gan.save(tmp_path / name)
    assert not list(tmp_path.iterdir())
    gan.generator.save(tmp_path / "generator.h5")  # the generator alone still saves as HDF5 if asked


def test_compile_takes_optimizer_names_and_configs_as_keras_does(tmp_path):
    gan = _gan()
    gan.compile(d_optimizer="adam", g_optimizer={"class_name": "RMSprop", "config": {"learning_rate": 0.01}})
    assert isinstance(gan.d_optimizer, keras.optimizers.Adam) and isinstance(gan.g_optimizer, keras.optimizers.RMSprop)
    assert gan.g_optimizer.learning_rate.numpy() == pytest.approx(0.01)
    gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0)
    gan.save(tmp_path / "gan.keras")
    assert isinstance(keras.saving.load_model(tmp_path / "gan.keras").g_optimizer, keras.optimizers.RMSprop)
    with pytest.raises(ConfigError, match="d_optimizer must be a Keras optimizer, its name .* got 'adamx'"):
        gan.compile(d_optimizer="adamx")
    with pytest.raises(ConfigError, match="^a GAN takes two optimizers, d_optimizer= and g_optimizer=, "
                                          "not optimizer=$"):
        gan.compile(optimizer="adam")


# Non-default values for the `GAN.compile` parameters whose default gives no type to vary (None, a name, objects).
NON_DEFAULT = {"d_optimizer": lambda: keras.optimizers.SGD(0.01),
               "g_optimizer": lambda: keras.optimizers.RMSprop(0.003),
               "loss": lambda: "minimax", "clip_value": lambda: 0.05, "diff_augment": lambda: "color,translation"}


def _non_default(name, default):
    """A value for compile parameter `name` unlike its default: flipped, +1 or +0.25, else `NON_DEFAULT`'s."""
    if name in NON_DEFAULT:
        return NON_DEFAULT[name]()
    if isinstance(default, bool):
        return not default
    if isinstance(default, (int, float)):
        return default + (1 if isinstance(default, int) else 0.25)
    raise AssertionError(f"GAN.compile's parameter {name}={default!r} has no non-default value to test: add one to "
                         "NON_DEFAULT in tests/test_keras_habits.py")


def test_every_compile_parameter_is_saved_and_reloaded(tmp_path):
    """`get_compile_config` names every `GAN.compile` parameter, so `load_model` compiles with the values given:
    a parameter left out of it reloaded as its default (a penalty as 0.0) without a word. `**kwargs` are Keras's
    (`optimizer=`, `metrics=` refused; `steps_per_execution`, `jit_compile` saved by name, tested above)."""
    params = {name: p for name, p in inspect.signature(kgan.GAN.compile).parameters.items()
              if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    gan = _gan()
    gan.compile()
    missing = sorted(set(params) - set(gan.get_compile_config()))
    assert not missing, (f"GAN.get_compile_config() leaves out compile's {', '.join(missing)}: add them to it in "
                         "kgan/gan.py, or load_model compiles with their defaults")
    values = {name: _non_default(name, p.default) for name, p in params.items()}
    gan = _gan()
    gan.compile(**values)
    gan.save(tmp_path / "gan.keras")
    saved, loaded = gan.get_compile_config(), keras.saving.load_model(tmp_path / "gan.keras")
    reloaded = loaded.get_compile_config()
    for name, value in values.items():
        if isinstance(value, (bool, int, float, str)):
            assert saved[name] == value, f"get_compile_config()[{name!r}] is {saved[name]!r}, compiled with {value!r}"
        assert reloaded[name] == saved[name], f"{name} saved as {saved[name]!r} reloads as {reloaded[name]!r}"
    for name in ("d_optimizer", "g_optimizer"):
        assert type(getattr(loaded, name)) is type(values[name])
        assert float(getattr(loaded, name).learning_rate) == pytest.approx(float(values[name].learning_rate))
    assert loaded.loss_fn is kgan.losses.LOSSES["minimax"] or loaded.loss_fn.wrapped is kgan.losses.LOSSES["minimax"]
