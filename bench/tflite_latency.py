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
import statistics
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging
from machine import cpu_model

import fcnseg
from fcnseg import data
from fcnseg.cli import key_value_options
from fcnseg.deploy.exporter import resized_images
from fcnseg.deploy.tflite import QUANTIZATIONS, convert
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import TFLiteSegmenter, load_keras_model

NUM_CLASSES = 11  # CamVid's classes

flags.DEFINE_list(
    "models",
    fcnseg.list_models(),
    "Models to time (random weights), each a name or name:option=value[:option=value], e.g. "
    "lraspp_mobilenetv3_small:minimalistic=True; empty for none.",
)
flags.DEFINE_list("quantize", list(QUANTIZATIONS), "TFLite precisions.")
flags.DEFINE_integer("height", 352, "Input height: CamVid's 360 rounded down to a multiple of 32.")
flags.DEFINE_integer("width", 480, "Input width.")
flags.DEFINE_integer("runs", 10, "Timed runs per configuration (the median is reported).")
flags.DEFINE_integer("warmup", 2, "Untimed runs before the timed ones.")
flags.DEFINE_integer("threads", 2, "LiteRT interpreter threads.")
flags.DEFINE_integer("calibration_images", 32, "Images int8 calibration reads.")
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout); synthetic scenes without it.")
flags.DEFINE_string("camvid_model", None, "A .keras model trained on CamVid: mean IoU on val in each precision.")
FLAGS = flags.FLAGS


def real_images(split, size, count):
    """`count` frames of CamVid (or synthetic scenes) resized to `size`, uint8."""
    if FLAGS.data_dir:
        source = data.open_source("camvid", FLAGS.data_dir, split)
    else:
        source = data.open_source("synthetic", None, split, num_images=count, height=size[0], width=size[1])
    return resized_images(source, size, count)


def median_ms(function, runs, warmup):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_model(name, size, image, calibration, folder):
    """Rows (format, megabytes, median ms) for Keras and each TFLite precision."""
    keras.utils.set_random_seed(0)
    model_name, options = model_spec(name)
    model = fcnseg.build_model(model_name, NUM_CLASSES, **options)
    pixels = image[None].astype(np.float32)
    rows = [("keras", None, median_ms(lambda: model.predict_on_batch(pixels), FLAGS.runs, FLAGS.warmup))]
    for quantize in FLAGS.quantize:
        path = folder / f"{name}_{quantize}.tflite"
        path.write_bytes(convert(model, size, quantize, calibration_images=calibration))
        runner = TFLiteSegmenter(path, threads=FLAGS.threads)
        rows.append(
            (quantize, path.stat().st_size / 1e6, median_ms(lambda: runner.run(image), FLAGS.runs, FLAGS.warmup))
        )
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


def model_spec(text):
    """The model name and options of a --models entry `name:option=value:...`."""
    name, *items = text.split(":")
    return name, key_value_options("models", items)


def main(argv):
    del argv
    unknown = [name for name in FLAGS.models if model_spec(name)[0] not in fcnseg.list_models()]
    if unknown:
        sys.exit(f"error: unknown --models {', '.join(unknown)}; valid: {', '.join(fcnseg.list_models())}.")
    if [name for name in FLAGS.quantize if name not in QUANTIZATIONS]:
        sys.exit(
            f"error: --quantize={','.join(FLAGS.quantize)} is not valid; expected some of {', '.join(QUANTIZATIONS)}."
        )
    if FLAGS.camvid_model and not FLAGS.data_dir:
        sys.exit("error: --camvid_model needs --data_dir, the CamVid folder.")
    size = (FLAGS.height, FLAGS.width)
    calibration = real_images("train", size, FLAGS.calibration_images)
    image = real_images("val", size, 1)[0]
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
