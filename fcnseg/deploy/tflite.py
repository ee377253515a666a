"""TFLite conversion with built-in ops only, in four precisions.

The converted model takes one float32 image `[1, height, width, 3]` of pixels in 0..255
(uint8 for `int8`), of the fixed size given, and returns `logits` `[1, height, width,
classes]` (float32; uint8 with the output's scale and zero point for `int8`) or, with
`argmax`, `mask`, uint8 class ids `[1, height, width]`.

- `float32`: the weights as trained.
- `float16`: weights stored as float16 (half the size); computed in float32 on CPUs.
- `dynamic`: weights stored as int8, activations float (dynamic-range quantisation).
- `int8`: weights and activations int8, calibrated on real images (full integer).

`delegate_friendly` samples bilinear upsampling without half-pixel centres (see
`fcnseg.deploy.exportable`), as delegates such as older GPU, NNAPI and Edge TPU compilers require.
"""

import contextlib
import io
import re

import numpy as np
import tensorflow as tf

from fcnseg.deploy.exportable import exportable
from fcnseg.errors import error_line

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


def convert(model, input_size, quantize="float32", argmax=False, delegate_friendly=False, calibration_images=None):
    """Converts a Keras segmentation model to a TFLite flatbuffer.

    Args:
        model: keras.Model from pixels to logits.
        input_size: (height, width). The fixed input size.
        quantize: one of `QUANTIZATIONS`.
        argmax: bool. Output the uint8 mask instead of the logits.
        delegate_friendly: bool. See the module's docstring.
        calibration_images: uint8 array `[n, height, width, 3]`; required for `int8`.

    Returns:
        bytes: the `.tflite` file.
    """
    converter = converter_for(model, input_size, quantize, argmax, delegate_friendly, calibration_images)
    try:
        return converter.convert()
    except Exception as error:  # the converter raises its own ConverterError, among others
        raise ValueError(f"TFLite conversion failed: {error_line(error)}") from None


def converter_for(
    model, input_size, quantize="float32", argmax=False, delegate_friendly=False, calibration_images=None
):
    """The `tf.lite.TFLiteConverter` that `convert` runs, set up but not run (arguments as `convert`'s);
    for tools that take a converter, such as `tf.lite.experimental.QuantizationDebugger`."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"--quantize={quantize} is not valid; expected one of {', '.join(QUANTIZATIONS)}.")
    if quantize == "int8" and (calibration_images is None or not len(calibration_images)):
        raise ValueError("--quantize=int8 needs calibration images from the model's dataset.")
    net = exportable(model, delegate_friendly)

    @tf.function(input_signature=[tf.TensorSpec([1, *input_size, 3], tf.float32, "image")])
    def segment(image):
        logits = net(image, training=False)
        if argmax:
            return {"mask": tf.cast(tf.argmax(logits, -1, output_type=tf.int32), tf.uint8)}
        return {"logits": logits}

    # Without a trackable object the converter freezes the variables into constants; with
    # one it may keep them as resource variables that LiteRT leaves uninitialised.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([segment.get_concrete_function()])
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS
    ]
    if quantize != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        images = np.asarray(calibration_images)
        converter.representative_dataset = lambda: ([image[None].astype(np.float32)] for image in images)
        converter.inference_input_type = tf.uint8
        if not argmax:
            converter.inference_output_type = tf.uint8
    return converter


def operators(content):
    """The names of the operators a `.tflite` flatbuffer uses, sorted, each once."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        tf.lite.experimental.Analyzer.analyze(model_content=content)
    return sorted(set(re.findall(r"Op#\d+ (\w+)\(", report.getvalue())))
