"""ONNX Runtime's CPU latency of the export's two int8 forms: `int8` (TensorRT's) and `int8_cpu`.

    python bench/onnx_int8_forms.py --data_dir=../shared/data/camvid

Each --models entry (random weights, 11 classes) is converted to float32 ONNX at --height x
--width and quantised as `python -m fcnseg.export --onnx --quantize=int8,int8_cpu` does
(`onnx_convert.quantize_onnx`), calibrated on the same --calibration_images CamVid train
frames: `int8`, int8 activations and weights, both symmetric, as TensorRT reads them;
`int8_cpu`, uint8 activations with a zero point, which ONNX Runtime's x86 kernels are built
for. Every file runs one CamVid val frame on ONNX Runtime's CPU provider with --threads
threads: the median of --runs runs, file after file, in --rounds rounds (min and median round).
"""

import os
import pathlib
import shlex
import statistics
import sys
import tempfile

import onnxruntime
from absl import app, flags
from common import camvid_frames, cpu_model, define_runtime_flags, exit_unless_valid, file_ms, random_model, write_onnx

FORMS = ("float32", "int8", "int8_cpu")

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
        files = {}
        for index, text in enumerate(FLAGS.models):
            model = random_model(text, 11)
            for form in FORMS:
                files[text, form] = pathlib.Path(temporary, f"{index}_{form}.onnx")
                write_onnx(model, files[text, form], size, form, calibration)
        times = {key: [] for key in files}
        for _ in range(FLAGS.rounds):
            for key, path in files.items():
                times[key].append(file_ms(path, image, FLAGS.threads, FLAGS.runs, FLAGS.warmup))
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; ONNX Runtime {onnxruntime.__version__} (CPU provider), "
        f"{FLAGS.threads} threads; input {size[0]}x{size[1]}; median ms of {FLAGS.runs} runs; min / median of "
        f"{FLAGS.rounds} rounds.\n"
    )
    print("| model | " + " | ".join(FORMS) + " | int8 / int8_cpu |")
    print("| --- |" + " ---: |" * (len(FORMS) + 1))
    for text in FLAGS.models:
        cells = [f"{min(times[text, form]):.1f} / {statistics.median(times[text, form]):.1f}" for form in FORMS]
        ratio = statistics.median(times[text, "int8"]) / statistics.median(times[text, "int8_cpu"])
        print(f"| {text} | " + " | ".join(cells) + f" | {ratio:.2f}x |")


if __name__ == "__main__":
    app.run(main)
