"""ONNX conversion for TensorRT, ONNX Runtime and OpenVINO, in float32 and int8.

The ONNX model takes float32 RGB images `[batch, height, width, 3]` of pixels in 0..255
(the model normalises them itself, as every fcnseg model does) and returns float32
`logits` `[batch, height, width, classes]`. Batch, height and width are dynamic (any
height and width divisible by 32) unless `input_size` fixes height and width.

- `float32`: the float32 inference graph (the main head), converted by tf2onnx.
- `int8`: the float32 model quantised by ONNX Runtime's static quantisation into the QDQ
  form (QuantizeLinear/DequantizeLinear pairs around float operators), which TensorRT
  builds int8 engines from: int8 weights per output channel and int8 activations, both
  symmetric (zero point 0, as TensorRT requires), each activation's range the 99.99th
  percentile of its magnitude over the calibration images (`ACTIVATION_PERCENTILE`).
"""

import contextlib
import logging
import os
import pathlib
import tempfile

import numpy as np
import tensorflow as tf

from fcnseg.deploy.exportable import exportable
from fcnseg.errors import error_line, optional_import

# int8: int8 activations and weights, both symmetric (zero point 0), the form TensorRT reads.
# int8_cpu: uint8 activations with a zero point, int8 weights, the form ONNX Runtime's x86
# kernels are built for (u8s8: `VPMADDUBSW` multiplies one unsigned and one signed operand),
# 2.0-2.6x faster than int8 on a CPU (BENCHMARKS.md, "ONNX").
ONNX_QUANTIZATIONS = ("float32", "int8", "int8_cpu")
INT8_FORMS = ("int8", "int8_cpu")
DEFAULT_OPSET = 17
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear
MAX_OPSET = 18  # the newest that tf2onnx 1.17 writes
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
# The share of an activation's magnitudes that its int8 range covers. On three CamVid-trained
# models, min-max ranges (100) cost 1.1 points of val mean IoU on average (2.0 on LR-ASPP
# Large), the 99.99th percentile 0.4 (0.6 at worst; 99.999 and 99.9 do a little worse:
# BENCHMARKS.md, "ONNX"): a few extreme values no longer stretch every other value's step.
ACTIVATION_PERCENTILE = 99.99
HISTOGRAM_BINS = 2048  # as ONNX Runtime's percentile calibrator


def check_opset(opset):
    """Fails, naming `--onnx_opset`, unless fcnseg can write ONNX operator set `opset`."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"--onnx_opset={opset} is not supported: fcnseg writes operator sets {MIN_OPSET} to {MAX_OPSET} "
            f"({MIN_OPSET} is the first with per-channel int8; {MAX_OPSET} the newest tf2onnx writes)."
        )


def check_quantizations(quantize):
    """Fails, naming `--quantize`, unless every precision has an ONNX form."""
    unknown = [name for name in quantize if name not in ONNX_QUANTIZATIONS]
    if unknown or not quantize:
        raise ValueError(
            f"--quantize={','.join(quantize)} is not valid with --onnx; expected some of "
            f"{', '.join(ONNX_QUANTIZATIONS)} (for float16, build a TensorRT --fp16 engine from the float32 file)."
        )


def check_installed():
    """Fails in one line unless the packages of the `onnx` extra are installed."""
    for module in ("onnx", "onnxruntime", "tf2onnx"):
        optional_import(module, "onnx")


def convert_onnx(model, input_size=None, opset=DEFAULT_OPSET):
    """Converts a Keras segmentation model to a float32 ONNX model.

    Args:
        model: keras.Model from pixels to logits.
        input_size: (height, width) or None. The fixed height and width; None keeps them dynamic.
        opset: int. The ONNX operator set.

    Returns:
        bytes: the `.onnx` file.
    """
    check_opset(opset)
    tf2onnx = optional_import("tf2onnx", "onnx")
    net = exportable(model)
    height, width = input_size or (None, None)
    signature = [tf.TensorSpec([None, height, width, 3], tf.float32, INPUT_NAME)]

    @tf.function(input_signature=signature)
    def segment(images):
        return {OUTPUT_NAME: net(images, training=False)}

    try:
        with _quiet("tf2onnx"):
            proto = _from_function(tf2onnx, segment, signature, opset)
    except Exception as error:  # tf2onnx raises many kinds for a graph it cannot convert
        raise ValueError(f"ONNX conversion failed: {error_line(error)}") from None
    # tf2onnx keeps an operation it has no conversion for as a node of the same name, which
    # no runtime can run.
    onnx = optional_import("onnx", "onnx")
    unconverted = [node for node in proto.graph.node if not onnx.defs.has(node.op_type, node.domain)]
    if unconverted:
        names = ", ".join(sorted({f"{node.op_type} ({node.name})" for node in unconverted})[:3])
        raise ValueError(f"ONNX conversion failed: no ONNX operator for TensorFlow operation {names}.")
    return proto.SerializeToString()


def _from_function(tf2onnx, function, signature, opset):
    """tf2onnx's ONNX model of `function`, in half the memory where its optimisers all succeed.

    tf2onnx runs each of its ONNX graph optimisers on a deep copy of the graph, weights and
    all, so that it can go on without an optimiser that fails; the copies add up to about
    as much again as the rest of the conversion (FCN-8s ResNet50: 7.5 GB against 3.7 GB
    without them, for 95 MB of weights). With the variable
    `TF2ONNX_CATCH_ERRORS` set, it makes no copies (tf2onnx 1.17 compares the variable's
    name, not its value, with "TRUE", so any value turns them off) and takes half the
    memory, but ends at a failed optimiser, as its transpose optimiser fails on
    MobileNetV3's squeeze-and-excite; those models are converted again with the copies.
    """
    name = tf2onnx.constants.ENV_TF2ONNX_CATCH_ERRORS
    for value in ("FALSE", None):
        with _environment(name, value):
            try:
                return tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)[0]
            except Exception:  # an optimiser's failure; a conversion's own fails again with the copies
                if value is None:
                    raise


@contextlib.contextmanager
def _environment(name, value):
    """Sets environment variable `name` to `value` (None: unsets it) while the block runs."""
    before = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if before is not None:
            os.environ[name] = before


@contextlib.contextmanager
def _quiet(logger_name):
    """Shows only errors of a logger while the block runs.

    tf2onnx logs its progress, and a traceback when an optional graph optimisation fails:
    its transpose optimiser fails on MobileNetV3's squeeze-and-excite (a scalar added to a
    convolution's output) and leaves the layout transposes around each convolution in
    place, which ONNX Runtime removes itself when it loads the file.
    """
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def quantize_onnx(content, calibration_images, form="int8", percentile=ACTIVATION_PERCENTILE):
    """An int8 QDQ form of a float32 ONNX model from `convert_onnx`.

    Args:
        content: bytes. The float32 `.onnx` file.
        calibration_images: uint8 array `[n, height, width, 3]` of one size the model takes.
        form: "int8" (TensorRT's: each activation's range is +-the `percentile`th percentile
            of its magnitudes) or "int8_cpu" (uint8 activations from the `100 - percentile`th
            to the `percentile`th percentile of its values, 0 included); weights are int8,
            symmetric, per channel in both.
        percentile: float in (0, 100]; 100 is min-max.

    Returns:
        bytes: the quantised `.onnx` file.
    """
    if form not in INT8_FORMS:
        raise ValueError(f"Unknown int8 form {form!r}; expected one of {', '.join(INT8_FORMS)}.")
    if calibration_images is None or not len(calibration_images):
        raise ValueError(f"--quantize={form} needs calibration images from the model's dataset.")
    quantization = optional_import("onnxruntime.quantization", "onnx")
    symmetric = form == "int8"

    with tempfile.TemporaryDirectory() as folder:
        source, target = pathlib.Path(folder, "float32.onnx"), pathlib.Path(folder, f"{form}.onnx")
        source.write_bytes(content)
        try:
            ranges = activation_ranges(source, calibration_images, percentile, symmetric)
            overrides = {
                name: [{"rmin": np.float32(low), "rmax": np.float32(high)}] for name, (low, high) in ranges.items()
            }
            quantization.quantize_static(
                source,
                target,
                # ONNX Runtime calibrates before it quantises and needs a range for every
                # tensor, but the overrides replace them all: one image is enough.
                calibration_reader(calibration_images[:1]),
                quant_format=quantization.QuantFormat.QDQ,
                per_channel=True,
                activation_type=quantization.QuantType.QInt8 if symmetric else quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8,
                calibrate_method=quantization.CalibrationMethod.MinMax,
                extra_options={
                    "ActivationSymmetric": symmetric,
                    "WeightSymmetric": True,
                    "TensorQuantOverrides": overrides,
                },
            )
        except Exception as error:  # ONNX Runtime raises its own kinds, among others
            raise ValueError(f"ONNX {form} quantisation failed: {error_line(error)}") from None
        return target.read_bytes()


def calibration_reader(images):
    """An ONNX Runtime `CalibrationDataReader` of `images` (uint8 `[n, height, width, 3]`),
    one at a time, as the float32 input of `convert_onnx`'s models."""
    quantization = optional_import("onnxruntime.quantization", "onnx")

    class Images(quantization.CalibrationDataReader):
        def __init__(self):
            self.images = iter(images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {INPUT_NAME: image[None].astype(np.float32)}

    return Images()


def activation_ranges(source, images, percentile=ACTIVATION_PERCENTILE, symmetric=True):
    """{tensor name: (low, high)}, the range each activation is quantised to.

    Args:
        source: path of a float32 `.onnx` file.
        images: uint8 array `[n, height, width, 3]` of one size the model takes.
        percentile: float in (0, 100]; 100 is min-max.
        symmetric: True: +-the `percentile`th percentile of the magnitudes; False: from the
            `100 - percentile`th to the `percentile`th percentile of the values, widened to
            hold 0 (a zero point must stand for 0).

    For every tensor ONNX Runtime quantises, in two passes of one image at a time (ONNX
    Runtime's own percentile calibrator keeps every activation of every image in memory,
    24 GB for 32 frames of 352x480 through the 64-filter U-Net, and its NumPy histograms
    fail on a near-constant tensor): the extremes, then a histogram of `HISTOGRAM_BINS`
    bins between them, counted in integers.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"The activation percentile must be in (0, 100], not {percentile}.")
    quantization = optional_import("onnxruntime.quantization", "onnx")
    with tempfile.TemporaryDirectory() as folder:
        calibrator = quantization.create_calibrator(
            source,
            augmented_model_path=str(pathlib.Path(folder, "augmented.onnx")),
            calibrate_method=quantization.CalibrationMethod.Percentile,
        )
    session = calibrator.infer_session
    names = [output.name for output in session.get_outputs()]
    wanted = set(calibrator.tensors_to_calibrate)

    def activations():
        reader = calibration_reader(images)
        while feed := reader.get_next():
            outputs = session.run(None, feed)
            yield {
                name: np.abs(value) if symmetric else value for name, value in zip(names, outputs) if name in wanted
            }

    extremes = {}
    for tensors in activations():
        for name, values in tensors.items():
            low, high = extremes.get(name, (0.0, 0.0))
            extremes[name] = (min(low, float(values.min(initial=0.0))), max(high, float(values.max(initial=0.0))))
    counts = {name: np.zeros(HISTOGRAM_BINS, np.int64) for name, (low, high) in extremes.items() if high > low}
    for tensors in activations():
        for name, histogram in counts.items():
            low, high = extremes[name]
            bins = ((tensors[name] - low) * (HISTOGRAM_BINS / (high - low))).astype(np.int64)
            histogram += np.bincount(np.clip(bins, 0, HISTOGRAM_BINS - 1).ravel(), minlength=HISTOGRAM_BINS)
    ranges = dict.fromkeys(extremes, (0.0, 0.0))
    for name, histogram in counts.items():
        low, high = extremes[name]
        step = (high - low) / HISTOGRAM_BINS
        cumulative = np.cumsum(histogram)
        upper = low + step * (int(np.argmax(cumulative >= cumulative[-1] * percentile / 100)) + 1)
        if symmetric:
            ranges[name] = (-upper, upper)
        else:
            lower = low + step * int(np.argmax(cumulative > cumulative[-1] * (1 - percentile / 100)))
            ranges[name] = (min(lower, 0.0), max(upper, 0.0))
    return ranges


def onnx_summary(content):
    """The operator set and the sorted operator types of an `.onnx` file's graph."""
    onnx = optional_import("onnx", "onnx")
    model = onnx.load_from_string(content)
    opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    return {"opset": int(opset), "operators": sorted({node.op_type for node in model.graph.node})}
