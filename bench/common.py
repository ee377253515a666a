"""What the benches share: the machine they ran on, the models named on their command lines, the
run folders they score and the records they keep, forward-pass FLOPs, and CamVid frames, conversion
to TFLite and ONNX and the timing of the files.

Not a bench itself: the scripts beside it import it (`python bench/<script>.py` puts bench/ on the
import path).
"""

import gc
import glob
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

import fcnseg
from fcnseg import data, files
from fcnseg.cli import key_value_options
from fcnseg.deploy import onnx_convert
from fcnseg.deploy.exporter import resized_images
from fcnseg.deploy.tflite import QUANTIZATIONS, convert
from fcnseg.inference.segmenter import OnnxSegmenter, TFLiteSegmenter

# The machine ------------------------------------------------------------------------------------


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_seconds_by_cpu():
    """[busy CPU seconds since boot of each CPU], every process and the kernel: user, nice,
    system, irq and softirq time from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = []
    with open("/proc/stat") as file:
        for line in file:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in values[:7])
                seconds.append((user + nice + system + irq + softirq) / ticks)
    return seconds


# Models named on the command line: `name` or `name:option=value:...` ------------------------------


def model_spec(text):
    """The model name and options of a --models entry `name:option=value:...`."""
    name, *items = text.split(":")
    return name, key_value_options("models", items)


def random_model(text, num_classes):
    """The --models entry `text` built with random weights, seeded the same for every bench."""
    keras.utils.set_random_seed(0)
    name, options = model_spec(text)
    return fcnseg.build_model(name, num_classes, **options)


def exit_unless_valid(models, quantize=()):
    """Ends the bench with a one-line error if a --models entry names no registered model or a
    --quantize entry no TFLite precision."""
    unknown = [text for text in models if model_spec(text)[0] not in fcnseg.list_models()]
    if unknown:
        sys.exit(f"error: unknown --models {', '.join(unknown)}; valid: {', '.join(fcnseg.list_models())}.")
    if any(name not in QUANTIZATIONS for name in quantize):
        sys.exit(f"error: --quantize={','.join(quantize)} is not valid; expected some of {', '.join(QUANTIZATIONS)}.")


def spec_key(name, options):
    """`name:option=value:...` with every option of the model, defaults filled in: one key per architecture."""
    defaults = fcnseg.models.model_option_defaults(name)
    return ":".join([name, *(f"{key}={value}" for key, value in sorted({**defaults, **options}.items()))])


def forward_flops(name, height, width, num_classes, **options):
    """FLOPs of one float32 forward pass at 1 x height x width x 3, from the TF1 graph profiler.

    A multiply-add counts 2; ops the profiler has no count for (resizes, activations) add 0.
    """
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = fcnseg.build_model(name, num_classes, (height, width, 3), encoder_weights=None, **options)
        forward = tf.function(lambda images: model(images, training=False))
        graph = forward.get_concrete_function(tf.TensorSpec([1, height, width, 3], tf.float32)).graph
        profiler_options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        profiler_options["output"] = "none"
        logger_level = tf.get_logger().level
        tf.get_logger().setLevel("ERROR")  # the TF1 profiler warns that it uses TF1 APIs
        try:
            run_meta = tf.compat.v1.RunMetadata()
            profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=run_meta, cmd="op", options=profiler_options)
        finally:
            tf.get_logger().setLevel(logger_level)
        return profile.total_float_ops
    finally:
        keras.config.set_dtype_policy(previous_policy)
        keras.backend.clear_session()
        gc.collect()


# Trained runs: finding finished run folders, and keeping a record of scored runs in a JSON file ----


def finished_runs(patterns):
    """The run folders that the glob `patterns` name, sorted; ends the bench with a one-line error
    if a pattern matches nothing or a folder holds no finished run (no metrics.json)."""
    folders = sorted(folder for pattern in patterns for folder in glob.glob(pattern))
    missing = [pattern for pattern in patterns if not glob.glob(pattern)]
    if missing:
        sys.exit(f"error: --runs {', '.join(missing)} matches no folder.")
    unfinished = [folder for folder in folders if not os.path.isfile(os.path.join(folder, "metrics.json"))]
    if unfinished:
        sys.exit(f"error: --runs {', '.join(unfinished)} holds no finished run (no metrics.json).")
    return folders


def merged_records(path, new_rows, key):
    """The records of the JSON file `path` with `new_rows` merged in, each replacing the records of
    the same `key(row)`, sorted by key; written back (atomically) when there are new rows."""
    path = pathlib.Path(path)
    rows = json.loads(path.read_text()) if path.is_file() else []
    replaced = {key(row) for row in new_rows}
    rows = sorted([row for row in rows if key(row) not in replaced] + new_rows, key=key)
    if new_rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, json.dumps(rows, indent=2) + "\n")
    return rows


# The export benches: CamVid frames, conversion to TFLite and ONNX, timing of the files ------------


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
