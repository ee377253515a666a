"""TFLite latency and file size of every model in each precision, against Keras in the same run.

    python bench/tflite_latency.py --data_dir=../shared/data/camvid
    python bench/tflite_latency.py --models=unet --quantize=float32,int8 --runs=5
    python bench/tflite_latency.py --data_dir=../shared/data/camvid --models= \\
        --camvid_model=runs/unet_camvid_small/best.keras

Latency: for every model of `fcnseg.list_models()` (11 classes, random weights; or those
of --models, with options) at
--height x --width, the median wall time of one image through LiteRT's interpreter
(`ai_edge_litert`, --threads threads, XNNPACK as LiteRT applies it by default) over --runs
runs after --warmup runs, and of Keras `predict_on_batch` on the same image in the same
process. int8 is calibrated on --calibration_images CamVid train frames resized to the
input size (synthetic scenes without --data_dir); the timed image is a CamVid val frame.

Accuracy (--camvid_model): the trained model exported in each precision at the input
size, and every file scored on CamVid val by `fcnseg.inference.evaluate` as
`python -m fcnseg.evaluate` scores it (TFLite files slide a window of their size over the
360x480 frames; the Keras model sees the frame padded to 384x480).
"""

import os
import pathlib
import shlex
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging
from common import (
    camvid_frames,
    cpu_model,
    define_runtime_flags,
    exit_unless_valid,
    median_ms,
    random_model,
    time_tflite,
)

import fcnseg
from fcnseg import data
from fcnseg.deploy.tflite import QUANTIZATIONS, convert
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model

NUM_CLASSES = 11  # CamVid's classes

flags.DEFINE_list(
    "models",
    fcnseg.list_models(),
    "Models to time (random weights), each a name or name:option=value[:option=value], e.g. "
    "lraspp_mobilenetv3_small:minimalistic=True; empty for none.",
)
flags.DEFINE_list("quantize", list(QUANTIZATIONS), "TFLite precisions.")
define_runtime_flags("LiteRT interpreter threads.")
flags.DEFINE_string("camvid_model", None, "A .keras model trained on CamVid: mean IoU on val in each precision.")
FLAGS = flags.FLAGS


def time_model(name, size, image, calibration, folder):
    """Rows (format, megabytes, median ms) for Keras and each TFLite precision."""
    model = random_model(name, NUM_CLASSES)
    pixels = image[None].astype(np.float32)
    rows = [("keras", None, median_ms(lambda: model.predict_on_batch(pixels), FLAGS.runs, FLAGS.warmup))]
    for quantize in FLAGS.quantize:
        path = folder / f"{name}_{quantize}.tflite"
        timing = dict(threads=FLAGS.threads, runs=FLAGS.runs, warmup=FLAGS.warmup)
        rows.append((quantize, *time_tflite(model, path, size, quantize, image, calibration, **timing)))
    return rows


def camvid_scores(size, calibration, folder):
    """Rows (format, mean IoU, pixel accuracy) of --camvid_model on CamVid val in each precision."""
    model = load_keras_model(FLAGS.camvid_model, float32=True)
    paths = [("keras", FLAGS.camvid_model)]
    spec_json = data.dataset_spec("camvid").to_json()
    (folder / "classes.json").write_text(spec_json)
    for quantize in FLAGS.quantize:
        path = folder / f"camvid_{quantize}.tflite"
        path.write_bytes(convert(model, size, quantize, calibration_images=calibration))
        paths.append((quantize, str(path)))
    rows = []
    for name, path in paths:
        logging.info("Scoring %s on CamVid val.", name)
        scores = evaluate(EvalConfig(path, "camvid", FLAGS.data_dir, "val"), verbose=0)
        rows.append((name, scores["mean_iou"], scores["pixel_accuracy"]))
    return rows


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models, FLAGS.quantize)
    if FLAGS.camvid_model and not FLAGS.data_dir:
        sys.exit("error: --camvid_model needs --data_dir, the CamVid folder.")
    size = (FLAGS.height, FLAGS.width)
    calibration = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    image = camvid_frames(FLAGS.data_dir, "val", size, 1)[0]
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        timings = [(name, time_model(name, size, image, calibration, folder)) for name in FLAGS.models]
        scores = camvid_scores(size, calibration, folder) if FLAGS.camvid_model else []

    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"LiteRT interpreter with {FLAGS.threads} threads (XNNPACK); input {size[0]}x{size[1]}; "
        f"median of {FLAGS.runs} runs after {FLAGS.warmup}.\n"
    )
    if timings:
        print("| model | format | file MB | median ms | vs Keras | vs float32 |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for name, rows in timings:
            keras_ms = rows[0][2]
            float32_ms = next((ms for fmt, _, ms in rows if fmt == "float32"), None)
            for fmt, megabytes, ms in rows:
                size_text = "-" if megabytes is None else f"{megabytes:.1f}"
                versus_float32 = f"{ms / float32_ms:.2f}x" if float32_ms and fmt != "keras" else "-"
                print(f"| {name} | {fmt} | {size_text} | {ms:.1f} | {ms / keras_ms:.2f}x | {versus_float32} |")
        print()
    if scores:
        keras_iou = scores[0][1]
        print(f"CamVid val (101 frames), {FLAGS.camvid_model}:\n")
        print("| format | mean IoU | pixel accuracy | mean IoU - Keras |")
        print("| --- | ---: | ---: | ---: |")
        for fmt, iou, accuracy in scores:
            print(f"| {fmt} | {iou:.4f} | {accuracy:.4f} | {iou - keras_iou:+.4f} |")


if __name__ == "__main__":
    app.run(main)
