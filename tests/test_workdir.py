"""kgan.workdir: config.json of runs written before network settings could be unset still loads and resumes; a
loaded run is logged by its own checkpoint."""

import dataclasses
import json

import pytest

from kgan import workdir
from kgan.config import TrainConfig
from kgan.errors import ConfigError

# config.json's network settings as every run wrote them before they could be unset (the old defaults).
OLD_NETWORK_DEFAULTS = dict(kernel_size=5, negative_slope=0.2, d_dropout=0.3, d_batchnorm=False, sync_batchnorm=False,
                            spectral_norm=False, g_filters=None, d_filters=None)


def _write_old_run(path, **settings):
    saved = {**json.loads(workdir.config_json(TrainConfig(), (28, 28, 1))), **OLD_NETWORK_DEFAULTS, **settings}
    (path / workdir.CONFIG).write_text(json.dumps(saved))


def test_an_old_mlp_run_reads_without_the_settings_mlp_never_took(tmp_path):
    _write_old_run(tmp_path, network="mlp", g_filters=[32], d_filters=[32])
    config, image_shape = workdir.read_config(str(tmp_path))
    assert image_shape == (28, 28, 1) and config.g_filters == (32,)
    assert config.kernel_size is None and config.d_batchnorm is None and config.spectral_norm is None
    assert config.d_dropout == 0.3 and config.negative_slope == 0.2  # mlp takes these: kept
    workdir.check_workdir(str(tmp_path), TrainConfig(network="mlp", g_filters=(32,), d_filters=(32,)), (28, 28, 1))


def test_an_old_dcgan_run_resumes_with_unset_settings_and_refuses_other_ones(tmp_path):
    _write_old_run(tmp_path, network="dcgan")
    workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan"), (28, 28, 1))  # 5 == dcgan's default
    workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", kernel_size=5), (28, 28, 1))
    with pytest.raises(ConfigError, match="holds a run with kernel_size=5, but this run asks for kernel_size=3"):
        workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", kernel_size=3), (28, 28, 1))
    with pytest.raises(ConfigError, match="spectral_norm=False, but this run asks for spectral_norm=True"):
        workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", spectral_norm=True), (28, 28, 1))


def test_resuming_with_other_training_settings_is_allowed_and_named_in_a_warning(tmp_path, caplog):
    """A resumed run may change its batch, seed or augmentation (not its network): one warning names each change,
    since config.json and flags.cfg then record the new command (they changed silently until 2026-12-07)."""
    _write_old_run(tmp_path, network="dcgan")
    assert workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan"), (28, 28, 1)) == []
    assert "other settings" not in caplog.text
    changed = workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", batch_size=16, seed=7,
                                                               diff_augment="translation"), (28, 28, 1))
    assert changed == ["diff_augment '' -> 'translation'", "batch_size 256 -> 16", "seed 0 -> 7"]
    assert f"resuming {tmp_path} with other settings than it was trained with: " + ", ".join(changed) in caplog.text


def test_history_keeps_every_command_a_resume_replaced(tmp_path, mnist_dir):
    """config.json holds the latest command's settings; history.jsonl one line per start, with its step."""
    from kgan import training

    config = TrainConfig(network="mlp", g_filters=(8,), d_filters=(8,), latent_dim=4, data_dir=mnist_dir,
                         batch_size=16, epochs=1, steps_per_epoch=2, num_samples=4, verbose=0)
    training.train_and_evaluate(config, str(tmp_path))
    training.train_and_evaluate(dataclasses.replace(config, batch_size=8, epochs=2), str(tmp_path))
    history = [json.loads(line) for line in (tmp_path / workdir.HISTORY).read_text().splitlines()]
    assert [(h["from_step"], h["config"]["batch_size"], h["config"]["epochs"]) for h in history] == [(0, 16, 1),
                                                                                                      (2, 8, 2)]
    assert json.loads((tmp_path / workdir.CONFIG).read_text())["batch_size"] == 8
    assert "flags" not in history[0]  # a library call has no command line
    with open(tmp_path / workdir.HISTORY, "a") as f:
        f.write('{"started": "2026-')  # a kill mid-write
    workdir.append_history(str(tmp_path), config, "--epochs=3\n")
    assert json.loads((tmp_path / workdir.HISTORY).read_text().splitlines()[-1])["flags"] == "--epochs=3\n"


def test_a_folder_run_recorded_under_a_tfds_name_resumes_as_folder(tmp_path, caplog):
    """Such runs came from a folder of images under `mnist` (read as a folder until 2026-12-07); loading them now
    asks for dataset 'folder', which must not then be refused as another run. Other changes still are."""
    _write_old_run(tmp_path, network="dcgan", dataset="mnist")
    assert workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", dataset="folder"), (28, 28, 1)) == []
    assert "was recorded as dataset 'mnist'; resuming it as dataset 'folder'" in caplog.text
    with pytest.raises(ConfigError, match="holds a run with dataset='mnist', but this run asks for dataset='idx'"):
        workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", dataset="idx"), (28, 28, 1))


def test_no_run_and_an_unreadable_config_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="holds no training run"):
        workdir.read_config(str(tmp_path))
    (tmp_path / workdir.CONFIG).write_text("{")
    with pytest.raises(ConfigError, match="is unreadable"):
        workdir.load_run(str(tmp_path))


def test_loading_a_run_logs_its_own_checkpoint_not_a_resume_from_a_temporary_copy(tmp_path, mnist_dir, caplog):
    """`load_run` restores a verified temporary copy: the log names the run's checkpoint and says "loaded" (it
    said "resumed from /tmp/kgan-load-.../ckpt-N", as if training went on, before 2026-12-07)."""
    import logging

    from kgan import training

    config = TrainConfig(network="mlp", g_filters=(8,), d_filters=(8,), latent_dim=4, data_dir=mnist_dir,
                         batch_size=16, epochs=1, steps_per_epoch=2, num_samples=4, verbose=0)
    training.train_and_evaluate(config, str(tmp_path / "run"))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        workdir.load_run(str(tmp_path / "run"))
    text = caplog.text
    assert f"loaded {tmp_path / 'run' / 'checkpoints' / 'ckpt-2'}: 1 epoch(s) done, generator step 2" in text, text
    assert "resumed from" not in text and "kgan-load-" not in text, text


def test_precision_changes_into_and_out_of_mixed_float16_are_refused_and_others_named(tmp_path, caplog):
    """mixed_float16 wraps both optimizers in a LossScaleOptimizer: its checkpoint state is another shape, and the
    resume failed with "does not match this model (a different network or size?)" (helper-18's review)."""
    _write_old_run(tmp_path, network="dcgan")  # float32
    with pytest.raises(ConfigError, match=r"^\S+ holds a run with precision='float32', but this run asks for "
                                          r"precision='mixed_float16': mixed_float16's loss-scaled optimizers"):
        workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", precision="mixed_float16"), (28, 28, 1))
    assert workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan", precision="mixed_bfloat16"),
                                 (28, 28, 1)) == ["precision 'float32' -> 'mixed_bfloat16'"]
    _write_old_run(tmp_path, network="dcgan", precision="mixed_float16")
    with pytest.raises(ConfigError, match="precision='mixed_float16', but this run asks for precision='float32'"):
        workdir.check_workdir(str(tmp_path), TrainConfig(network="dcgan"), (28, 28, 1))


def test_a_run_from_before_fingerprints_gets_one_on_resume_with_a_warning(tmp_path, mnist_dir, caplog):
    from kgan.data import split

    config = TrainConfig(dataset="idx", data_dir=mnist_dir, holdout=0.2)
    recorded = split.plan("idx", mnist_dir, holdout=0.2)
    old = {k: v for k, v in recorded.items() if k != "data"}  # as config.json recorded it before 2026-12-08
    _write_old_run(tmp_path, dataset="idx", data_dir=mnist_dir, data_split=old)
    assert workdir.data_split(str(tmp_path), config) == recorded
    assert "recorded no fingerprint of the images it holds out from" in caplog.text
    caplog.clear()
    _write_old_run(tmp_path, dataset="idx", data_dir=mnist_dir, data_split=recorded)
    assert workdir.data_split(str(tmp_path), config) == recorded and "fingerprint" not in caplog.text
