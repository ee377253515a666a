"""What the TFLite benchmarks share: CamVid frames, model specs, timing and conversion."""

import statistics
import time

import numpy as np

import fcnseg
from fcnseg import data
from fcnseg.cli import key_value_options
from fcnseg.deploy.exporter import resized_images
from fcnseg.deploy.tflite import convert
from fcnseg.inference.segmenter import TFLiteSegmenter


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


def model_spec(text):
    """The model name and options of a --models entry `name:option=value:...`."""
    name, *items = text.split(":")
    return name, key_value_options("models", items)


def check_model_specs(texts):
    """The --models entries whose model name is not registered."""
    return [text for text in texts if model_spec(text)[0] not in fcnseg.list_models()]


def time_tflite(model, path, size, quantize, image, calibration, threads, runs, warmup):
    """Converts `model` to `path` in `quantize`; returns (megabytes, median ms of one `image`)."""
    path.write_bytes(convert(model, size, quantize, calibration_images=calibration))
    runner = TFLiteSegmenter(path, threads=threads)
    image = np.asarray(image)
    return path.stat().st_size / 1e6, median_ms(lambda: runner.run(image), runs, warmup)
