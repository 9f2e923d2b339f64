"""kgan.callbacks: sample grids, loss plots and resumable checkpoints."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kgan
from kgan import callbacks, nets
from kgan.errors import ConfigError


def _gan(units=16, seed=0):
    keras.utils.set_random_seed(seed)
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(units,)), nets.mlp_discriminator(units=(units,)), seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return gan


def _data():
    x = np.random.RandomState(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)


def test_sample_grid_uses_fixed_latents_and_writes_png_and_gif(tmp_path):
    gan = _gan()
    grid_cb = callbacks.SampleGrid(tmp_path / "samples", num_images=16, tensorboard_dir=str(tmp_path / "tb"))
    gan.fit(_data(), epochs=2, verbose=0, callbacks=[grid_cb])
    pngs = sorted(os.listdir(tmp_path / "samples"))
    assert pngs == ["epoch_0001.png", "epoch_0002.png"]
    img = np.asarray(Image.open(tmp_path / "samples" / pngs[1]))
    assert img.shape == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28px tiles with 2px padding
    # Same latents: with the weights unchanged the grid is the same picture.
    np.testing.assert_array_equal(grid_cb.grid()[..., 0], img)
    gif = Image.open(tmp_path / "progress.gif")
    assert gif.n_frames == 2
    assert any(f.startswith("events") for _, _, fs in os.walk(tmp_path / "tb") for f in fs)


def test_loss_plot_records_and_draws(tmp_path):
    gan = _gan()
    plot = callbacks.LossPlot(tmp_path / "losses.png", every_n_steps=2)
    gan.fit(_data(), epochs=2, verbose=0, callbacks=[plot])
    series = plot.read()
    assert set(series) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert series["d_loss"][0] == [2, 4, 6, 8]
    assert Image.open(tmp_path / "losses.png").size[0] > 100
    # A resumed run appends to the same record.
    gan.fit(_data(), epochs=1, verbose=0, callbacks=[callbacks.LossPlot(tmp_path / "losses.png", every_n_steps=2)])
    assert plot.read()["d_loss"][0] == [2, 4, 6, 8, 10, 12]


@pytest.mark.parametrize("min_seconds, epochs, draws", [(3600, 3, 2), (0, 3, 3), (3600, 1, 1)])
def test_loss_plot_redraws_at_most_every_min_seconds_and_when_training_ends(tmp_path, min_seconds, epochs, draws):
    """Drawn at the first epoch's end, then every `min_seconds`, and at the end of training if rows came after
    the last drawing (3 epochs, 3600 s: the first epoch and the end; 0 s: every epoch, nothing left for the end;
    1 epoch: once)."""
    plot = callbacks.LossPlot(tmp_path / "losses.png", every_n_steps=2, min_seconds=min_seconds)
    calls = []
    draw = plot.draw
    plot.draw = lambda: (calls.append(plot.read()["d_loss"][0]), draw())
    _gan().fit(_data(), epochs=epochs, verbose=0, callbacks=[plot])
    assert len(calls) == draws, calls
    assert calls[-1] == plot.read()["d_loss"][0] == [2, 4, 6, 8, 10, 12][:2 * epochs]  # the last drawing has it all


def test_steps_per_execution_trains_the_same_and_the_step_callbacks_keep_their_cadence(tmp_path):
    """`steps_per_execution=3` (--steps_per_execution): the same weights as one step per call; the loss record and
    step checkpoints land on the first call boundary past each multiple (hooks run once per 3 steps)."""
    one = _gan()
    one.fit(_data().repeat(), epochs=1, steps_per_epoch=12, verbose=0)
    three = _gan()
    three.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), steps_per_execution=3)
    plot = callbacks.LossPlot(tmp_path / "losses.png", every_n_steps=5)
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt", save_every_steps=4, max_to_keep=10)
    three.fit(_data().repeat(), epochs=1, steps_per_epoch=12, verbose=0, callbacks=[plot, ckpt])
    for a, b in zip(one.generator.weights + one.discriminator.weights,
                    three.generator.weights + three.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert plot.read()["d_loss"][0] == [6, 12]  # past 5 at step 6, past 10 at step 12 (the epoch's end)
    saved = sorted(int(p.rsplit("-", 1)[1]) for p in tf.train.get_checkpoint_state(tmp_path / "ckpt")
                   .all_model_checkpoint_paths)
    steps = [int(tf.train.load_variable(f"{tmp_path / 'ckpt'}/ckpt-{n}", "g_optimizer/0/.ATTRIBUTES/"
                                        "VARIABLE_VALUE")) for n in saved]  # g_optimizer/0: its iterations
    assert steps == [6, 9, 12]  # past 4, past 8, at 12 (the epoch's end saves that step once)


def test_checkpoint_resumes_epoch_optimizers_and_noise_state(tmp_path):
    gan = _gan()
    gan.fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])
    resumed = _gan(seed=99)  # different initial weights: all must come from the checkpoint
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    history = resumed.fit(_data(), epochs=3, verbose=0, callbacks=[ckpt])
    assert ckpt.restored_epoch == 2
    assert history.epoch == [2]
    assert int(resumed.g_optimizer.iterations.numpy()) == 12 and int(resumed.d_optimizer.iterations.numpy()) == 12
    assert resumed.noise_seed.state.numpy()[1] > gan.noise_seed.state.numpy()[1]
    # The restored state continues exactly where the first run would have gone.
    gan.fit(_data(), epochs=1, verbose=0)
    for a, b in zip(gan.generator.weights + gan.d_optimizer.variables, resumed.generator.weights + resumed.d_optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def _scalars(logdir):
    """`{tag: [values]}` of the scalar summaries in the event files under `logdir`."""
    out = {}
    for root, _, files in os.walk(logdir):
        for name in files:
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                for v in event.summary.value:
                    out.setdefault(v.tag, []).append(float(tf.make_ndarray(v.tensor)))
    return out


def test_tensorboard_logs_both_learning_rates(tmp_path):
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(16,)), nets.mlp_discriminator(units=(16,)), seed=1)
    gan.compile(keras.optimizers.Adam(4e-4), keras.optimizers.Adam(1e-4))
    gan.fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.TensorBoard(str(tmp_path / "tb"), write_graph=False)])
    scalars = _scalars(tmp_path / "tb" / "train")
    np.testing.assert_allclose(scalars["epoch_d_learning_rate"], [4e-4, 4e-4], rtol=1e-6)
    np.testing.assert_allclose(scalars["epoch_g_learning_rate"], [1e-4, 1e-4], rtol=1e-6)
    assert "epoch_learning_rate" not in scalars and "epoch_d_loss" in scalars  # not G's rate alone, unnamed


def test_a_finished_run_fit_again_trains_nothing_and_says_so(tmp_path, caplog):
    _gan().fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])
    again = _gan()
    with caplog.at_level("INFO"):
        history = again.fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])
    assert history.epoch == [] and int(again.g_optimizer.iterations.numpy()) == 8  # restored, not trained
    assert "nothing to train: the run's 2 epoch(s) are done (epochs=2)" in caplog.text


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    _gan().fit(_data(), epochs=1, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])
    other = _gan(units=32)
    with pytest.raises(ConfigError, match="does not match this model"):
        other.fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "ckpt")])


def test_checkpoint_skips_non_finite_epochs(tmp_path):
    gan = _gan()
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    gan.fit(_data(), epochs=1, verbose=0, callbacks=[ckpt])
    ckpt.on_epoch_end(1, {"d_loss": float("nan"), "g_loss": 1.0})
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-4")


def test_sample_grid_of_a_conditional_gan_has_a_row_per_class(tmp_path):
    gan = kgan.GAN(nets.cdcgan_generator(latent_dim=4, num_classes=3, filters=(8, 4, 4)),
                   nets.cdcgan_discriminator(num_classes=3, filters=(4, 8)), num_classes=3)
    grid = callbacks.SampleGrid(tmp_path / "s", num_images=6)
    grid.set_model(gan)
    g = grid.grid()
    assert g.shape[:2] == (3 * 30 + 2, 2 * 30 + 2)  # 3 class rows, 2 latent columns


def _pre_refactor_gan(seed, adam=keras.optimizers.Adam):
    """The GAN of data/make_pre_refactor_checkpoint.py (self-conditioned, EMA), with other initial weights."""
    from kgan import features

    keras.utils.set_random_seed(seed)
    G = features.self_conditioned(
        nets.cdcgan_generator(latent_dim=4, num_classes=3, filters=(2, 2, 2), embedding_dim=4), 3)
    D = nets.cdcgan_discriminator(num_classes=3, filters=(2, 2), dropout=0.0)
    gan = kgan.GAN(G, D, seed=5, ema_decay=0.9)
    gan.compile(adam(1e-3), adam(1e-3))
    return gan


@pytest.mark.parametrize("adam", [keras.optimizers.Adam, kgan.optimizers.FusedAdam], ids=["keras_adam", "fused_adam"])
def test_a_checkpoint_written_before_gan_checkpoint_state_restores(tmp_path, adam):
    """data/pre_refactor_checkpoint was written by the Checkpoint that listed GAN internals itself
    (before GAN.checkpoint_state), with Keras's Adam; every variable must come back, with the same names, into
    either Adam (kgan.training builds FusedAdam since 2026-12-07)."""
    import shutil

    src = os.path.join(os.path.dirname(__file__), "data", "pre_refactor_checkpoint")
    shutil.copytree(src, tmp_path / "ckpt")
    gan = _pre_refactor_gan(seed=42, adam=adam)
    ckpt = callbacks.Checkpoint(tmp_path / "ckpt")
    ckpt.set_model(gan)
    assert ckpt.restore() == 1  # assert_consumed inside: no key of the old file is left over
    state = gan.checkpoint_state()
    assert list(state) == ["generator", "discriminator", "d_optimizer", "g_optimizer", "noise_seed", "ema_generator"]
    with np.load(tmp_path / "ckpt" / "expected.npz") as want:
        assert len(want.files) == sum(len(v) for v in state.values())
        for key, variables in state.items():
            for i, v in enumerate(variables):
                np.testing.assert_array_equal(np.asarray(v.numpy()), want[f"{key}/{i}"], err_msg=f"{key}/{i}")
    # The cluster shares are weights of the generator: they come back too.
    np.testing.assert_allclose(gan.fake_labels.layer.prior, [0.2, 0.3, 0.5], atol=1e-6)
    # ...and what this version writes has the same keys, in the same order.
    ckpt.save(1)
    new = [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(tmp_path / "ckpt")))]
    old = [name for name, _ in tf.train.list_variables(os.path.join(src, "ckpt-2"))]
    assert new == old


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.steps:
            self.model.stop_training = True


@pytest.mark.parametrize("verbose", [1, 2])
def test_the_progress_bar_of_an_epoch_stopped_early_ends_where_it_stopped(capsys, verbose):
    _gan().fit(_data(), epochs=3, verbose=verbose, callbacks=[_StopAfter(2)])  # 4 steps per epoch
    out = capsys.readouterr().out
    assert "2/4" in out and "4/4" not in out  # Keras's own bar showed 4/4
    _gan().fit(_data(), epochs=1, verbose=verbose)
    assert "4/4" in capsys.readouterr().out  # an epoch that ran to its end is shown whole


def test_a_progress_bar_given_to_fit_is_the_only_one(capsys):
    _gan().fit(_data(), epochs=1, callbacks=[keras.callbacks.ProgbarLogger()])
    assert capsys.readouterr().out.count("4/4") == 1
