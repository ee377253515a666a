"""The Cityscapes pairs budget runs, scored on their held-out block in float32 and int8.

    python bench/cityscapes_pairs.py --runs=runs/budget/*_cityscapes_pairs*

For each run folder (trained by a configs/*_cityscapes_pairs_budget.flags recipe): its
`best.keras` scored by `fcnseg.inference.evaluate` on the run's own validation split (the
held-out block, train[-300:]) with each 256x256 frame given whole, as trained; an int8 TFLite
file of that size, calibrated on --calibration_images frames of the run's training split,
scored the same way; and the int8 file's LiteRT latency on one held-out frame (--threads
threads, XNNPACK, the median of --repeats runs after --warmup, in --rounds rounds: the median
round). Epochs, the best epoch and the minutes of training (the sum of `epoch_seconds` in
`log.csv`, validation included) come from the run folder.

Runs do not outlive the machine that trained them, so each is recorded in --results (kept in
the repository; one entry per model and grouping, replaced when scored again). `recipe` is the
configs/ file whose --model_dir is the run folder and `command` the command that trains it.
"""

import csv
import datetime
import glob
import json
import os
import pathlib
import shlex
import statistics
import sys
import tempfile

import keras
import tensorflow as tf
from absl import app, flags, logging
from common import cpu_model, file_ms, finished_runs, merged_records, spec_key, write_tflite

from fcnseg import data
from fcnseg.cli.train_flags import run_config
from fcnseg.deploy.exporter import resized_images
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model
from fcnseg.inference.tiling import Tiling

SIZE = (256, 256)  # the pairs' photos, trained and deployed whole

flags.DEFINE_list("runs", [], "Run folders (glob patterns allowed) of Cityscapes pairs budget runs.")
flags.DEFINE_integer("repeats", 10, "Timed runs per round (the median is reported).")
flags.DEFINE_integer("warmup", 2, "Untimed runs before the timed ones.")
flags.DEFINE_integer("rounds", 3, "Timing rounds.")
flags.DEFINE_integer("threads", 2, "LiteRT interpreter threads.")
flags.DEFINE_integer("calibration_images", 32, "Training-split frames int8 calibration reads.")
flags.DEFINE_string("results", "bench/results/cityscapes_pairs.json", "The record of scored runs.")
FLAGS = flags.FLAGS


def score(run, folder):
    """The results entry (a dict) of one run folder."""
    config = run_config(run)
    metrics = json.loads(pathlib.Path(run, "metrics.json").read_text())
    log = list(_csv_rows(pathlib.Path(run, "log.csv")))
    best = os.path.join(run, "best.keras")
    logging.info("Scoring %s on %s.", best, config.val_split)
    held_out = data.open_source(config.dataset, config.data_dir, config.val_split, **config.dataset_options)
    calibration = resized_images(
        data.open_source(config.dataset, config.data_dir, config.train_split, **config.dataset_options),
        SIZE,
        FLAGS.calibration_images,
    )
    keras_scores = _scores(best, config)
    int8_path = folder / "int8.tflite"
    write_tflite(load_keras_model(best, float32=True), int8_path, SIZE, "int8", calibration)
    int8_scores = _scores(str(int8_path), config)
    image = resized_images(held_out, SIZE, 1)[0]
    rounds = [file_ms(int8_path, image, FLAGS.threads, FLAGS.repeats, FLAGS.warmup) for _ in range(FLAGS.rounds)]
    recipe = _recipe_of(run)
    keras.backend.clear_session()
    return {
        "model": spec_key(config.model, config.model_options),
        "grouping": config.dataset_options.get("grouping"),
        "recipe": recipe,
        "command": f"python -m fcnseg.train --flagfile={recipe}" if recipe else None,
        "held_out": config.val_split,
        "mean_iou": round(keras_scores["mean_iou"], 4),
        "class_iou": _rounded(keras_scores["per_class_iou"]),
        "class_precision": _rounded(keras_scores["per_class_precision"]),
        "class_recall": _rounded(keras_scores["per_class_recall"]),
        "int8_mean_iou": round(int8_scores["mean_iou"], 4),
        "int8_ms": round(statistics.median(rounds), 1),
        "int8_ms_rounds": [round(ms, 1) for ms in rounds],
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "minutes": round(sum(float(row["epoch_seconds"]) for row in log) / 60, 1),
        "scored": datetime.date.today().isoformat(),
    }


def _scores(model, config):
    evaluation = EvalConfig(
        model,
        config.dataset,
        config.data_dir,
        config.val_split,
        dict(config.dataset_options),
        tiling=Tiling(resize=SIZE),
    )
    return evaluate(evaluation, verbose=0)


def _rounded(values):
    return {name: None if value is None else round(value, 4) for name, value in values.items()}


def _csv_rows(path):
    with open(path, newline="") as file:
        yield from csv.DictReader(file)


def _recipe_of(run):
    """The configs/ recipe whose --model_dir is `run`, or None."""
    wanted = os.path.normpath(run)
    for recipe in sorted(glob.glob("configs/*.flags")):
        for line in pathlib.Path(recipe).read_text().splitlines():
            if line.startswith("--model_dir=") and os.path.normpath(line.partition("=")[2]) == wanted:
                return recipe
    return None


def recorded_runs(new_rows):
    """The --results entries with `new_rows` merged in (replacing entries of the same model and grouping);
    written back."""
    return merged_records(FLAGS.results, new_rows, key=lambda row: (row["grouping"] or "", row["model"]))


def main(argv):
    del argv
    folders = finished_runs(FLAGS.runs)
    with tempfile.TemporaryDirectory() as temporary:
        rows = recorded_runs([score(run, pathlib.Path(temporary)) for run in folders])
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
        f"LiteRT with {FLAGS.threads} threads (XNNPACK) at {SIZE[0]}x{SIZE[1]}.\n"
    )
    print("| model | grouping | epochs | best | minutes | mean IoU | int8 | int8 - float32 | int8 ms | recipe |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(
            f"| {row['model']} | {row['grouping'] or '19 classes'} | {row['epochs']} | {row['best_epoch']} | "
            f"{row['minutes']:.0f} | {row['mean_iou']:.4f} | {row['int8_mean_iou']:.4f} | "
            f"{row['int8_mean_iou'] - row['mean_iou']:+.4f} | {row['int8_ms']:.1f} | {row['recipe']} |"
        )


if __name__ == "__main__":
    app.run(main)
