"""What a Keras user does with a GAN, as the README says it: the callback list, save / load_model / fit on,
custom losses across save and load, and the two image ranges (predict: [-1, 1], generate: [0, 1])."""

import csv

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
