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

import csv
import json
import os
import pathlib

from fcnseg.data.specs import CLASSES_FILE
from fcnseg.training.config import TrainConfig

FLAGS_FILE = "flags.txt"
CONFIG_FILE = "run_config.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.csv"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
BACKUP_DIR = "backup"
# The logged metric that chooses `best.keras`.
MONITOR = "val_mean_iou"


def read_config(folder):
    """The `TrainConfig` in `folder`'s `run_config.json`, or None if it has none."""
    path = pathlib.Path(folder) / CONFIG_FILE
    return TrainConfig.from_json(path.read_text(), str(path)) if path.is_file() else None


def write_config(folder, config):
    """Writes `config` as `folder`'s `run_config.json`."""
    (pathlib.Path(folder) / CONFIG_FILE).write_text(config.to_json())


def write_run_files(out_dir, config, spec, flags_text=None):
    """Writes the run's `run_config.json`, `classes.json` and (if given) `flags.txt` into `out_dir`."""
    write_config(out_dir, config)
    (pathlib.Path(out_dir) / CLASSES_FILE).write_text(spec.to_json())
    if flags_text is not None:
        (pathlib.Path(out_dir) / FLAGS_FILE).write_text(flags_text)


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
    with open(os.path.join(out_dir, LOG_FILE), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def best_so_far(out_dir):
    """The best logged `MONITOR` value, if `best.keras` exists, else None."""
    best = _best_row(out_dir)
    return float(best[MONITOR]) if best and os.path.exists(os.path.join(out_dir, BEST_MODEL)) else None


def best_epoch(out_dir):
    """The (1-based) epoch with the best logged `MONITOR` value, or None."""
    best = _best_row(out_dir)
    return int(best["epoch"]) + 1 if best else None


def _log_rows(out_dir):
    path = os.path.join(out_dir, LOG_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _best_row(out_dir):
    rows = [row for row in _log_rows(out_dir) if row.get(MONITOR)]
    return max(rows, key=lambda row: float(row[MONITOR])) if rows else None
