"""ONNX Runtime's CPU latency of int8 forms: fcnseg's (TensorRT's) against the x86 forms.

    python bench/onnx_int8_forms.py --data_dir=../shared/data/camvid

Each --models entry (random weights, 11 classes) is converted to float32 ONNX at
--height x --width and quantised three ways, calibrated on the same --calibration_images
CamVid train frames: `s8s8 QDQ`, fcnseg's export (`onnx_convert.quantize_onnx`: int8
activations and weights, both symmetric, as TensorRT reads them); `u8s8 QDQ`, ONNX
Runtime's `quantize_static` with uint8 asymmetric activations (its min-max ranges); `u8s8
QOperator`, the same as fused QLinear operators. Every file runs one CamVid val frame on
ONNX Runtime's CPU provider with --threads threads: the median of --runs runs, file after
file, in --rounds rounds (the median round is reported).
"""

import os
import pathlib
import shlex
import statistics
import sys
import tempfile

import onnxruntime
from absl import app, flags
from machine import cpu_model
from model_specs import exit_unless_valid, random_model
from tflite_timing import camvid_frames, define_runtime_flags, file_ms, ort_quantize

from fcnseg.deploy.onnx_convert import convert_onnx, quantize_onnx

FORMS = {"s8s8 QDQ": None, "u8s8 QDQ": "qdq", "u8s8 QOperator": "qoperator"}

flags.DEFINE_list(
    "models", ["ddrnet23_slim", "lraspp_mobilenetv3_small:minimalistic=True"], "Models: name or name:option=value."
)
flags.DEFINE_integer("rounds", 3, "Timing rounds over all files.")
define_runtime_flags("ONNX Runtime threads.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models)
    size = (FLAGS.height, FLAGS.width)
    calibration = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    image = camvid_frames(FLAGS.data_dir, "val", size, 1)[0]
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        files = {}
        for index, text in enumerate(FLAGS.models):
            float32 = folder / f"{index}_float32.onnx"
            float32.write_bytes(convert_onnx(random_model(text, 11), size))
            files[text, "float32"] = float32
            for form, quant_format in FORMS.items():
                path = folder / f"{index}_{form.replace(' ', '_')}.onnx"
                if quant_format is None:
                    path.write_bytes(quantize_onnx(float32.read_bytes(), calibration))
                else:
                    ort_quantize(float32, path, calibration, "uint8", quant_format=quant_format)
                files[text, form] = path
        times = {key: [] for key in files}
        for _ in range(FLAGS.rounds):
            for key, path in files.items():
                times[key].append(file_ms(path, image, FLAGS.threads, FLAGS.runs, FLAGS.warmup))
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; ONNX Runtime {onnxruntime.__version__} (CPU provider), "
        f"{FLAGS.threads} threads; input {size[0]}x{size[1]}; median ms of {FLAGS.runs} runs, median of "
        f"{FLAGS.rounds} rounds.\n"
    )
    columns = ["float32", *FORMS]
    print("| model | " + " | ".join(columns) + " | s8s8 / u8s8 QDQ |")
    print("| --- |" + " ---: |" * (len(columns) + 1))
    for text in FLAGS.models:
        ms = {form: statistics.median(times[text, form]) for form in columns}
        print(
            f"| {text} | "
            + " | ".join(f"{ms[form]:.1f}" for form in columns)
            + f" | {ms['s8s8 QDQ'] / ms['u8s8 QDQ']:.2f}x |"
        )


if __name__ == "__main__":
    app.run(main)
