"""ONNX Runtime against LiteRT: latency and file size of every model, float32 and int8, in one process.

    python bench/onnx_runtime.py --data_dir=../shared/data/camvid
    python bench/onnx_runtime.py --data_dir=../shared/data/camvid --models= \\
        --camvid_model=runs/budget/lraspp_mobilenetv3_large/best.keras

Latency: for every model of `fcnseg.list_models()` but the FCN-VGG16s, and the minimalistic
LR-ASPPs (11 classes, random weights; or those of --models, with options) at --height x
--width, each precision of --quantize written as a TFLite file (`fcnseg.deploy.tflite`)
and as an ONNX file of that fixed size
(`fcnseg.deploy.onnx_convert`: int8 is the QDQ model of ONNX Runtime's static
quantisation), both int8 files calibrated on the same --calibration_images CamVid train
frames. Every file is written first; then each runs one CamVid val frame, LiteRT's
interpreter (XNNPACK) or ONNX Runtime's CPU provider with --threads threads: the median
wall time of --runs runs after --warmup, file after file in the same process, in --rounds
rounds over all files (the table gives the median of the rounds and their range). The log
says "Timing" when the writing is done: a training sharing the machine can be paused
(SIGSTOP) for the timing alone.

The FCN-VGG16s are left out by default: tf2onnx needs about 40 times a model's weights in
memory (3.7 GB for FCN-8s ResNet50's 95 MB), some 20 GB for their 537 MB, more than the
2-core machine's 24 GB can spare.

Accuracy (--camvid_model): the trained model in each format and precision, every file
scored on CamVid val by `fcnseg.inference.evaluate` as `python -m fcnseg.evaluate` scores it
(the fixed-size files slide a window of their size over the 360x480 frames; the Keras
model sees the frame padded to 384x480).
"""

import os
import pathlib
import shlex
import statistics
import sys
import tempfile

import keras
import onnxruntime
import tensorflow as tf
from absl import app, flags, logging
from common import (
    camvid_frames,
    cpu_model,
    define_runtime_flags,
    exit_unless_valid,
    random_model,
    rounds_cell,
    time_files,
    write_onnx,
    write_tflite,
)

import fcnseg
from fcnseg import data
from fcnseg.deploy.onnx_convert import ONNX_QUANTIZATIONS
from fcnseg.deploy.tflite import convert
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model

NUM_CLASSES = 11  # CamVid's classes
RUNTIMES = {"LiteRT": (".tflite", write_tflite), "ONNX Runtime": (".onnx", write_onnx)}

DEFAULT_MODELS = [name for name in fcnseg.list_models() if not name.endswith("_vgg16")] + [
    "lraspp_mobilenetv3_large:minimalistic=True",
    "lraspp_mobilenetv3_small:minimalistic=True",
]

flags.DEFINE_list("models", DEFAULT_MODELS, "Models to time (random weights): name or name:option=value:...")
flags.DEFINE_list("quantize", list(ONNX_QUANTIZATIONS), "Precisions, some of float32, int8.")
define_runtime_flags("Threads of each runtime.")
flags.DEFINE_integer("rounds", 3, "Timing rounds over all files.")
flags.DEFINE_string("camvid_model", None, "A .keras model trained on CamVid: mean IoU on val of every file.")
FLAGS = flags.FLAGS


def write_files(size, calibration, folder):
    """{(--models entry, runtime, precision): path} of every file, written."""
    files = {}
    for index, text in enumerate(FLAGS.models):
        model = random_model(text, NUM_CLASSES)
        for quantize in FLAGS.quantize:
            for runtime, (suffix, write) in RUNTIMES.items():
                logging.info("Writing %s %s for %s.", text, quantize, runtime)
                path = folder / f"cost_{index}_{quantize}{suffix}"
                write(model, path, size, quantize, calibration)
                files[text, runtime, quantize] = path
        keras.backend.clear_session()
    return files


def camvid_scores(size, calibration, folder):
    """Rows (format, mean IoU) of --camvid_model on CamVid val: Keras, then each file."""
    model = load_keras_model(FLAGS.camvid_model, float32=True)
    (folder / "classes.json").write_text(data.dataset_spec("camvid").to_json())
    paths = [("Keras", FLAGS.camvid_model)]
    for quantize in FLAGS.quantize:
        tflite = folder / f"camvid_{quantize}.tflite"
        tflite.write_bytes(convert(model, size, quantize, calibration_images=calibration))
        onnx = folder / f"camvid_{quantize}.onnx"
        write_onnx(model, onnx, size, quantize, calibration)
        paths += [(f"LiteRT {quantize}", str(tflite)), (f"ONNX Runtime {quantize}", str(onnx))]
    rows = []
    for name, path in paths:
        logging.info("Scoring %s on CamVid val.", name)
        rows.append((name, evaluate(EvalConfig(path, "camvid", FLAGS.data_dir, "val"), verbose=0)["mean_iou"]))
    return rows


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models)
    if any(name not in ONNX_QUANTIZATIONS for name in FLAGS.quantize):
        sys.exit(f"error: --quantize={','.join(FLAGS.quantize)} is not valid; expected some of float32, int8.")
    if FLAGS.camvid_model and not FLAGS.data_dir:
        sys.exit("error: --camvid_model needs --data_dir, the CamVid folder.")
    size = (FLAGS.height, FLAGS.width)
    calibration = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    image = camvid_frames(FLAGS.data_dir, "val", size, 1)[0]
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        files = write_files(size, calibration, folder)
        megabytes = {key: path.stat().st_size / 1e6 for key, path in files.items()}
        logging.info("Timing %d files in %d rounds.", len(files), FLAGS.rounds)
        times = time_files(files, image, FLAGS.threads, FLAGS.runs, FLAGS.warmup, FLAGS.rounds)
        scores = camvid_scores(size, calibration, folder) if FLAGS.camvid_model else []

    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, ONNX Runtime "
        f"{onnxruntime.__version__} (CPU provider), LiteRT interpreter (XNNPACK); {FLAGS.threads} threads each; "
        f"input {size[0]}x{size[1]}; median of {FLAGS.runs} runs after {FLAGS.warmup} in each of {FLAGS.rounds} "
        "rounds: the median round (the range of rounds).\n"
    )
    if files:
        print("| model | precision | LiteRT MB | LiteRT ms | ONNX MB | ONNX Runtime ms | ONNX Runtime / LiteRT |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for text in FLAGS.models:
            for quantize in FLAGS.quantize:
                lite, onnx = (text, "LiteRT", quantize), (text, "ONNX Runtime", quantize)
                ratio = statistics.median(times[onnx]) / statistics.median(times[lite])
                print(
                    f"| {text} | {quantize} | {megabytes[lite]:.1f} | {rounds_cell(times[lite])} | {megabytes[onnx]:.1f} "
                    f"| {rounds_cell(times[onnx])} | {ratio:.2f}x |"
                )
        print()
    if scores:
        keras_iou = scores[0][1]
        print(f"CamVid val (101 frames), {FLAGS.camvid_model}:\n")
        print("| format | mean IoU | mean IoU - Keras |")
        print("| --- | ---: | ---: |")
        for name, iou in scores:
            print(f"| {name} | {iou:.4f} | {iou - keras_iou:+.4f} |")


if __name__ == "__main__":
    app.run(main)
