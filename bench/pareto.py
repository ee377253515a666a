"""The accuracy/latency fronts: every model's TFLite cost, the CamVid score of budget-trained runs, and
the Cityscapes pairs runs that bench/cityscapes_pairs.py recorded.

    python bench/pareto.py --data_dir=../shared/data/camvid --runs=runs/budget/*
    python bench/pareto.py --models=bisenetv2,ddrnet23_slim --runs= --quantize=int8 --plot=

Cost (--models; default every registered model, the minimalistic LR-ASPPs and the
configurations of the budget runs): each model with random weights and 11 classes converted
to TFLite in each --quantize precision at --height x --width (int8 calibrated on
--calibration_images CamVid train frames), its file size, the LiteRT latency of one CamVid
val frame (--threads threads, XNNPACK) and its forward GFLOPs (the float32 Keras graph at
1 x height x width x 3, `tf.compat.v1.profiler`, a multiply-add counting 2). Every file is
written first; then each is timed, the median of --repeats runs after --warmup, file after
file in --rounds rounds (the table gives the median round and the range of rounds). The log
says "Timing" when the writing is done: a training sharing the machine can be paused
(SIGSTOP) for the timing alone.

Accuracy (--runs): each run folder's `best.keras` scored on CamVid val by
`fcnseg.inference.evaluate` as the edge runner (`export/edge_predict.py`) runs a file:
each 360x480 frame resized to --height x --width, one forward pass, the mask resized back
(`--resize=352,480` of `python -m fcnseg.evaluate`). Scored so: the Keras model and an int8
TFLite file of that size calibrated as above, so that their difference is int8's alone and
the score belongs to the latency (one pass at that size). Also recorded: the Keras model on
the frame padded to 384x480, the training's own validation, which chose `best.keras`; the
run's epochs and best epoch from its `metrics.json`, and the int8 file's latency.

Runs do not outlive the machine that trained them, so each scored run is recorded in
--results (a JSON file kept in the repository, one entry per model and options, replaced
when scored again), and the table and --plot take every recorded run: val mean IoU
against the int8 latency that this invocation measured for the same model and options
(a trained file and a random one of the same architecture run the same operators).
"""

import datetime
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
from common import (
    camvid_frames,
    cpu_model,
    exit_unless_valid,
    finished_runs,
    forward_flops,
    merged_records,
    model_spec,
    random_model,
    rounds_cell,
    spec_key,
    time_files,
    time_tflite,
    write_tflite,
)

import fcnseg
from fcnseg import data
from fcnseg.cli.train_flags import run_config
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model
from fcnseg.inference.tiling import Tiling

NUM_CLASSES = 11  # CamVid's classes
DEFAULT_MODELS = fcnseg.list_models() + [
    "lraspp_mobilenetv3_large:minimalistic=True",
    "lraspp_mobilenetv3_small:minimalistic=True",
    "bisenetv2:head_channels=128",  # the budget runs' configurations (configs/*_camvid.flags)
    "unet:base_filters=16:depth=4",
]

flags.DEFINE_list("models", DEFAULT_MODELS, "Models to cost (random weights): name or name:option=value:...")
flags.DEFINE_list("runs", [], "Run folders (glob patterns allowed) whose best.keras to score on CamVid val.")
flags.DEFINE_list("quantize", ["float32", "int8"], "TFLite precisions to time.")
flags.DEFINE_integer("height", 352, "Input height: CamVid's 360 rounded down to a multiple of 32.")
flags.DEFINE_integer("width", 480, "Input width.")
flags.DEFINE_integer("repeats", 10, "Timed runs per file and round (the median is reported).")
flags.DEFINE_integer("warmup", 2, "Untimed runs before the timed ones.")
flags.DEFINE_integer("rounds", 3, "Timing rounds over all files.")
flags.DEFINE_integer("threads", 2, "LiteRT interpreter threads.")
flags.DEFINE_integer("calibration_images", 32, "CamVid train frames int8 calibration reads.")
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout); needed for --runs.")
flags.DEFINE_string("plot", "docs/images/pareto.png", "Where to draw the front (PNG); empty for no plot.")
flags.DEFINE_string("results", "bench/results/front.json", "The record of scored runs, updated with --runs.")
flags.DEFINE_string(
    "cityscapes_results",
    "bench/results/cityscapes_pairs.json",
    "The Cityscapes pairs runs (bench/cityscapes_pairs.py) drawn beside CamVid's front; empty for none.",
)
FLAGS = flags.FLAGS


def model_costs(size, image, calibration, folder):
    """Rows (model, GFLOPs, {precision: (MB, [ms of each round])}) for every --models entry."""
    gflops, paths = {}, {}
    for index, text in enumerate(FLAGS.models):
        name, options = model_spec(text)
        logging.info("Writing %s.", text)
        gflops[text] = forward_flops(name, *size, NUM_CLASSES, **options) / 1e9
        model = random_model(text, NUM_CLASSES)
        for quantize in FLAGS.quantize:
            paths[text, quantize] = folder / f"cost_{index}_{quantize}.tflite"
            write_tflite(model, paths[text, quantize], size, quantize, calibration)
        keras.backend.clear_session()
    logging.info("Timing %d files in %d rounds.", len(paths), FLAGS.rounds)
    times = time_files(paths, image, FLAGS.threads, FLAGS.repeats, FLAGS.warmup, FLAGS.rounds)
    return [
        (text, gflops[text], {q: (paths[text, q].stat().st_size / 1e6, times[text, q]) for q in FLAGS.quantize})
        for text in FLAGS.models
    ]


def run_scores(folders, size, image, calibration, folder):
    """A results entry (a dict) for each run folder."""
    rows = []
    (folder / "classes.json").write_text(data.dataset_spec("camvid").to_json())
    for run in folders:
        config = run_config(run)
        with open(os.path.join(run, "metrics.json")) as file:
            metrics = json.load(file)
        best = os.path.join(run, "best.keras")
        logging.info("Scoring %s.", best)
        padded_iou = val_mean_iou(best, Tiling())
        keras_iou = val_mean_iou(best, Tiling(resize=size))
        int8_path = folder / "camvid_int8.tflite"
        model = load_keras_model(best, float32=True)
        _, int8_ms = time_tflite(
            model, int8_path, size, "int8", image, calibration, FLAGS.threads, FLAGS.repeats, FLAGS.warmup
        )
        int8_iou = val_mean_iou(str(int8_path), Tiling(resize=size))
        rows.append(
            {
                "model": spec_key(config.model, config.model_options),
                "epochs": metrics["epochs"],
                "best_epoch": metrics["best_epoch"],
                "padded_val_mean_iou": round(padded_iou, 4),
                "val_mean_iou": round(keras_iou, 4),
                "int8_mean_iou": round(int8_iou, 4),
                "int8_ms_when_scored": round(int8_ms, 1),
                "scored": datetime.date.today().isoformat(),
            }
        )
        keras.backend.clear_session()
    return rows


def val_mean_iou(model, tiling):
    """CamVid val mean IoU of a model file, its frames given to it as `tiling` says."""
    return evaluate(EvalConfig(model, "camvid", FLAGS.data_dir, "val", tiling=tiling), verbose=0)["mean_iou"]


def recorded_runs(new_rows):
    """The --results entries with `new_rows` merged in (replacing entries of the same model); written back."""
    return merged_records(FLAGS.results, new_rows, key=lambda row: row["model"])


def cityscapes_points():
    """(label, int8 ms, held-out mean IoU) of the 19-class runs recorded in --cityscapes_results."""
    path = pathlib.Path(FLAGS.cityscapes_results)
    rows = json.loads(path.read_text()) if FLAGS.cityscapes_results and path.is_file() else []
    return [(row["model"], row["int8_ms"], row["mean_iou"]) for row in rows if row["grouping"] is None]


def draw(camvid, cityscapes, path):
    """Mean IoU (Keras) against int8 latency, CamVid's front and (when recorded) the Cityscapes
    pairs' beside it: each a list of (label, int8 ms, mean IoU)."""
    import matplotlib  # noqa: PLC0415 - only needed for --plot

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    panels = [
        (
            camvid,
            f"int8 TFLite latency, ms ({FLAGS.height}x{FLAGS.width}, LiteRT, {FLAGS.threads} threads)",
            f"CamVid val mean IoU (Keras, frames resized to {FLAGS.height}x{FLAGS.width})",
            "CamVid, about 45 minutes of training from scratch on 2 CPU cores",
        )
    ]
    if cityscapes:
        panels.append(
            (
                cityscapes,
                f"int8 TFLite latency, ms (256x256, LiteRT, {FLAGS.threads} threads)",
                "held-out mean IoU (Keras, train[-300:], 19 classes)",
                "Cityscapes pairs, about 60 minutes from scratch on 2 CPU cores",
            )
        )
    figure, axes_list = pyplot.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), dpi=120, squeeze=False)
    for axes, (rows, x_label, y_label, title) in zip(axes_list[0], panels):
        for index, (label, int8_ms, keras_iou) in enumerate(sorted(rows, key=lambda row: row[1])):
            axes.scatter(int8_ms, keras_iou, color="tab:blue")
            name = label.split(":")[0] + (" (minimalistic)" if "minimalistic=True" in label else "")
            offset = (4, 4) if index % 2 == 0 else (4, -10)  # neighbours in latency label above and below
            axes.annotate(name, (int8_ms, keras_iou), fontsize=7, xytext=offset, textcoords="offset points")
        axes.margins(x=0.25, y=0.1)
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3)
    figure.tight_layout()
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models, FLAGS.quantize)
    folders = finished_runs(FLAGS.runs)
    for folder in [folder for folder in folders if run_config(folder).dataset != "camvid"]:
        logging.info("Leaving out %s: not a CamVid run (bench/cityscapes_pairs.py scores the pairs' runs).", folder)
        folders.remove(folder)
    if folders and not FLAGS.data_dir:
        sys.exit("error: --runs needs --data_dir, the CamVid folder.")
    size = (FLAGS.height, FLAGS.width)
    calibration = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    image = camvid_frames(FLAGS.data_dir, "val", size, 1)[0]
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        costs = model_costs(size, image, calibration, folder)
        scores = run_scores(folders, size, image, calibration, folder)

    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
        f"LiteRT with {FLAGS.threads} threads (XNNPACK); input {size[0]}x{size[1]}; median of {FLAGS.repeats} runs "
        f"after {FLAGS.warmup} in each of {FLAGS.rounds} rounds: the median round (the range of rounds).\n"
    )
    if costs:
        header = " | ".join(f"{quantize} MB | {quantize} ms" for quantize in FLAGS.quantize)
        print(f"| model | GFLOPs | {header} |")
        print("| --- | ---: |" + " ---: | ---: |" * len(FLAGS.quantize))
        for text, gflops, timings in costs:
            cells = " | ".join(f"{timings[q][0]:.1f} | {rounds_cell(timings[q][1])}" for q in FLAGS.quantize)
            print(f"| {text} | {gflops:.2f} | {cells} |")
        print()
    recorded = recorded_runs(scores)
    int8_latency = {
        spec_key(*model_spec(text)): statistics.median(timings["int8"][1])
        for text, _, timings in costs
        if "int8" in timings
    }
    if recorded:
        print(
            f"Recorded runs ({FLAGS.results}); int8 ms from the cost table above where this invocation measured it:\n"
        )
        print(
            f"Mean IoU of CamVid val frames resized to {size[0]}x{size[1]} (padded: the frame padded to a multiple "
            "of 32, the training's validation):\n"
        )
        print("| run | epochs | best epoch | Keras, padded | Keras | int8 | int8 - Keras | int8 ms | scored |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for row in recorded:
            ms = int8_latency.get(row["model"])
            print(
                f"| {row['model']} | {row['epochs']} | {row['best_epoch']} | {row['padded_val_mean_iou']:.4f} | "
                f"{row['val_mean_iou']:.4f} | "
                f"{row['int8_mean_iou']:.4f} | {row['int8_mean_iou'] - row['val_mean_iou']:+.4f} | "
                f"{'-' if ms is None else f'{ms:.1f}'} | {row['scored']} |"
            )
    points = [
        (row["model"], int8_latency[row["model"]], row["val_mean_iou"])
        for row in recorded
        if row["model"] in int8_latency
    ]
    if FLAGS.plot and points:
        draw(points, cityscapes_points(), FLAGS.plot)
        print(f"\nPlot: {FLAGS.plot}")


if __name__ == "__main__":
    app.run(main)
