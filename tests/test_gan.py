"""kgan.GAN: the train step, distribution equivalence, determinism, saving, Keras callbacks."""

import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export, nets
from kgan.errors import ConfigError

from .conftest import eagerly

LATENT = 8


def _tiny_gan(seed=3, loss="non_saturating", d_steps=1, optimizer="sgd", lr=0.05, dropout=0.0, **compile_kw):
    G = nets.dcgan_generator(latent_dim=LATENT, filters=(16, 8, 4), sync_batchnorm=True)
    D = nets.dcgan_discriminator(filters=(8, 16), dropout=dropout, batchnorm=True, sync_batchnorm=True)
    gan = kgan.GAN(G, D, seed=seed)
    make = {"sgd": lambda: keras.optimizers.SGD(lr), "adam": lambda: keras.optimizers.Adam(lr, beta_1=0.5)}[optimizer]
    gan.compile(make(), make(), loss=loss, d_steps=d_steps, **compile_kw)
    return gan


def _data(n=32, batch=16, seed=0):
    x = np.random.RandomState(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)


def _weights(gan):
    return [v.numpy().copy() for v in gan.generator.weights + gan.discriminator.weights]


def _train(strategy, loss, d_steps=1, steps=2, **kw):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        gan = _tiny_gan(loss=loss, d_steps=d_steps, **kw)
    before = _weights(gan)
    history = gan.fit(_data(n=16 * steps), epochs=1, verbose=0)
    return gan, before, _weights(gan), history.history


def test_train_step_updates_both_networks_and_logs_metrics():
    gan, before, after, history = _train(tf.distribute.get_strategy(), "non_saturating", d_steps=3)
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(math.isfinite(v[0]) for v in history.values())
    assert 0 < history["d_real"][0] < 1 and 0 < history["d_fake"][0] < 1
    g_vars = len(gan.generator.weights)
    assert any(not np.array_equal(a, b) for a, b in zip(before[:g_vars], after[:g_vars]))
    assert any(not np.array_equal(a, b) for a, b in zip(before[g_vars:], after[g_vars:]))
    # d_steps discriminator updates per generator update.
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.d_optimizer.iterations.numpy()) == 6


@pytest.mark.parametrize("loss", sorted(kgan.losses.LOSSES))
def test_two_replicas_make_the_same_update_as_one_device(loss, two_replicas):
    """Same seed, global batch and data order: 2 mirrored CPU replicas == 1 device.

    Plain SGD (unlike Adam) is sensitive to the scale of the gradient, so a loss
    reduced over the per-replica instead of the global batch (2x too large
    gradients) fails this, as does noise that is not split across replicas or
    BatchNorm statistics that are not synchronized.
    """
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = two_replicas
    assert two.num_replicas_in_sync == 2
    with eagerly():
        _, before, w1, h1 = _train(one, loss, d_steps=2)
    _, _, w2, h2 = _train(two, loss, d_steps=2)
    moved = max(np.abs(a - b).max() for a, b in zip(before, w1))
    diff = max(np.abs(a - b).max() for a, b in zip(w1, w2))
    assert moved > 1e-3, "training did not move the weights enough for the comparison to mean anything"
    # float32 rounding grows with how far the weights moved (LSGAN's SGD steps move some by ~2);
    # a wrongly scaled gradient would make the difference the size of the motion itself.
    assert diff < max(1e-5, 5e-5 * moved), f"{loss}: 1 vs 2 replicas differ by {diff} (weights moved by {moved})"
    for key in h1:
        assert h1[key][0] == pytest.approx(h2[key][0], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        dict(loss="wasserstein", gradient_penalty=10.0),
        dict(loss="non_saturating", r1_penalty=1.0, r1_every=2),
        dict(loss="non_saturating", label_smoothing=0.1, instance_noise=0.2),
        dict(loss="hinge", ema_decay=0.9),
        dict(loss="hinge", spectral_norm=True),
        dict(loss="relativistic_average", share_fakes=True, instance_noise=0.2),
        dict(loss="hinge", simultaneous=True, r1_penalty=1.0),
    ],
    ids=["wgan_gp", "lazy_r1", "smoothing_instance_noise", "ema", "spectral_norm", "share_fakes", "simultaneous"],
)
def test_two_replicas_equal_one_device_with_penalties_and_tricks(options, two_replicas):
    options = dict(options)
    ema = options.pop("ema_decay", None)
    sn = options.pop("spectral_norm", False)
    loss = options.pop("loss")

    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            G = nets.dcgan_generator(latent_dim=LATENT, filters=(16, 8, 4), sync_batchnorm=True)
            D = nets.dcgan_discriminator(filters=(8, 16), dropout=0.0, spectral_norm=sn)
            gan = kgan.GAN(G, D, seed=3, ema_decay=ema)
            gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss=loss, d_steps=2, **options)
        gan.fit(_data(n=48), epochs=1, verbose=0)
        return [v.numpy() for v in gan.generator.weights + gan.discriminator.weights] + (
            [v.numpy() for v in gan.ema_generator.weights] if ema else [])

    with eagerly():
        w1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    w2 = train(two_replicas)
    diff = max(np.abs(a - b).max() for a, b in zip(w1, w2))
    assert diff < 1e-5, f"{options}: 1 vs 2 replicas differ by {diff}"


def test_a_frozen_network_is_one_line():
    G, D = nets.mlp_generator(latent_dim=4, units=(8,)), nets.mlp_discriminator(units=(8,))
    G.trainable = False  # fit failed inside Keras: "not enough values to unpack (expected 2, got 0)"
    with pytest.raises(ConfigError, match=r"^the generator has no trainable weights \(frozen\?\): set "
                                          r"generator.trainable = True"):
        kgan.GAN(G, D)


def test_ema_generator_averages_and_is_used_for_sampling():
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(8,)), nets.mlp_discriminator(units=(8,)), ema_decay=0.5)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    start = [w.numpy().copy() for w in gan.generator.trainable_weights]
    gan.fit(_data(), epochs=1, verbose=0)
    raw = [w.numpy() for w in gan.generator.trainable_weights]
    ema = [w.numpy() for w in gan.ema_generator.trainable_weights]
    # The average lies between the start and the raw weights, and differs from both.
    assert any(not np.allclose(e, r) for e, r in zip(ema, raw))
    assert sum(np.abs(e - s).sum() for e, s in zip(ema, start)) < sum(np.abs(r - s).sum() for r, s in zip(raw, start))
    z = gan.latents(3)
    expected = np.clip((gan.ema_generator(z).numpy() + 1) / 2, 0, 1)
    np.testing.assert_allclose(gan.generate(3, latents=z), expected, atol=1e-6)
    assert gan.sampling_generator is gan.ema_generator


def test_the_ema_copy_counts_as_non_trainable_and_stays_trainable_itself(capsys):
    G, D = nets.mlp_generator(latent_dim=4, units=(8,)), nets.mlp_discriminator(units=(8,))
    gan = kgan.GAN(G, D, ema_decay=0.9)
    gan.compile()
    size = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    trained = size(G.trainable_weights) + size(D.trainable_weights)
    assert size(gan.trainable_weights) == size(gan.trainable_variables) == trained  # Keras counted G twice
    assert size(gan.non_trainable_weights) == size(G.non_trainable_weights) + size(gan.ema_generator.weights)
    assert gan.ema_generator.trainable and gan.ema_generator.trainable_weights  # a saved copy loads ready to train
    gan.summary()
    out = capsys.readouterr().out
    assert f"Trainable params: {trained:,}" in out and f"ema_{G.name}" in out


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step_is_finite_and_weights_stay_float32(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        gan = _tiny_gan(optimizer="adam", lr=1e-3)
        scaled = policy == "mixed_float16"  # bfloat16 has float32's range: no loss scaling
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer) == scaled
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer) == scaled
        history = gan.fit(_data(), epochs=1, verbose=0).history
        assert all(math.isfinite(v[0]) for v in history.values())
        assert all(v.dtype == "float32" for v in gan.generator.trainable_weights + gan.discriminator.trainable_weights)
        assert gan.generate(2).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_bfloat16_steps_follow_the_float32_steps():
    """`precision="mixed_bfloat16"` changes the arithmetic, not the update: two steps from the same start
    move the weights as float32 does, up to bfloat16's 8-bit mantissa (measured: 0.077 of the move; a
    different seed's steps differ by 0.86, a float32 repeat by 0.0)."""
    moves = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            gan, before, after, _ = _train(tf.distribute.get_strategy(), "non_saturating")
        finally:
            keras.mixed_precision.set_global_policy("float32")
        moves[policy] = np.concatenate([(a - b).ravel() for a, b in zip(after, before)])
    f32, bf16 = moves["float32"], moves["mixed_bfloat16"]
    assert np.abs(f32).max() > 1e-3  # the steps moved the weights
    relative = np.linalg.norm(bf16 - f32) / np.linalg.norm(f32)
    assert 0.005 < relative < 0.2, relative  # 16-bit arithmetic did run, and stayed close


def test_wasserstein_clips_discriminator_weights():
    gan, *_ = _train(tf.distribute.get_strategy(), "wasserstein", optimizer="adam", lr=0.05)
    assert gan.clip_value == 0.01
    limit = max(float(np.abs(v.numpy()).max()) for v in gan.discriminator.trainable_variables)
    assert limit == pytest.approx(0.01)


def test_same_seed_same_run_different_seed_different_run():
    def run(seed):
        keras.utils.set_random_seed(0)  # same initial weights
        gan = _tiny_gan(seed=seed, dropout=0.3)
        gan.fit(_data(), epochs=1, verbose=0)
        return _weights(gan)

    a, b, c = run(5), run(5), run(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.allclose(x, z) for x, z in zip(a, c))


def test_generate_is_seeded_and_in_unit_range():
    gan = _tiny_gan()
    a, b, c = gan.generate(5, seed=0), gan.generate(5, seed=0), gan.generate(5, seed=1)
    assert a.shape == (5, 28, 28, 1) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(gan.generate(5, latents=gan.latents(5, seed=0)), a)
    with pytest.raises(ConfigError, match="num_images must be a positive integer, got 0"):
        gan.generate(0)
    for seed in (1.5, "3", True, 2**63):  # 1.5 was taken as seed 1
        with pytest.raises(ConfigError, match=rf"^seed must be an integer \(int64\), got {re.escape(repr(seed))}$"):
            gan.generate(2, seed=seed)
    np.testing.assert_array_equal(gan.latents(2, seed=-1), export.latents(2, gan.latent_dim, seed=-1))
    with pytest.raises(ConfigError, match=r"latents must have shape \[batch, 8\]"):
        gan.generate(2, latents=np.zeros((2, 3)))


def test_bad_compile_arguments():
    gan = _tiny_gan()
    opt = keras.optimizers.Adam()
    for kwargs, match in [
        (dict(loss="nope"), "unknown loss 'nope'"),
        (dict(d_steps=0), "d_steps must be an integer >= 1, got 0"),
        (dict(clip_value=-1.0), "clip_value must be > 0"),
        (dict(d_optimizer=opt, g_optimizer=opt), "two different optimizer objects"),
        (dict(gradient_penalty=-1.0), "gradient_penalty weight must be a number >= 0, got -1.0"),
        (dict(r1_penalty=-0.5), "r1_penalty weight must be a number >= 0, got -0.5"),
        (dict(mode_seeking=-1), "mode_seeking weight must be a number >= 0, got -1"),
        (dict(label_smoothing=0.1, loss="hinge"), "label_smoothing applies to the cross-entropy losses"),
        (dict(joint_d_call="no"), "joint_d_call must be True or False, got 'no'"),
        (dict(simultaneous=1), "simultaneous must be True or False, got 1"),
    ]:
        with pytest.raises(ConfigError, match=match):
            gan.compile(**kwargs)


@pytest.mark.parametrize("decay", [1.0, -0.1, 2])
def test_bad_ema_decay(decay):
    with pytest.raises(ConfigError, match=r"ema_decay must be in \[0, 1\)"):
        kgan.GAN(nets.mlp_generator(latent_dim=4), nets.mlp_discriminator(), ema_decay=decay)


def test_keras_saving_round_trip(tmp_path):
    gan = _tiny_gan()
    gan.fit(_data(), epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kgan.GAN)
    np.testing.assert_allclose(loaded.generate(4, seed=2), gan.generate(4, seed=2), atol=1e-6)
    assert loaded.d_steps == gan.d_steps and loaded.loss_name == gan.loss_name
    # The generator alone, as users ship it.
    gpath = str(tmp_path / "generator.keras")
    gan.generator.save(gpath)
    z = gan.latents(4, seed=1)
    np.testing.assert_allclose(keras.saving.load_model(gpath)(z), gan.generator(z), atol=1e-6)
    # ...and the loaded GAN keeps training.
    loaded.fit(_data(), epochs=1, verbose=0)


def test_keras_callbacks_work(tmp_path):
    gan = _tiny_gan()
    callbacks = [
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt.weights.h5"), save_weights_only=True),
        keras.callbacks.TensorBoard(str(tmp_path / "tb"), write_graph=False),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(monitor="g_loss", patience=0, mode="min", min_delta=100.0),
    ]
    history = gan.fit(_data(), epochs=5, verbose=0, callbacks=callbacks)
    assert len(history.epoch) == 2  # EarlyStopping stopped it (no 100-point improvement)
    assert os.path.exists(tmp_path / "ckpt.weights.h5")
    header = open(tmp_path / "log.csv").read().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "d_fake", "d_loss", "d_real", "g_loss"]
    assert any(f.startswith("events") for _, _, fs in os.walk(tmp_path / "tb") for f in fs)
    restored = _tiny_gan()
    restored.load_weights(str(tmp_path / "ckpt.weights.h5"))
    np.testing.assert_allclose(restored.generate(3), gan.generate(3), atol=1e-6)


def _conditional_gan(seed=3, mode_seeking=0.0, **kw):
    G = nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4), sync_batchnorm=True)
    D = nets.cdcgan_discriminator(num_classes=4, filters=(8, 16), dropout=0.0)
    gan = kgan.GAN(G, D, seed=seed, num_classes=4, **kw)
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss="hinge", gradient_penalty=1.0,
                mode_seeking=mode_seeking)
    return gan


def _labelled_data(n=32, batch=16):
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    y = rng.randint(0, 4, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True)


def test_conditional_gan_trains_on_labels_and_matches_on_two_replicas(two_replicas):
    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            gan = _conditional_gan()
        gan.fit(_labelled_data(), epochs=1, verbose=0)
        return gan, [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]

    with eagerly():
        gan, w1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    _, w2 = train(two_replicas)
    assert max(np.abs(a - b).max() for a, b in zip(w1, w2)) < 1e-5
    # The label changes the image: same latents, different classes.
    z = np.repeat(gan.latents(1), 4, axis=0)
    images = gan.generate(4, latents=z, labels=[0, 1, 2, 3])
    assert all(not np.allclose(images[0], images[k]) for k in (1, 2, 3))
    np.testing.assert_array_equal(gan.generate(2, latents=z[:2], labels=2), gan.generate(2, latents=z[:2], labels=[2, 2]))


def test_conditional_gan_rejects_bad_labels_and_unlabelled_data():
    gan = _conditional_gan()
    with pytest.raises(ConfigError, match=r"label 4 is outside \[0, 4\)"):
        gan.generate(2, labels=[1, 4])
    with pytest.raises(ConfigError, match=r"label -1 is outside \[0, 4\)"):
        gan.generate(1, labels=-1)
    with pytest.raises(ConfigError, match="with_labels=True"):
        gan.fit(_data(), epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="pass num_classes"):
        kgan.GAN(nets.cdcgan_generator(latent_dim=4), nets.cdcgan_discriminator())
    with pytest.raises(ConfigError, match="labels given, but this GAN is not class-conditional"):
        _tiny_gan().generate(2, labels=[0, 1])


def test_mode_seeking_matches_on_two_replicas_and_changes_the_update(two_replicas):
    """MSGAN pairs are neighbouring rows (labels: kgan.losses.diversity.pair_labels, tested beside it):
    the same pairs, and update, on 1 or 2 replicas."""
    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            gan = _conditional_gan(mode_seeking=1.0)
        history = gan.fit(_labelled_data(), epochs=1, verbose=0).history
        return gan, history, [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]

    with eagerly():
        gan, history, w1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    _, history2, w2 = train(two_replicas)
    assert max(np.abs(a - b).max() for a, b in zip(w1, w2)) < 1e-5
    assert history["g_mode_seeking"][0] > 0
    np.testing.assert_allclose(history["g_mode_seeking"], history2["g_mode_seeking"], rtol=1e-4)
    # The term moves G: same seed without it ends elsewhere.
    keras.utils.set_random_seed(1)
    plain = _conditional_gan()
    plain.fit(_labelled_data(), epochs=1, verbose=0)
    assert max(np.abs(a - b.numpy()).max() for a, b in zip(w1, plain.generator.weights)) > 1e-4


def test_mode_seeking_on_an_unconditional_gan_with_an_odd_batch():
    """Without labels the pairs differ only in z; an odd batch leaves its last row out of the term."""
    keras.utils.set_random_seed(1)
    gan = _tiny_gan(mode_seeking=1.0)
    history = gan.fit(_data(n=30, batch=15), epochs=1, verbose=0).history
    assert np.isfinite(history["g_mode_seeking"][0]) and history["g_mode_seeking"][0] > 0
    assert np.isfinite(history["g_loss"][0])


def _self_conditioned_gan(prior=None, mode_seeking=1.0, seed=3):
    from kgan import features

    G = features.self_conditioned(
        nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4), sync_batchnorm=True), 4,
        prior=prior)
    D = nets.cdcgan_discriminator(num_classes=4, filters=(8, 16), dropout=0.0)
    gan = kgan.GAN(G, D, seed=seed, ema_decay=0.9)
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss="hinge", mode_seeking=mode_seeking)
    return gan


def test_self_conditioned_gan_matches_on_two_replicas_and_samples_like_an_unconditional_one(two_replicas):
    """Cluster ids come with the real batches and from G's latents; pairs share z_0, hence a cluster."""
    def train(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            gan = _self_conditioned_gan(prior=[0.1, 0.2, 0.3, 0.4])
        history = gan.fit(_labelled_data(), epochs=1, verbose=0).history
        return gan, history, [v.numpy() for v in gan.generator.weights + gan.discriminator.weights
                              + gan.ema_generator.weights]

    with eagerly():
        gan, history, w1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    _, history2, w2 = train(two_replicas)
    assert max(np.abs(a - b).max() for a, b in zip(w1, w2)) < 1e-5
    np.testing.assert_allclose(history["g_mode_seeking"], history2["g_mode_seeking"], rtol=1e-4)
    assert gan.num_classes is None and gan.generate(3, seed=0).shape == (3, 28, 28, 1)
    with pytest.raises(ConfigError, match="not class-conditional"):
        gan.generate(2, labels=[0, 1])


def test_self_conditioned_d_sees_the_real_ids_and_the_ones_g_derived():
    """D gets the real batch's ids and, for each fake, the cluster of the latent G drew it from."""
    seen_ids, seen_z = [], []

    def Record(into):  # a pass-through layer that keeps what it saw (eager calls)
        class _Record(keras.layers.Layer):
            def call(self, x):
                if tf.executing_eagerly():
                    into.append(keras.ops.convert_to_numpy(x))
                return x

        return _Record()

    keras.utils.set_random_seed(0)
    gan = _self_conditioned_gan(prior=[0.1, 0.2, 0.3, 0.4])
    inner_d, inner_g = gan.discriminator, gan.generator
    x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
    gan.discriminator = keras.Model([x, y], inner_d([x, Record(seen_ids)(y)]))
    z = keras.Input((LATENT,))
    gan.generator = keras.Model(z, inner_g(Record(seen_z)(z)))
    images = np.random.RandomState(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    real_ids = np.random.RandomState(1).randint(0, 4, 32).astype("int32")
    gan.train_step((tf.constant(images), tf.constant(real_ids)))

    def ids(latents):
        return keras.ops.convert_to_numpy(gan.fake_labels(latents, None))

    d_step, g_step = seen_ids[0], seen_ids[-1]
    np.testing.assert_array_equal(d_step, np.concatenate([real_ids, ids(seen_z[0])]))  # one D call on [real; fake]
    np.testing.assert_array_equal(g_step, ids(seen_z[-1]))
    assert len(set(g_step.tolist())) > 1  # a real mix of clusters, not one forced id
    np.testing.assert_array_equal(g_step[0::2], g_step[1::2])  # mode-seeking pairs share z_0, hence a cluster


@pytest.mark.parametrize("share", [False, True])
def test_share_fakes_scores_the_d_steps_fakes_with_the_updated_d(share):
    """`share_fakes`: G is run once per step, and its update scores the very fakes of the last D update,
    judged by D after that update; without it, G's update draws and scores a batch of its own."""
    fakes, judged = [], []

    def Record(into):  # a pass-through layer that keeps what it saw (eager calls)
        class _Record(keras.layers.Layer):
            def call(self, x):
                if tf.executing_eagerly():
                    into.append(keras.ops.convert_to_numpy(x))
                return x

        return _Record()

    keras.utils.set_random_seed(0)
    gan = _self_conditioned_gan(prior=[0.1, 0.2, 0.3, 0.4])
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss="hinge", mode_seeking=1.0, d_steps=2,
                share_fakes=share)
    inner_d, inner_g = gan.discriminator, gan.generator
    x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
    gan.discriminator = keras.Model([x, y], Record(judged)(inner_d([Record(fakes)(x), y])))
    z = keras.Input((LATENT,))
    g_calls = []
    gan.generator = keras.Model(z, Record(g_calls)(inner_g(z)))
    images = np.random.RandomState(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    gan.train_step((tf.constant(images), tf.constant(np.random.RandomState(1).randint(0, 4, 16).astype("int32"))))

    # Two D updates (each one call on [real; fake]), then G's call on its fakes.
    assert [len(f) for f in fakes] == [32, 32, 16]
    assert len(g_calls) == (2 if share else 3)
    last_d_fakes, g_fakes = fakes[1][16:], fakes[2]
    if share:
        np.testing.assert_array_equal(g_fakes, last_d_fakes)
        # D moved in between: the same images score differently in G's update.
        assert np.abs(judged[2] - judged[1][16:]).max() > 1e-4
        np.testing.assert_array_equal(g_fakes, g_calls[1])
    else:
        assert np.abs(g_fakes - last_d_fakes).max() > 0.1


@pytest.mark.parametrize("simultaneous", [True, False])
def test_simultaneous_step_takes_both_gradients_before_either_update(simultaneous):
    """`simultaneous`: one generated batch and one D pass feed both losses, and both networks move by their
    gradients at the step's starting weights (checked against a hand-computed SGD step). The alternating
    step (`share_fakes`, the same single G pass) scores the fakes with the updated D: its G update differs."""
    zs = []

    class _Latents(keras.layers.Layer):  # records what G is fed (eager calls)
        def call(self, z):
            if tf.executing_eagerly():
                zs.append(keras.ops.convert_to_numpy(z))
            return z

    keras.utils.set_random_seed(2)
    inner_g = nets.dcgan_generator(latent_dim=LATENT, filters=(16, 8, 4))
    D = nets.dcgan_discriminator(filters=(8, 16), dropout=0.0)
    G0, D0 = keras.models.clone_model(inner_g), keras.models.clone_model(D)
    G0.set_weights(inner_g.get_weights())
    D0.set_weights(D.get_weights())
    z_in = keras.Input((LATENT,))
    gan = kgan.GAN(keras.Model(z_in, inner_g(_Latents()(z_in))), D, seed=3)
    lr = 0.1
    gan.compile(keras.optimizers.SGD(lr), keras.optimizers.SGD(lr), loss="non_saturating",
                share_fakes=not simultaneous, simultaneous=simultaneous)
    assert gan.get_compile_config()["simultaneous"] is simultaneous
    real = np.random.RandomState(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    gan.train_step(tf.constant(real))
    assert len(zs) == 1  # one generated batch per step either way

    with tf.GradientTape(persistent=True) as tape:  # the simultaneous step by hand, at the starting weights
        fake = G0(zs[0], training=True)
        d_loss, g_loss = gan.loss_fn(D0(real, training=True), D0(fake, training=True))
        d_loss, g_loss = tf.reduce_mean(d_loss), tf.reduce_mean(g_loss)
    expected_d = [w - lr * g for w, g in zip(D0.trainable_weights, tape.gradient(d_loss, D0.trainable_weights))]
    expected_g = [w - lr * g for w, g in zip(G0.trainable_weights, tape.gradient(g_loss, G0.trainable_weights))]

    def off(actual, expected, start):
        moved = max(np.abs(a.numpy() - s.numpy()).max() for a, s in zip(actual, start))
        return max(np.abs(a.numpy() - e.numpy()).max() for a, e in zip(actual, expected)) / moved

    # D's update is the same in both steps; G's is the hand-computed one only when taken simultaneously.
    assert off(D.trainable_weights, expected_d, D0.trainable_weights) < 1e-4
    g_off = off(inner_g.trainable_weights, expected_g, G0.trainable_weights)
    assert g_off < 1e-4 if simultaneous else g_off > 1e-2


def test_split_d_calls_make_the_joint_calls_update():
    """`joint_d_call=False`: D judges the real and the fake batch in two calls instead of one on [real; fake];
    without random draws in D (no dropout) the update is the same, to float32 round-off."""
    sizes = []

    class _Sizes(keras.layers.Layer):  # records the batch of each eager D call
        def call(self, x):
            if tf.executing_eagerly():
                sizes.append(int(x.shape[0]))
            return x

    def train(joint):
        keras.utils.set_random_seed(1)
        gan = _self_conditioned_gan(prior=[0.1, 0.2, 0.3, 0.4], mode_seeking=0.1)
        gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5),
                    loss="non_saturating", mode_seeking=0.1, share_fakes=True, joint_d_call=joint)
        assert gan.get_compile_config()["joint_d_call"] is joint
        inner = gan.discriminator
        x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
        gan.discriminator = keras.Model([x, y], inner([_Sizes()(x), y]))
        del sizes[:]
        before = [v.numpy() for v in gan.generator.weights + inner.weights]
        with eagerly():
            gan.fit(_labelled_data(n=48), epochs=1, verbose=0)
        return list(sizes), before, [v.numpy() for v in gan.generator.weights + inner.weights]

    joint_sizes, before, joint = train(True)
    split_sizes, _, split = train(False)
    assert joint_sizes == [32, 16] * 3 and split_sizes == [16, 16, 16] * 3  # D steps, then G's call on the fakes
    assert max(np.abs(a - b).max() for a, b in zip(joint, split)) < 1e-5
    assert max(np.abs(a - b).max() for a, b in zip(joint, before)) > 1e-3  # three steps moved the weights


def test_self_conditioned_gan_errors_name_what_is_missing():
    gan = _self_conditioned_gan()
    with pytest.raises(ConfigError, match="trains on \\(images, cluster ids\\) batches"):
        gan.fit(_data(), epochs=1, verbose=0)
    from kgan import features

    G = features.self_conditioned(nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4)), 4)
    with pytest.raises(ConfigError, match="needs a discriminator taking \\[images, cluster ids\\]"):
        kgan.GAN(G, nets.dcgan_discriminator(filters=(8, 16)))


def test_fake_labels_hook_takes_the_self_conditioning_labeller_explicitly():
    """`fake_labels=features.ClusterLabels()` is what GAN picks up from the generator by itself."""
    from kgan import features

    def train(explicit):
        keras.utils.set_random_seed(1)
        G = features.self_conditioned(
            nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4)), 4, prior=[0.1, 0.2, 0.3, 0.4])
        D = nets.cdcgan_discriminator(num_classes=4, filters=(8, 16), dropout=0.0)
        gan = kgan.GAN(G, D, seed=3, fake_labels=features.ClusterLabels() if explicit else None)
        gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), loss="hinge", mode_seeking=1.0)
        gan.fit(_labelled_data(), epochs=1, verbose=0)
        return gan, [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]

    gan, w1 = train(explicit=True)
    _, w2 = train(explicit=False)
    assert isinstance(gan.fake_labels, features.ClusterLabels) and gan.num_classes is None
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="pass no num_classes"):
        kgan.GAN(gan.generator, gan.discriminator, num_classes=4)


def test_a_labeller_written_elsewhere_plugs_in():
    """The hook is general: a labeller defined here (every fake gets label 2) reaches D, and G takes it."""
    seen = []

    class Twos(kgan.labellers.Labeller):
        num_classes = 4

        def __call__(self, latents, labels):
            labels = tf.fill([tf.shape(latents)[0]], 2)
            seen.append(labels)
            return labels

    G = nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4))
    D = nets.cdcgan_discriminator(num_classes=4, filters=(8, 16), dropout=0.0)
    gan = kgan.GAN(G, D, fake_labels=Twos())
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    x, y = next(iter(_labelled_data()))
    logs = gan.train_step((x, y))
    assert len(seen) == 2 and all((s.numpy() == 2).all() for s in seen)  # the D step and the G step
    assert np.isfinite(float(logs["g_loss"]))
    assert gan.num_classes == 4  # G takes labels: users pick from 4 classes


@pytest.mark.parametrize("kind", ["class_conditional", "explicit_uniform", "self_conditioned"])
def test_keras_saving_round_trip_of_conditional_gans(kind, tmp_path):
    from kgan import features

    keras.utils.set_random_seed(0)
    D = nets.cdcgan_discriminator(num_classes=4, filters=(8, 16), dropout=0.0)
    if kind == "self_conditioned":
        G = features.self_conditioned(nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4)), 4,
                                      prior=[0.1, 0.2, 0.3, 0.4])
        gan = kgan.GAN(G, D, ema_decay=0.9)
    else:
        G = nets.cdcgan_generator(latent_dim=LATENT, num_classes=4, filters=(16, 8, 4))
        gan = kgan.GAN(G, D, **({"num_classes": 4} if kind == "class_conditional"
                                else {"fake_labels": kgan.labellers.UniformLabels(4)}))
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    gan.fit(_labelled_data(), epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert type(loaded.fake_labels) is type(gan.fake_labels) and loaded.num_classes == gan.num_classes
    np.testing.assert_allclose(loaded.generate(4, seed=2), gan.generate(4, seed=2), atol=1e-6)
    if kind == "self_conditioned":
        np.testing.assert_allclose(loaded.fake_labels.layer.prior, [0.1, 0.2, 0.3, 0.4], atol=1e-6)
    loaded.fit(_labelled_data(), epochs=1, verbose=0)  # ...and keeps training


def test_label_smoothing_is_a_loss_wrapper_with_the_same_errors():
    gan = _tiny_gan(label_smoothing=0.1)
    assert gan.loss_fn.wrapped is kgan.losses.non_saturating and gan.loss_name == "non_saturating"
    assert gan.get_compile_config()["label_smoothing"] == 0.1
    with pytest.raises(ConfigError, match="applies to the cross-entropy losses .* not 'hinge'"):
        _tiny_gan(loss="hinge", label_smoothing=0.1)
    with pytest.raises(ConfigError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        _tiny_gan(label_smoothing=1.0)


def test_a_conditional_gan_fits_an_images_labels_tuple_and_checks_its_images():
    gan = _conditional_gan()
    x, y = next(iter(_labelled_data(n=32, batch=32)))
    gan.fit((x.numpy(), y.numpy()), batch_size=16, epochs=1, verbose=0)  # as fit(images, labels)
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    with pytest.raises(ConfigError, match="got uint8 images"):
        gan.fit((x.numpy().astype("uint8"), y.numpy()), batch_size=16, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="^images are 28x28x3, but the generator makes 28x28x1$"):
        gan.fit(tf.data.Dataset.from_tensor_slices((tf.tile(x, [1, 1, 1, 3]), y)).batch(16), epochs=1, verbose=0)
    bad = y.numpy().copy()
    bad[3] = gan.num_classes  # a graph error at the label embedding's gather until 2026-12-07
    with pytest.raises(ConfigError, match=f"^label {gan.num_classes} is outside \\[0, {gan.num_classes}\\)$"):
        gan.fit(x.numpy(), bad, batch_size=16, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"^labels must be one class index per image, \[N\] or \[N, 1\], got "
                                          r"shape \[32, 4\] \(one-hot labels: labels.argmax\(-1\)\)$"):
        gan.fit(x.numpy(), np.eye(4, dtype="float32")[y.numpy()], batch_size=16, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 2  # refused before any step
    # [N, 1] (keras.datasets' shape) and whole-valued floats are class indices (the graph cast floats; [N, 1]
    # was a rank error in the step).
    gan.fit(x.numpy(), y.numpy()[:, None], batch_size=16, epochs=1, verbose=0)
    gan.fit(x.numpy(), y=y.numpy().astype("float32"), batch_size=16, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 6


@pytest.mark.parametrize("package, registry", [("losses", "LOSSES"), ("nets", "NETWORKS")])
def test_every_registered_function_is_re_exported(package, registry):
    """`kgan.losses.hinge`, `kgan.nets.dcgan_generator`: a function registered by name is also the package's, which
    its __init__.py imports and names in __all__ by hand, apart from the registry."""
    module = getattr(kgan, package)
    for name, entry in getattr(module, registry).items():
        for fn in entry if isinstance(entry, tuple) else (entry,):
            assert getattr(module, fn.__name__, None) is fn and fn.__name__ in module.__all__, (
                f"kgan.{package}.{registry}[{name!r}] holds {fn.__module__}.{fn.__name__}, which kgan.{package} does "
                f"not re-export: import {fn.__name__} in kgan/{package}/__init__.py and add {fn.__name__!r} to its "
                "__all__")


def test_several_steps_per_call_on_several_replicas_is_one_line_before_training(two_replicas):
    """Keras 3 fails inside TensorFlow there ("You must feed a value for placeholder tensor", keras-team/keras#19246,
    a plain Sequential model too): refused by name instead of a graph error after a run's files are written."""
    with two_replicas.scope():
        gan = kgan.GAN(nets.mlp_generator(latent_dim=4, units=(8,)), nets.mlp_discriminator(units=(8,)))
        gan.compile(steps_per_execution=2)
    with pytest.raises(ConfigError, match=r"^steps_per_execution=2 on 2 replicas: Keras 3 cannot run several steps "
                                          r"per call under a tf.distribute strategy \(keras-team/keras#19246\)"):
        gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 0
