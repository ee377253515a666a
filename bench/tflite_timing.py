"""What the export benchmarks share: CamVid frames, timing and conversion to TFLite and ONNX."""

import statistics
import time

import numpy as np
from absl import flags

from fcnseg import data
from fcnseg.deploy import onnx_convert
from fcnseg.deploy.exporter import resized_images
from fcnseg.deploy.tflite import convert
from fcnseg.inference.segmenter import OnnxSegmenter, TFLiteSegmenter


def define_runtime_flags(threads_help):
    """The flags of the runtime benches: input size, timed runs, threads, calibration, CamVid."""
    flags.DEFINE_integer("height", 352, "Input height: CamVid's 360 rounded down to a multiple of 32.")
    flags.DEFINE_integer("width", 480, "Input width.")
    flags.DEFINE_integer("runs", 10, "Timed runs per file (the median is reported).")
    flags.DEFINE_integer("warmup", 2, "Untimed runs before the timed ones.")
    flags.DEFINE_integer("threads", 2, threads_help)
    flags.DEFINE_integer("calibration_images", 32, "Images int8 calibration reads (CamVid train frames).")
    flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout); synthetic scenes without it.")


def camvid_frames(data_dir, split, size, count):
    """`count` CamVid frames of `split` (synthetic scenes without `data_dir`) resized to `size`, uint8."""
    if data_dir:
        source = data.open_source("camvid", data_dir, split)
    else:
        source = data.open_source("synthetic", None, split, num_images=count, height=size[0], width=size[1])
    return resized_images(source, size, count)


def median_ms(function, runs, warmup):
    """The median wall time of `function()` in milliseconds over `runs` calls after `warmup` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def write_tflite(model, path, size, quantize, calibration):
    """Converts `model` to the TFLite file `path` of fixed `size` in `quantize`."""
    path.write_bytes(convert(model, size, quantize, calibration_images=calibration))


def write_onnx(model, path, size, quantize, calibration):
    """Converts `model` to the ONNX file `path` of fixed `size` in `quantize` (float32, int8 or int8_cpu)."""
    content = onnx_convert.convert_onnx(model, size)
    if quantize in onnx_convert.INT8_FORMS:
        content = onnx_convert.quantize_onnx(content, calibration, form=quantize)
    path.write_bytes(content)


def ort_quantize(source, target, images, activation_type, method="minmax", symmetric=False, quant_format="qdq"):
    """ONNX Runtime's own static quantisation of the float32 `.onnx` file `source` to `target`:
    int8 weights symmetric per channel, `activation_type` ("int8" or "uint8") activations
    (`symmetric` or not) with ranges from its calibrator `method` (minmax, percentile at
    99.99 or entropy) over `images` in one range, in `quant_format` ("qdq" or "qoperator")."""
    from onnxruntime import quantization  # noqa: PLC0415 - only the ONNX benches need it

    quantization.quantize_static(
        source,
        target,
        onnx_convert.calibration_reader(images),
        quant_format={"qdq": quantization.QuantFormat.QDQ, "qoperator": quantization.QuantFormat.QOperator}[
            quant_format
        ],
        per_channel=True,
        activation_type={"int8": quantization.QuantType.QInt8, "uint8": quantization.QuantType.QUInt8}[activation_type],
        weight_type=quantization.QuantType.QInt8,
        calibrate_method={
            "minmax": quantization.CalibrationMethod.MinMax,
            "percentile": quantization.CalibrationMethod.Percentile,
            "entropy": quantization.CalibrationMethod.Entropy,
        }[method],
        extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True, "CalibPercentile": 99.99},
    )


def file_ms(path, image, threads, runs, warmup):
    """The median ms of one `image` through the `.tflite` (LiteRT) or `.onnx` (ONNX Runtime, CPU) file."""
    if path.suffix == ".onnx":
        runner, batch = OnnxSegmenter(path, threads=threads), np.asarray(image)[None]
        return median_ms(lambda: runner.logits(batch), runs, warmup)
    runner, image = TFLiteSegmenter(path, threads=threads), np.asarray(image)
    return median_ms(lambda: runner.run(image), runs, warmup)


def time_files(paths, image, threads, runs, warmup, rounds):
    """{key: [median ms of each round]} of the `.tflite`/`.onnx` files `paths` ({key: path}), timed
    file after file in `rounds` rounds over all of them (so a slow spell of the machine shows as
    one round's outlier, not as one file's figure)."""
    times = {key: [] for key in paths}
    for _ in range(rounds):
        for key, path in paths.items():
            times[key].append(file_ms(path, image, threads, runs, warmup))
    return times


def rounds_cell(times):
    """`median (min-max)` of one file's round medians, in ms."""
    return f"{statistics.median(times):.1f} ({min(times):.1f}-{max(times):.1f})"


def time_tflite(model, path, size, quantize, image, calibration, threads, runs, warmup):
    """Converts `model` to `path` in `quantize`; returns (megabytes, median ms of one `image`)."""
    write_tflite(model, path, size, quantize, calibration)
    return path.stat().st_size / 1e6, file_ms(path, image, threads, runs, warmup)
