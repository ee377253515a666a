"""int8 ONNX calibration compared on a CamVid-trained model: fcnseg's percentile ranges
against ONNX Runtime's own calibrators.

    python bench/onnx_calibration.py --data_dir=../shared/data/camvid \\
        --camvid_model=runs/budget/lraspp_mobilenetv3_large/best.keras

The model is converted to float32 ONNX at --height x --width (`fcnseg.deploy.onnx_convert`)
and quantised to QDQ int8 (weights symmetric per channel) once per --methods entry, each
calibrated on the same --calibration_images CamVid train frames, and each file is scored on
CamVid val by `fcnseg.inference.evaluate`; the table also gives by how much the process's
resident memory peaked while each file was quantised:

- `fcnseg:P`: `onnx_convert.quantize_onnx` with symmetric activation ranges at the Pth
  percentile of each activation's magnitudes (100 is min-max; fcnseg's export uses
  `ACTIVATION_PERCENTILE`).
- `ort:METHOD:ACTIVATIONS`: `onnxruntime.quantization.quantize_static` with its calibrator
  METHOD (minmax, percentile (99.99th) or entropy) and sym or asym activations, all images
  in one range (ONNX Runtime keeps every activation of them in memory: fine for LR-ASPP at
  32 frames, not for U-Net).
"""

import functools
import pathlib
import shlex
import sys
import tempfile

from absl import app, flags
from machine import peak_memory_added
from tflite_timing import camvid_frames, ort_quantize

from fcnseg import data
from fcnseg.deploy.onnx_convert import convert_onnx, quantize_onnx
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model

ORT_METHODS = ("minmax", "percentile", "entropy")

flags.DEFINE_string("camvid_model", None, "A .keras model trained on CamVid.", required=True)
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout).", required=True)
flags.DEFINE_list(
    "methods",
    ["fcnseg:100", "fcnseg:99.999", "fcnseg:99.99", "fcnseg:99.9", "ort:minmax:asym", "ort:entropy:sym"],
    "fcnseg:PERCENTILE or ort:METHOD:sym|asym.",
)
flags.DEFINE_integer("height", 352, "Input height.")
flags.DEFINE_integer("width", 480, "Input width.")
flags.DEFINE_integer("calibration_images", 32, "CamVid train frames calibration reads.")
FLAGS = flags.FLAGS


def fcnseg_quantized(source, target, images, percentile):
    """fcnseg's own int8 file, activation ranges at `percentile`."""
    target.write_bytes(quantize_onnx(source.read_bytes(), images, percentile=percentile))


def parsed(entry):
    """(label, writer) of a --methods entry, or None if it is not valid."""
    parts = entry.split(":")
    if parts[0] == "fcnseg" and len(parts) == 2:
        try:
            percentile = float(parts[1])
        except ValueError:
            return None
        if not 0 < percentile <= 100:
            return None
        return f"int8 fcnseg, {parts[1]}th percentile", functools.partial(fcnseg_quantized, percentile=percentile)
    if parts[0] == "ort" and len(parts) == 3 and parts[1] in ORT_METHODS and parts[2] in ("sym", "asym"):
        label = f"int8 ONNX Runtime {parts[1]}, {parts[2]}metric"
        return label, functools.partial(
            ort_quantize, activation_type="int8", method=parts[1], symmetric=parts[2] == "sym"
        )
    return None


def main(argv):
    del argv
    methods = [parsed(entry) for entry in FLAGS.methods]
    if not methods or None in methods:
        sys.exit(f"error: --methods={','.join(FLAGS.methods)} is not valid; expected fcnseg:99.99 or ort:entropy:sym.")
    size = (FLAGS.height, FLAGS.width)
    images = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        (folder / "classes.json").write_text(data.dataset_spec("camvid").to_json())
        float32 = folder / "float32.onnx"
        float32.write_bytes(convert_onnx(load_keras_model(FLAGS.camvid_model, float32=True), size))
        files = [("float32", float32, "-")]
        for index, (label, write) in enumerate(methods):
            path = folder / f"int8_{index}.onnx"
            _, memory = peak_memory_added(functools.partial(write, float32, path, images))
            files.append((label, path, f"{memory:.2f}"))
        for label, path, memory in files:
            iou = evaluate(EvalConfig(str(path), "camvid", FLAGS.data_dir, "val"), verbose=0)["mean_iou"]
            rows.append((label, iou, memory))
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print("| file | mean IoU | - float32 | memory added while quantising (GB) |")
    print("| --- | ---: | ---: | ---: |")
    for label, iou, memory in rows:
        print(f"| {label} | {iou:.4f} | {iou - rows[0][1]:+.4f} | {memory} |")


if __name__ == "__main__":
    app.run(main)
