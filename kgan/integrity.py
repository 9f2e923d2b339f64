"""Checkpoint integrity: resume past a damaged checkpoint; read a run that is still training.

`resume_point(directory)` picks the checkpoint a run resumes from: the newest one whose files
read back completely (every tensor, with TensorFlow's per-tensor CRC32C checked). A damaged
newer one (truncated or bit-flipped data, a garbage `.index`, missing files) is reported in one
line and its files are moved into `<directory>/damaged/` (never deleted), and the `checkpoint`
index is rewritten to name the intact one; a garbage `checkpoint` index is moved aside the same
way and rebuilt from the `ckpt-*.index` files on disk. When no checkpoint is intact, a
`ConfigError` names the damaged files (one line, exit code 2; nothing is moved).

`snapshot(directory, dest)` copies the newest intact checkpoint out of a run another process may
be writing (its trainer saves, rotates and rewrites checkpoints in place): the copy is verified,
and retried from the new newest one if the files changed under it.
"""

import glob
import logging
import os
import re
import shutil

from kgan.errors import ConfigError

log = logging.getLogger(__name__)

DAMAGED = "damaged"
INDEX = "checkpoint"  # tf.train.CheckpointManager's index file
_NAME = re.compile(r"^(.+)-(\d+)\.index$")


def files(prefix):
    """The files of the checkpoint `prefix` (`.../ckpt-7`): its `.index` and `.data-*` shards that exist."""
    found = glob.glob(glob.escape(prefix) + ".data-*")
    if os.path.exists(prefix + ".index"):
        found.append(prefix + ".index")
    return sorted(found)


def damage(prefix):
    """None if every tensor of checkpoint `prefix` reads back with its checksum; else a one-line reason."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
        if not glob.glob(glob.escape(prefix) + ".data-*") and reader.get_variable_to_shape_map():
            return "its data file is missing"
    except Exception as e:  # noqa: BLE001  (TF raises OpError, IndexError, ValueError, ... for damaged files)
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        text = text.replace(prefix, os.path.basename(prefix))
        if "Failed to find any matching files" in text:
            return "its .index file is missing"
        return text[:160]
    return None


def _listed(directory):
    """(checkpoint prefixes the index names, newest first; whether the index is readable)."""
    import tensorflow as tf

    path = os.path.join(directory, INDEX)
    if not os.path.exists(path):
        return [], True
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001  (a garbled text proto)
        return [], False
    if state is None or not state.model_checkpoint_path:
        return [], False
    # get_checkpoint_state already joins relative paths in the index onto `directory` (which may itself be
    # relative, e.g. `run/checkpoints` from a command run in the run's parent): use them as they come.
    paths = list(state.all_model_checkpoint_paths)
    latest = state.model_checkpoint_path
    ordered = [latest] + [p for p in reversed(paths) if p != latest]
    return ordered, True


def _on_disk(directory):
    """Checkpoint prefixes with an `.index` file in `directory`, newest (highest number) first."""
    found = []
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        m = _NAME.match(name)
        if m:
            found.append((int(m.group(2)), os.path.join(directory, name[: -len(".index")])))
    return [p for _, p in sorted(found, reverse=True)]


def _number(prefix):
    m = re.search(r"-(\d+)$", prefix)
    return int(m.group(1)) if m else -1


def _candidates(directory):
    """(prefixes to try, newest first; the index was unreadable or missing while checkpoints exist)."""
    listed, readable = _listed(directory)
    disk = _on_disk(directory)
    if listed:
        # Older leftovers that the index no longer names (a rotation killed midway) come last; newer
        # unnamed files may be a save in progress, so they are never used while an index exists.
        oldest = min(_number(p) for p in listed)
        return listed + [p for p in disk if _number(p) < oldest and p not in listed], False
    return disk, bool(disk) and (not readable or not os.path.exists(os.path.join(directory, INDEX)))


def _set_aside(directory, paths):
    """Moves `paths` into `<directory>/damaged/<name>[.k]/`, a new folder per event; returns it."""
    base = os.path.join(directory, DAMAGED)
    os.makedirs(base, exist_ok=True)
    name = os.path.basename(paths[0]).split(".")[0]
    dest, k = os.path.join(base, name), 1
    while os.path.exists(dest):
        k += 1
        dest = os.path.join(base, f"{name}.{k}")
    os.makedirs(dest)
    for p in paths:
        os.replace(p, os.path.join(dest, os.path.basename(p)))
    return dest


def _write_index(directory, kept):
    from tensorflow.python.checkpoint import checkpoint_management

    checkpoint_management.update_checkpoint_state_internal(
        directory, model_checkpoint_path=kept[0], all_model_checkpoint_paths=list(reversed(kept)),
        save_relative_paths=True)


def resume_point(directory, repair=True, quiet=False):
    """The newest intact checkpoint in `directory` (None if there is none yet), and whether the
    directory was repaired (damaged files moved aside, the index rewritten).

    With `repair=False` (a reader, or a non-chief worker) damaged checkpoints are skipped and nothing
    is changed; `quiet` leaves the warnings about them to a later call. Raises `ConfigError` when
    checkpoints exist but none is intact.
    """
    directory = os.fspath(directory)
    candidates, bad_index = _candidates(directory)
    if not candidates:
        return None, False
    damaged = []
    chosen = None
    for prefix in candidates:
        reason = damage(prefix)
        if reason is None:
            chosen = prefix
            break
        damaged.append((prefix, reason))
    if chosen is None:
        what = "; ".join(f"{os.path.basename(p)} ({r})" for p, r in damaged)
        raise ConfigError(f"no intact checkpoint in {directory}: {what}; move them away to start over, or use "
                          "another --output_dir")
    for prefix, reason in [] if quiet else damaged:
        log.warning("checkpoint %s is damaged (%s): %s from %s", prefix, reason,
                    "moving it into damaged/ and resuming" if repair else "skipping it and reading",
                    os.path.basename(chosen))
    if bad_index and not quiet:
        log.warning("the checkpoint index %s is %s: resuming from %s, found on disk",
                    os.path.join(directory, INDEX),
                    "unreadable" if os.path.exists(os.path.join(directory, INDEX)) else "missing",
                    os.path.basename(chosen))
    if not repair or not (damaged or bad_index):
        return chosen, False
    for prefix, _ in damaged:
        if files(prefix):
            _set_aside(directory, files(prefix))
    if bad_index and os.path.exists(os.path.join(directory, INDEX)):
        _set_aside(directory, [os.path.join(directory, INDEX)])
    kept = [p for p in candidates[candidates.index(chosen):] if files(p)]
    _write_index(directory, kept)
    return chosen, True


def snapshot(directory, dest, attempts=20):
    """Copies the newest intact checkpoint of `directory` into `dest` (with its own index); returns the
    copy's prefix, or None if `directory` holds no checkpoint.

    Safe while a trainer writes `directory`: if the files change or vanish during the copy (a save,
    a rotation, an in-place rewrite), the copy fails verification or the index has moved on, and it
    is retried. Nothing in `directory` is changed. Raises `ConfigError` if no intact copy could be made.
    """
    directory, dest = os.fspath(directory), os.fspath(dest)
    last = None
    for _ in range(attempts):
        candidates, _ = _candidates(directory)
        if not candidates:
            return None
        for prefix in candidates:
            names = files(prefix)
            if not any(n.endswith(".index") for n in names):
                last = (prefix, "its .index file is missing")
                continue
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            try:
                for n in names:
                    shutil.copyfile(n, os.path.join(dest, os.path.basename(n)))
            except FileNotFoundError:
                last = (prefix, "removed while it was copied")
                break  # rotated away: the index has moved on; start over from it
            copy = os.path.join(dest, os.path.basename(prefix))
            reason = damage(copy)
            if reason is None:
                # A plain write: the copy is private (and TF's atomic writer is a kill point in tests/fault_server.py).
                name = os.path.basename(copy)
                with open(os.path.join(dest, INDEX), "w") as f:
                    f.write(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
                return copy
            last = (prefix, reason)
            if prefix == candidates[0] and _candidates(directory)[0][:1] != candidates[:1]:
                break  # the newest changed while we read it: start over from the new newest
    what = f"{os.path.basename(last[0])} ({last[1]})" if last else "none readable"
    raise ConfigError(f"no intact checkpoint could be read from {directory}: {what}")


def check_clusters_file(path, checkpoint_dir):
    """`ConfigError` (one line) if the run's k-means centroids file is damaged (every array read, the zip's
    CRC32s checked) or missing while checkpoints trained on its cluster ids exist."""
    import zipfile

    import numpy as np

    if not os.path.exists(path):
        if _on_disk(checkpoint_dir) or os.path.exists(os.path.join(checkpoint_dir, INDEX)):
            raise ConfigError(f"{path} is missing, but the checkpoints in {checkpoint_dir} were trained on its "
                              "cluster ids: put it back, or use a new output directory")
        return
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
        if bad is not None:
            raise ValueError(f"member {bad} fails its CRC check")
        with np.load(path) as f:
            centroids, prior = np.asarray(f["centroids"]), np.asarray(f["prior"])
    except Exception as e:  # noqa: BLE001  (zipfile, numpy and OSError each raise their own)
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{path} is damaged ({text[:120]}): put back an intact copy, or use a new output "
                          "directory") from e
    if centroids.ndim != 2 or prior.ndim != 1 or not np.isfinite(centroids).all() or not np.isfinite(prior).all():
        raise ConfigError(f"{path} is damaged (centroids {centroids.shape}, prior {prior.shape}, not finite or "
                          "malformed): put back an intact copy, or use a new output directory")
