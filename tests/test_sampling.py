"""kgan.sampling: truncation, spherical interpolation, sample folders and .npz files for external FID tools."""

import os

import keras
import numpy as np
import pytest

import kgan
from kgan import features, sampling
from kgan.errors import ConfigError

LATENT_DIM = 8


def _tiny_gan(seed=0):
    keras.utils.set_random_seed(seed)
    g = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(4 * 4 * 3, activation="tanh"),
                          keras.layers.Reshape((4, 4, 3))])
    d = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(1)])
    return kgan.GAN(g, d)


@pytest.fixture(scope="module")
def gan():
    return _tiny_gan()


@pytest.fixture(scope="module")
def sgan():
    keras.utils.set_random_seed(2)
    g = features.self_conditioned(kgan.nets.cdcgan_generator(latent_dim=LATENT_DIM, num_classes=5, filters=(8, 4, 4)),
                                  5, prior=[0.4, 0.1, 0.2, 0.05, 0.25])
    return kgan.GAN(g, kgan.nets.cdcgan_discriminator(num_classes=5, filters=(4, 4)))


# ------------------------------------------------------------------ truncation
def test_shrink_scales_toward_the_mean():
    z = np.random.default_rng(0).standard_normal((16, LATENT_DIM)).astype("float32")
    assert np.array_equal(sampling.truncate(z, 1.0), z)
    assert np.array_equal(sampling.truncate(z, 0.7), z * np.float32(0.7))
    assert not np.any(sampling.truncate(z, 0.0))
    kept = sampling.truncate(z, 0.5, keep=1)
    assert np.array_equal(kept[:, 0], z[:, 0]) and np.array_equal(kept[:, 1:], z[:, 1:] * np.float32(0.5))


def test_resample_redraws_only_components_beyond_the_threshold():
    z = np.random.default_rng(1).standard_normal((256, LATENT_DIM)).astype("float32")
    out = sampling.truncate(z, mode="resample", threshold=1.0, seed=3)
    inside = np.abs(z) <= 1.0
    assert np.abs(out).max() <= 1.0
    assert np.array_equal(out[inside], z[inside])
    assert np.array_equal(out, sampling.truncate(z, mode="resample", threshold=1.0, seed=3))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(psi=1.5), "in [0, 1]"), (dict(psi=True), "in [0, 1]"), (dict(mode="clip"), "unknown truncation mode"),
    (dict(mode="resample"), "threshold > 0"), (dict(threshold=2.0), "resample' only")])
def test_bad_truncation_arguments_say_what_is_wrong(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        sampling.truncate(np.zeros((2, 3)), **kwargs)


def test_generate_truncation_shrinks_the_seeds_latents(gan):
    z = gan.latents(8, seed=4)
    want = gan.generate(8, latents=z * np.float32(0.6))
    assert np.array_equal(gan.generate(8, seed=4, truncation=0.6), want)
    assert np.array_equal(gan.generate(8, seed=4, truncation=1.0), gan.generate(8, seed=4))
    # psi = 0: every image is the generator's image of the mean latent
    flat = gan.generate(4, seed=1, truncation=0.0)
    assert np.abs(flat - flat[:1]).max() == 0


def test_self_conditioned_truncation_keeps_the_cluster(sgan):
    z = sgan.latents(64, seed=0)
    ids = keras.ops.convert_to_numpy(sgan.fake_labels(z, None))
    shrunk = sampling.truncate(z, 0.1, keep=sampling._keep(sgan))
    assert np.array_equal(keras.ops.convert_to_numpy(sgan.fake_labels(shrunk, None)), ids)
    assert np.allclose(sgan.generate(64, seed=0, truncation=0.1), sgan.generate(64, latents=shrunk), atol=1e-6)


# --------------------------------------------------------------- interpolation
def test_slerp_endpoints_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    assert np.allclose(sampling.slerp(a, b, 0.0), a) and np.allclose(sampling.slerp(a, b, 1.0), b)
    mid = sampling.slerp(a, b, 0.5)
    # on the great circle the norm stays between the endpoints' (a straight line dips below both)
    assert min(np.linalg.norm(a), np.linalg.norm(b)) - 1e-9 <= np.linalg.norm(mid) <= max(
        np.linalg.norm(a), np.linalg.norm(b)) + 1e-9
    assert np.linalg.norm((a + b) / 2) < np.linalg.norm(mid)
    assert np.allclose(sampling.slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: linear


def test_interpolation_passes_through_the_seeds(gan):
    z = sampling.interpolation_latents([3, 7, 11], 4, LATENT_DIM)
    assert z.shape == (9, LATENT_DIM) and z.dtype == np.float32
    for k, seed in enumerate([3, 7, 11]):
        assert np.array_equal(z[4 * k], gan.latents(1, seed)[0])
    frames = gan.interpolate([3, 7, 11], steps=4)
    assert frames.shape == (9, 4, 4, 3)
    assert np.allclose(frames[4], gan.generate(1, seed=7)[0], atol=1e-6)
    with pytest.raises(ConfigError, match="at least two"):
        sampling.interpolation_latents([3], 4, LATENT_DIM)


def test_self_conditioned_interpolation_switches_cluster_once(sgan):
    z = sampling.interpolation_latents([0, 1], 8, LATENT_DIM, keep=1)
    assert np.array_equal(z[:4, 0], np.repeat(z[0, 0], 4)) and np.array_equal(z[4:, 0], np.repeat(z[8, 0], 5))
    ids = keras.ops.convert_to_numpy(sgan.fake_labels(z, None))
    assert len(set(ids[:4].tolist())) == 1 and len(set(ids[4:].tolist())) == 1
    assert sgan.interpolate([0, 1], steps=8).shape[0] == 9


def test_write_interpolation_gif_and_grid(gan, tmp_path):
    from PIL import Image

    frames = gan.interpolate("0,1", steps=5)
    paths = sampling.write_interpolation(frames, gif_path=tmp_path / "i.gif", grid_path=tmp_path / "i.png", scale=2)
    assert len(paths) == 2
    gif = Image.open(tmp_path / "i.gif")
    assert gif.n_frames == 6 and gif.size == (8, 8)
    assert Image.open(tmp_path / "i.png").size[0] == 6 * (4 + 2) + 2
    # one grid row per segment, seed to seed
    frames = gan.interpolate([0, 1, 2], steps=4)
    sampling.write_interpolation(frames, grid_path=tmp_path / "rows.png", steps=4)
    assert Image.open(tmp_path / "rows.png").size == (5 * 6 + 2, 2 * 6 + 2)


# ------------------------------------------------------------------ sample sets
def test_png_folder_is_byte_identical_for_the_same_seed(gan, tmp_path):
    a = sampling.write_samples(gan, 23, tmp_path / "a", seed=5, batch_size=8, progress=False)
    gan.write_samples(23, tmp_path / "b", seed=5, batch_size=16, progress=False)
    names = sorted(os.listdir(a))
    assert names == [f"{i:06d}.png" for i in range(23)] == sorted(os.listdir(tmp_path / "b"))
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    sampling.write_samples(gan, 23, tmp_path / "c", seed=6, progress=False)
    assert any((tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes() for n in names)


def test_npz_holds_the_same_uint8_images_as_the_pngs(gan, tmp_path):
    from PIL import Image

    path = gan.write_samples(10, str(tmp_path / "s.npz"), seed=2, truncation=0.8, progress=False)
    with np.load(path) as f:
        assert list(f.keys()) == ["arr_0"]
        x = f["arr_0"]
    assert x.dtype == np.uint8 and x.shape == (10, 4, 4, 3)
    assert np.array_equal(x, sampling.to_uint8(gan.generate(10, seed=2, truncation=0.8)))
    gan.write_samples(10, tmp_path / "p", seed=2, truncation=0.8, progress=False)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p" / "000007.png")), x[7])
    second = tmp_path / "t.npz"
    gan.write_samples(10, str(second), seed=2, truncation=0.8, progress=False)
    assert second.read_bytes() == (tmp_path / "s.npz").read_bytes()


def test_grayscale_pngs_are_8_bit_single_channel(tmp_path):
    from PIL import Image

    keras.utils.set_random_seed(0)
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(9, activation="tanh"), keras.layers.Reshape((3, 3, 1))])
    d = keras.Sequential([keras.Input((3, 3, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gray = kgan.GAN(g, d)
    gray.write_samples(3, tmp_path / "g", progress=False)
    im = Image.open(tmp_path / "g" / "000000.png")
    assert im.mode == "L" and im.size == (3, 3)


def test_refuses_a_folder_that_already_holds_pngs(gan, tmp_path):
    gan.write_samples(2, tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="already holds PNG"):
        gan.write_samples(2, tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="ending in .npz"):
        gan.write_samples(2, tmp_path / "y", format="npz", progress=False)
    with pytest.raises(ConfigError, match="positive integer"):
        gan.write_samples(0, tmp_path / "z", progress=False)



def test_an_existing_sample_file_is_never_overwritten(gan, tmp_path):
    old = b"an earlier sample set"
    for name in ("s.npz", "i.gif", "k.png"):
        (tmp_path / name).write_bytes(old)
    with pytest.raises(ConfigError, match="s.npz already exists: pick a new file name"):
        gan.write_samples(3, tmp_path / "s.npz", progress=False)
    frames = gan.interpolate([0, 1], steps=2)
    with pytest.raises(ConfigError, match="i.gif already exists"):
        sampling.write_interpolation(frames, gif_path=tmp_path / "i.gif", grid_path=tmp_path / "i.png")
    with pytest.raises(ConfigError, match="k.png already exists"):  # the grid: neither file is written
        sampling.write_interpolation(frames, gif_path=tmp_path / "k.gif", grid_path=tmp_path / "k.png")
    assert sorted(os.listdir(tmp_path)) == ["i.gif", "k.png", "s.npz"]
    assert all((tmp_path / name).read_bytes() == old for name in ("s.npz", "i.gif", "k.png"))


@pytest.mark.parametrize("out, format, fragment", [
    ("f.npz/sub/", None, "cannot write {tmp}/f.npz/sub/: {tmp}/f.npz is a file, not a folder"),
    ("f.npz/x.npz", None, "cannot write {tmp}/f.npz/x.npz: {tmp}/f.npz is a file, not a folder"),
    ("f.npz", "png", "{tmp}/f.npz is a file, not a folder"),
    ("d/x.npz", None, "cannot write {tmp}/d/x.npz: folder {tmp}/d does not exist"),
    ("s.txt", None, "{tmp}/s.txt ends in .txt: expected a FILE.npz or a folder for PNGs"),
    ("s.png", None, "{tmp}/s.png ends in .png: expected a FILE.npz or a folder for PNGs"),
])
def test_an_unwritable_out_says_what_is_wrong_before_anything_is_written(gan, tmp_path, out, format, fragment):
    (tmp_path / "f.npz").write_bytes(b"keep")
    with pytest.raises(ConfigError) as e:
        gan.write_samples(3, f"{tmp_path}/{out}", format=format, progress=False)
    assert str(e.value).startswith(fragment.format(tmp=tmp_path)), str(e.value)
    assert os.listdir(tmp_path) == ["f.npz"] and (tmp_path / "f.npz").read_bytes() == b"keep"


def test_check_output_names_the_os_reason(tmp_path):
    with pytest.raises(ConfigError, match=r"^cannot write /proc/kgan-no-such-folder/: No such file or directory"):
        sampling.check_output("/proc/kgan-no-such-folder/")
    with pytest.raises(ConfigError, match=r"^cannot write /proc/kgan.npz: "):
        sampling.check_output("/proc/kgan.npz")
    with pytest.raises(ConfigError, match=r"^cannot write /proc/kgan/i.gif: "):
        sampling.check_new_file("/proc/kgan/i.gif", make_parents=True)
    assert sampling.check_output(tmp_path / "new" / "folder") == "png" and not (tmp_path / "new").exists()
    assert os.listdir(tmp_path) == []  # the probe file is gone


def test_a_folder_may_have_a_suffix_when_it_says_so(gan, tmp_path):
    for out in ("s.txt/", "samples_psi0.7", "x.v2/"):
        gan.write_samples(2, f"{tmp_path}/{out}", progress=False)
        assert sorted(os.listdir(tmp_path / out)) == ["000000.png", "000001.png"]
    (tmp_path / "old.v3").mkdir()
    gan.write_samples(2, tmp_path / "old.v3", progress=False)  # an existing folder
    assert len(os.listdir(tmp_path / "old.v3")) == 2


def test_a_failed_png_write_leaves_no_truncated_png(gan, tmp_path, monkeypatch):
    import errno

    real_open, opened = open, []

    class FullDisk:
        def __init__(self, path, mode):
            self.f = real_open(path, mode)
            opened.append(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            if len(opened) == 3:
                self.f.write(data[:10])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

    monkeypatch.setattr(sampling, "open", FullDisk, raising=False)
    with pytest.raises(OSError, match="No space left"):
        gan.write_samples(5, tmp_path / "p", progress=False)
    assert sorted(os.listdir(tmp_path / "p")) == ["000000.png", "000001.png"]

def test_to_uint8_rounds_half_up():
    assert sampling.to_uint8(np.array([0.0, 0.5 / 255, 1.49 / 255, 1.0, 1.2, -0.1])).tolist() == [0, 1, 1, 255, 255, 0]
