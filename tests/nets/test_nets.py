import keras
import numpy as np
import pytest

from kgan import nets
from kgan.errors import ConfigError


def test_dcgan_defaults_are_the_tensorflow_tutorial_networks():
    G = nets.dcgan_generator(latent_dim=100)
    D = nets.dcgan_discriminator()
    # Parameter counts of the TF DCGAN tutorial's make_generator_model / make_discriminator_model.
    assert G.count_params() == 2_330_944
    assert D.count_params() == 212_865
    images = G(keras.random.normal((3, 100), seed=0))
    assert images.shape == (3, 28, 28, 1)
    assert float(keras.ops.max(keras.ops.abs(images))) <= 1.0
    assert D(images).shape == (3, 1)


def test_classic_mlp_gan_sizes():
    G = nets.mlp_generator(latent_dim=100)
    D = nets.mlp_discriminator()
    assert [l.units for l in G.layers if isinstance(l, keras.layers.Dense)] == [256, 512, 1024, 784]
    assert [l.units for l in D.layers if isinstance(l, keras.layers.Dense)] == [1024, 512, 256, 1]
    assert [l.rate for l in D.layers if isinstance(l, keras.layers.Dropout)] == [0.3] * 3
    assert G(np.zeros((2, 100), "float32")).shape == (2, 28, 28, 1)


def test_other_image_shapes():
    G = nets.get_generator("dcgan", latent_dim=16, image_shape=(32, 32, 3), filters=(32, 16, 8))
    D = nets.get_discriminator("dcgan", image_shape=(32, 32, 3), filters=(8, 16), batchnorm=True)
    assert D(G(np.zeros((2, 16), "float32"))).shape == (2, 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nets.get_generator("resnet"), "unknown network 'resnet'.*dcgan, mlp"),
        (lambda: nets.dcgan_generator(latent_dim=0), "latent_dim must be a positive integer, got 0"),
        (lambda: nets.dcgan_generator(image_shape=(30, 30, 1)), "power-of-two multiple of a small base"),
        (lambda: nets.mlp_discriminator(dropout=1.5), r"dropout must be in \[0, 1\), got 1.5"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_conditional_networks_and_spectral_norm():
    G = nets.get_generator("cdcgan", latent_dim=8, num_classes=10)
    D = nets.get_discriminator("cdcgan", num_classes=10, spectral_norm=True)
    images = G([np.zeros((2, 8), "float32"), np.array([1, 2], "int32")])
    assert images.shape == (2, 28, 28, 1)
    assert D([images, keras.ops.array([1, 2], "int32")]).shape == (2, 1)
    assert any(isinstance(l, keras.layers.SpectralNormalization) for l in D.layers)
    assert "cdcgan" in nets.CONDITIONAL


# ------------------------------------------------------------------ a family is one file + one registry line
def tiny_generator(latent_dim=8, image_shape=(28, 28, 1), filters=(16,)):
    z = keras.Input((latent_dim,))
    x = keras.layers.Dense(filters[0], activation="relu")(z)
    x = keras.layers.Dense(int(np.prod(image_shape)), activation="tanh")(x)
    return keras.Model(z, keras.layers.Reshape(image_shape)(x), name="tiny_generator")


def tiny_discriminator(image_shape=(28, 28, 1), filters=(16,), dropout=0.0):
    x_in = keras.Input(image_shape)
    x = keras.layers.Dense(filters[0], activation="relu")(keras.layers.Flatten()(x_in))
    return keras.Model(x_in, keras.layers.Dense(1)(keras.layers.Dropout(dropout)(x)), name="tiny_discriminator")


def test_a_family_registered_from_outside_builds_and_trains_through_build_gan(monkeypatch):
    import tensorflow as tf

    from kgan import training
    from kgan.config import TrainConfig

    monkeypatch.setitem(nets.NETWORKS, "tiny", (tiny_generator, tiny_discriminator))  # the one registry line
    config = TrainConfig(network="tiny", latent_dim=4, g_filters=(6,), d_filters=(5,), d_dropout=0.25,
                         batch_size=8).validate()
    gan = training.build_gan(config, (28, 28, 1))
    assert [l.units for l in gan.generator.layers if isinstance(l, keras.layers.Dense)] == [6, 784]
    assert [l.units for l in gan.discriminator.layers if isinstance(l, keras.layers.Dense)] == [5, 1]
    assert [l.rate for l in gan.discriminator.layers if isinstance(l, keras.layers.Dropout)] == [0.25]
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    history = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert gan.generate(2).shape == (2, 28, 28, 1)


@pytest.mark.parametrize(
    "network, setting, message",
    [
        ("tiny", dict(kernel_size=3), "the generator takes no argument 'kernel_size'"),
        ("tiny", dict(spectral_norm=True), "the discriminator takes no argument 'spectral_norm'"),
        ("mlp", dict(spectral_norm=True), "the discriminator takes no argument 'spectral_norm'"),
        ("mlp", dict(d_batchnorm=True), "the discriminator takes no argument 'batchnorm'"),
        ("mlp", dict(kernel_size=4), "the generator takes no argument 'kernel_size'"),
    ],
)
def test_an_argument_a_family_does_not_take_is_one_line_naming_it(monkeypatch, network, setting, message):
    """Named by the setting: "the discriminator takes no argument 'dropout'" left a user to find --d_dropout."""
    from kgan import training
    from kgan.config import TrainConfig

    monkeypatch.setitem(nets.NETWORKS, "tiny", (tiny_generator, tiny_discriminator))
    config = TrainConfig(network=network, **setting)
    (name, value), = setting.items()
    with pytest.raises(ConfigError, match=rf"^setting {name}={value!r} does not apply to network '{network}': {message}"):
        config.validate()
    with pytest.raises(ConfigError, match=message):
        training.build_gan(config, (28, 28, 1))


def test_unset_network_settings_leave_the_family_defaults():
    from kgan import training
    from kgan.config import TrainConfig

    gan = training.build_gan(TrainConfig(network="dcgan"), (28, 28, 1))
    assert gan.generator.count_params() == nets.dcgan_generator(latent_dim=100).count_params()
    assert gan.discriminator.count_params() == nets.dcgan_discriminator().count_params()
    gan = training.build_gan(TrainConfig(network="mlp", g_filters=(32,), d_filters=(16,)), (28, 28, 1))
    assert [l.units for l in gan.generator.layers if isinstance(l, keras.layers.Dense)] == [32, 784]


def test_the_projection_dot_is_keras_dot_without_a_batched_matmul():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.normal(size=(16, 300)).astype("float32")) for _ in range(2))
    results = []
    for layer in (nets.cdcgan.RowDot(), keras.layers.Dot(axes=1)):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            y = layer([a, b])
            loss = tf.reduce_sum(tf.sin(y))
        results.append([y.numpy(), *[g.numpy() for g in tape.gradient(loss, [a, b])]])
    a64, b64 = a.numpy().astype("float64"), b.numpy().astype("float64")
    y64 = (a64 * b64).sum(1, keepdims=True)  # the exact dot products and the loss's gradients
    exact = [y64, np.cos(y64) * b64, np.cos(y64) * a64]
    for name, row_dot, dot, want in zip(["output", "d_a", "d_b"], *results, exact):
        error = np.abs(row_dot - want).max()
        assert error < 1e-4 and error <= 2 * np.abs(dot - want).max() + 1e-6, name  # float32 sums of 300 terms
    graph = tf.function(lambda a, b: nets.cdcgan.RowDot()([a, b])).get_concrete_function(a, b).graph
    assert not any("MatMul" in op.type for op in graph.get_operations())
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:  # the output has the compute dtype, as Dot's, built symbolically or called eagerly
        layer = nets.cdcgan.RowDot()
        symbolic = layer([keras.Input((300,)), keras.Input((300,))])
        assert symbolic.dtype == layer([a, b]).dtype == keras.layers.Dot(axes=1)([a, b]).dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
