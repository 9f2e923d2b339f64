"""kgan.callbacks.MetricsLog: metrics.csv without Keras's all-"NA" `val_*` columns; appending keeps a file's columns."""

import csv

import keras
import numpy as np
import tensorflow as tf

import kgan


def _fit(path, epochs, initial_epoch=0):
    keras.utils.set_random_seed(0)
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="tanh"),
                          keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = kgan.GAN(g, d, latent_dim=4, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).uniform(-1, 1, (32, 4, 4, 1)).astype("float32")
    gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(8).repeat(), epochs=epochs, initial_epoch=initial_epoch,
            steps_per_epoch=2, verbose=0, callbacks=[kgan.callbacks.MetricsLog(str(path), append=True)])


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_a_new_file_has_the_logs_columns_only(tmp_path):
    _fit(tmp_path / "m.csv", epochs=2)
    header, *rows = _rows(tmp_path / "m.csv")
    assert header == ["epoch", "d_fake", "d_loss", "d_real", "g_loss"]  # Keras's CSVLogger adds 4 val_* ("NA")
    assert [r[0] for r in rows] == ["0", "1"] and all(float(v) == float(v) for r in rows for v in r[1:])


def test_appending_to_a_file_with_val_columns_keeps_its_columns(tmp_path, caplog):
    """A metrics.csv written before (Keras's columns, val_* included): the resumed run's rows line up with it."""
    old = ["epoch", "d_fake", "d_loss", "d_real", "g_loss", "val_d_fake", "val_d_loss", "val_d_real", "val_g_loss"]
    first = ["0", "0.5", "1.3", "0.5", "0.7"] + ["NA"] * 4
    (tmp_path / "m.csv").write_text(",".join(old) + "\n" + ",".join(first) + "\n")
    _fit(tmp_path / "m.csv", epochs=2, initial_epoch=1)  # resumed after epoch 0
    header, first, new = _rows(tmp_path / "m.csv")
    assert header == old and len(new) == len(old) and new[5:] == ["NA"] * 4
    assert 0 < float(new[old.index("d_real")]) < 1 and float(new[old.index("d_loss")]) > 0  # D's outputs, D's loss
    assert "not recorded" not in caplog.text  # every log has its column


def test_appending_names_the_logs_the_file_has_no_column_for(tmp_path, caplog):
    """A run resumed with new logs (quality metrics asked for later): the file keeps its columns, and says so."""
    (tmp_path / "m.csv").write_text("epoch,d_loss,g_loss\n0,1.3,0.7\n")
    _fit(tmp_path / "m.csv", epochs=2, initial_epoch=1)
    header, _, new = _rows(tmp_path / "m.csv")
    assert header == ["epoch", "d_loss", "g_loss"] and len(new) == 3
    assert "keeps the columns it was started with: d_fake, d_real not recorded there" in caplog.text


def test_an_epoch_run_again_replaces_its_partial_row(tmp_path):
    """A stop mid-epoch (SIGTERM, --max_minutes) leaves that epoch's row; the resumed run trains the epoch again
    and its row replaces the partial one (two rows of epoch 1 until 2026-12-07)."""
    old = "epoch,d_fake,d_loss,d_real,g_loss\r\n0,0.5,1.3,0.5,0.7\r\n1,0.4,1.2,0.6,0.8\r\n2,0.4,1.2,0.6,0.8\r\n"
    (tmp_path / "m.csv").write_text(old, newline="")
    _fit(tmp_path / "m.csv", epochs=3, initial_epoch=1)
    rows = _rows(tmp_path / "m.csv")
    assert [r[0] for r in rows] == ["epoch", "0", "1", "2"]
    assert rows[1] == ["0", "0.5", "1.3", "0.5", "0.7"] and rows[2][1:] != ["0.4", "1.2", "0.6", "0.8"]
