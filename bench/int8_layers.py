"""Where an int8 TFLite file loses accuracy: each quantized layer's error, in its own output steps.

    python bench/int8_layers.py --run=runs/budget/fcn8s_vgg16_cityscapes_pairs

The run folder's `best.keras` is set up for int8 conversion by the export's converter
(`fcnseg.deploy.tflite`) as bench/cityscapes_pairs.py converts it: calibrated on
--calibration_images frames of the run's training split, at --input_size (default: the run's crop
size). TFLite's quantization debugger
(`tf.lite.experimental.QuantizationDebugger`) runs --debug_images frames of the run's validation
split through the int8 graph and its float twin, layer by layer. For each layer it prints the RMS
error of the int8 output against the float one divided by the output's scale: in quantization
steps, where 0.3 (the rounding of one step) is the floor and tens of steps are a broken layer.
Printed in graph order: the first --first layers (where the input's own handling shows), then the
--worst layers elsewhere.
"""

import csv
import io
import math
import os
import shlex
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags
from common import cpu_model

from fcnseg import data
from fcnseg.cli.train_flags import run_config
from fcnseg.deploy.exporter import resized_images
from fcnseg.deploy.tflite import converter_for
from fcnseg.inference.segmenter import load_keras_model

flags.DEFINE_string("run", None, "A finished run folder (holds best.keras and the run's config).", required=True)
flags.DEFINE_list("input_size", [], "height,width the int8 file takes; default: the run's crop size.")
flags.DEFINE_integer("calibration_images", 32, "Training-split frames calibration reads.")
flags.DEFINE_integer("debug_images", 8, "Validation-split frames the debugger compares on.")
flags.DEFINE_integer("first", 4, "Layers printed from the graph's start.")
flags.DEFINE_integer("worst", 6, "Layers with the largest error printed from the rest.")
FLAGS = flags.FLAGS


def layer_errors(run, config, size):
    """[(op name, layer, RMS error in output steps)] of `run`'s int8 file, in graph order; the layer is
    the first TensorFlow name of the op's output, without the model's name."""

    def frames(split, count):
        return resized_images(
            data.open_source(config.dataset, config.data_dir, split, **config.dataset_options), size, count
        )

    model = load_keras_model(os.path.join(run, "best.keras"), float32=True)
    converter = converter_for(
        model, size, "int8", calibration_images=frames(config.train_split, FLAGS.calibration_images)
    )
    debug_frames = frames(config.val_split, FLAGS.debug_images)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=lambda: ([frame[None].astype(np.float32)] for frame in debug_frames),
    )
    debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    return [
        (row["op_name"], row["tensor_name"].split(";")[0].split("/", 1)[-1], math.sqrt(float(row["mean_squared_error"])) / float(row["scale"]))
        for row in csv.DictReader(dump)
    ]


def main(argv):
    del argv
    config = run_config(FLAGS.run)
    if config is None or not os.path.isfile(os.path.join(FLAGS.run, "best.keras")):
        sys.exit(f"error: --run={FLAGS.run} is not a finished run folder (no run config or no best.keras).")
    size = tuple(int(value) for value in FLAGS.input_size) if FLAGS.input_size else config.crop_size
    errors = layer_errors(FLAGS.run, config, size)
    first = errors[: FLAGS.first]
    worst = sorted(errors[FLAGS.first :], key=lambda row: -row[2])[: FLAGS.worst]
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}; {len(errors)} quantized layers.\n"
    )
    print("| position | op | layer | RMS error (output steps) |")
    print("| ---: | --- | --- | ---: |")
    for row in first + sorted(worst, key=errors.index):
        op, layer, steps = row
        print(f"| {errors.index(row) + 1} | {op} | {layer} | {steps:.2f} |")


if __name__ == "__main__":
    app.run(main)
