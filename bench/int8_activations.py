"""Why a MobileNetV3 is slower in int8 than in float32 under LiteRT: time one activation at a time.

    python bench/int8_activations.py

Builds the same small stack (a stride-2 3x3 convolution, then four blocks of 1x1 convolution,
activation, optional squeeze-excite, 3x3 depthwise and 1x1 projection, 64 channels at half
resolution) with ReLU, with hard-swish, and with hard-swish plus squeeze-excite; converts
each to float32 and int8 TFLite at --height x --width; and reports the median latency of
LiteRT (XNNPACK, --threads threads) over --runs runs, with the operators of each file.
"""

import os
import pathlib
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags
from keras import layers
from machine import cpu_model
from tflite_timing import median_ms

from fcnseg.deploy.tflite import convert, operators
from fcnseg.inference.segmenter import TFLiteSegmenter

flags.DEFINE_integer("height", 352, "Input height.")
flags.DEFINE_integer("width", 480, "Input width.")
flags.DEFINE_integer("runs", 20, "Timed runs per file (the median is reported).")
flags.DEFINE_integer("threads", 2, "LiteRT interpreter threads.")
FLAGS = flags.FLAGS
VARIANTS = ("relu", "hard_swish", "hard_swish+squeeze_excite", "hard_swish_as_clip")


def stack(variant):
    """The test network with the activation of `variant`."""
    inputs = keras.Input((None, None, 3))
    x = layers.Rescaling(1 / 127.5, -1)(inputs)
    x = layers.Conv2D(16, 3, strides=2, padding="same")(x)
    for _ in range(4):
        x = layers.Conv2D(64, 1)(x)
        if variant == "relu":
            x = layers.ReLU()(x)
        elif variant == "hard_swish_as_clip":  # x * min(max(x / 6 + 1/2, 0), 1): the same function
            x = layers.Multiply()([x, layers.ReLU(max_value=1.0)(layers.Rescaling(1 / 6, 0.5)(x))])
        else:
            x = layers.Activation("hard_swish")(x)
        if variant.endswith("squeeze_excite"):
            scale = layers.GlobalAveragePooling2D(keepdims=True)(x)
            scale = layers.Conv2D(16, 1, activation="relu")(scale)
            x = layers.Multiply()([x, layers.Conv2D(64, 1, activation="hard_sigmoid")(scale)])
        x = layers.DepthwiseConv2D(3, padding="same")(x)
        x = layers.Conv2D(16, 1)(x)
    return keras.Model(inputs, layers.Conv2D(11, 1)(x))


def main(argv):
    del argv
    size = (FLAGS.height, FLAGS.width)
    images = np.random.default_rng(0).integers(0, 256, (8, *size, 3), dtype=np.uint8)
    print(f"Command: python {' '.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}; LiteRT with {FLAGS.threads} threads.\n"
    )
    print("| activation | float32 ms | int8 ms | int8 / float32 | int8 operators |")
    print("| --- | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for variant in VARIANTS:
            keras.utils.set_random_seed(0)
            model = stack(variant)
            row = {}
            for quantize in ("float32", "int8"):
                content = convert(model, size, quantize, calibration_images=images if quantize == "int8" else None)
                path = pathlib.Path(folder) / f"{variant}_{quantize}.tflite"
                path.write_bytes(content)
                runner = TFLiteSegmenter(path, threads=FLAGS.threads)
                row[quantize] = median_ms(lambda: runner.run(images[0]), FLAGS.runs, warmup=2)
            print(
                f"| {variant} | {row['float32']:.1f} | {row['int8']:.1f} | {row['int8'] / row['float32']:.2f}x | "
                f"{', '.join(operators(content))} |"
            )


if __name__ == "__main__":
    app.run(main)
