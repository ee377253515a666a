"""The files of a run folder: its saved config, the epochs it has done, and its log.

A run folder (`model_dir`, or a worker's folder under it) holds:

- `flags.txt`: the flags of the run (text given by the command), reusable as a flagfile;
- `run_config.json`: the run's `TrainConfig`, which resuming, evaluation and export read;
- `classes.json`: the class names and colours, which evaluation, prediction and export read;
- `best.keras` (best validation mean IoU so far) and `last.keras`;
- `backup/`: the state `BackupAndRestore` resumes from after the run is killed;
- `log.csv`, `tensorboard/`, `class_weights.json` (when weighted), and at the end
  `metrics.json`: the per-class IoU, mean IoU and pixel accuracy of `best.keras` on the
  validation split.
"""

import contextlib
import csv
import fcntl
import io
import json
import os
import pathlib

from fcnseg import files
from fcnseg.data.specs import CLASSES_FILE
from fcnseg.training.config import TrainConfig

FLAGS_FILE = "flags.txt"
CONFIG_FILE = "run_config.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.csv"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
BACKUP_DIR = "backup"
LOCK_FILE = ".lock"
# The logged metric that chooses `best.keras`.
MONITOR = "val_mean_iou"


def read_config(folder):
    """The `TrainConfig` in `folder`'s `run_config.json`, or None if it has none."""
    path = pathlib.Path(folder) / CONFIG_FILE
    return TrainConfig.from_json(path.read_text(), str(path)) if path.is_file() else None


def write_config(folder, config):
    """Writes `config` as `folder`'s `run_config.json`."""
    files.write_text(pathlib.Path(folder) / CONFIG_FILE, config.to_json())


def write_run_files(out_dir, config, spec, flags_text=None):
    """Writes the run's `run_config.json`, `classes.json` and (if given) `flags.txt` into `out_dir`."""
    write_config(out_dir, config)
    files.write_text(pathlib.Path(out_dir) / CLASSES_FILE, spec.to_json())
    if flags_text is not None:
        files.write_text(pathlib.Path(out_dir) / FLAGS_FILE, flags_text)


@contextlib.contextmanager
def lock(out_dir):
    """Holds an exclusive lock on the run folder `out_dir` while the block runs.

    It is an OS lock (`flock` on `out_dir/.lock`), so the system releases it when the
    process ends, however it ends: a killed run's folder is free for the same command to resume.
    """
    path = os.path.join(out_dir, LOCK_FILE)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ValueError(
            f"{out_dir}: another training (process {holder}) is running in this folder; wait for it to end, "
            "or give another --model_dir."
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


def append_log_row(out_dir, row):
    """Adds a row (a dict; `epoch` first) to `log.csv`, rewriting the file atomically."""
    rows = [*_log_rows(out_dir), {key: str(value) for key, value in row.items()}]
    columns = list(dict.fromkeys(key for each in rows for key in each))
    write_log(out_dir, columns, rows)


def check_same_run(out_dir, config):
    """Fails if `out_dir` holds a run whose config differs from `config` but for `RESUMABLE_CHANGES`."""
    before = read_config(out_dir)
    changed = config.changes_from(before) if before is not None else []
    if changed:
        raise ValueError(
            f"{out_dir or '.'} holds a run with other flags ({', '.join(changed)}); "
            "give a new --model_dir, or the same flags to resume it."
        )


def completed_epochs(out_dir):
    """The epochs the backup in `out_dir` has finished, 0 if none."""
    path = os.path.join(out_dir, BACKUP_DIR, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    try:
        with open(path) as file:
            return int(json.load(file)["epoch"])
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"{path} is damaged ({error}); delete {os.path.dirname(path)} to train from the start."
        ) from None


def truncate_log(out_dir, epochs):
    """Drops log rows of epochs after the last backup, which a resumed run trains again."""
    rows = _log_rows(out_dir)
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    write_log(out_dir, rows[0].keys(), kept)


def write_log(out_dir, columns, rows):
    """Writes `log.csv` (atomically) with these columns and rows (dicts)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    files.write_text(os.path.join(out_dir, LOG_FILE), text.getvalue())


def best_so_far(out_dir):
    """The best logged `MONITOR` value, if `best.keras` exists, else None."""
    best = _best_row(out_dir)
    return float(best[MONITOR]) if best and os.path.exists(os.path.join(out_dir, BEST_MODEL)) else None


def best_epoch(out_dir):
    """The (1-based) epoch with the best logged `MONITOR` value, or None."""
    best = _best_row(out_dir)
    return int(best["epoch"]) + 1 if best else None


def last_log_row(out_dir):
    """The last epoch's row of `log.csv` (a dict of strings), or None."""
    rows = _log_rows(out_dir)
    return rows[-1] if rows else None


def _log_rows(out_dir):
    path = os.path.join(out_dir, LOG_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    for number, row in enumerate(rows, start=2):
        if not str(row.get("epoch", "")).isdigit():
            raise ValueError(f"{path}: line {number} is not an epoch's row; repair or delete the file to go on.")
    return rows


def _best_row(out_dir):
    rows = [row for row in _log_rows(out_dir) if row.get(MONITOR)]
    return max(rows, key=lambda row: float(row[MONITOR])) if rows else None
