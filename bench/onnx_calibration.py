"""ONNX Runtime's int8 calibration methods compared on a CamVid-trained model.

    python bench/onnx_calibration.py --data_dir=../shared/data/camvid \\
        --camvid_model=runs/budget/lraspp_mobilenetv3_large/best.keras

The model is converted to float32 ONNX at --height x --width (`fcnseg.deploy.onnx_convert`)
and quantised to QDQ int8 by `onnxruntime.quantization.quantize_static` with each
--methods entry `method:activations` (method minmax, percentile (99.99th) or entropy;
activations sym or asym; weights always symmetric per channel), calibrated on
--calibration_images CamVid train frames in one range, and each file is scored on CamVid
val by `fcnseg.inference.evaluate`. fcnseg's own export uses symmetric min-max computed one
image at a time (the same ranges as minmax:sym here); this bench is what the choice of a
better method rests on (BENCHMARKS.md, "ONNX").
"""

import pathlib
import shlex
import sys
import tempfile

import numpy as np
from absl import app, flags
from onnxruntime import quantization
from tflite_timing import camvid_frames

from fcnseg import data
from fcnseg.deploy.onnx_convert import INPUT_NAME, convert_onnx
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_keras_model

METHODS = {
    "minmax": quantization.CalibrationMethod.MinMax,
    "percentile": quantization.CalibrationMethod.Percentile,
    "entropy": quantization.CalibrationMethod.Entropy,
}

flags.DEFINE_string("camvid_model", None, "A .keras model trained on CamVid.", required=True)
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout).", required=True)
flags.DEFINE_list("methods", ["minmax:sym", "minmax:asym", "percentile:sym", "entropy:sym"], "method:activations.")
flags.DEFINE_integer("height", 352, "Input height.")
flags.DEFINE_integer("width", 480, "Input width.")
flags.DEFINE_integer("calibration_images", 32, "CamVid train frames calibration reads.")
FLAGS = flags.FLAGS


def quantized(source, target, images, method, activations):
    class Images(quantization.CalibrationDataReader):
        def __init__(self):
            self.images = iter(images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {INPUT_NAME: image[None].astype(np.float32)}

    extra = {"ActivationSymmetric": activations == "sym", "WeightSymmetric": True, "CalibPercentile": 99.99}
    quantization.quantize_static(
        source,
        target,
        Images(),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=True,
        activation_type=quantization.QuantType.QInt8,
        weight_type=quantization.QuantType.QInt8,
        calibrate_method=METHODS[method],
        extra_options=extra,
    )


def main(argv):
    del argv
    entries = [entry.split(":") for entry in FLAGS.methods]
    if any(len(entry) != 2 or entry[0] not in METHODS or entry[1] not in ("sym", "asym") for entry in entries):
        sys.exit(f"error: --methods={','.join(FLAGS.methods)} is not valid; expected entries like percentile:sym.")
    size = (FLAGS.height, FLAGS.width)
    images = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        (folder / "classes.json").write_text(data.dataset_spec("camvid").to_json())
        float32 = folder / "float32.onnx"
        float32.write_bytes(convert_onnx(load_keras_model(FLAGS.camvid_model, float32=True), size))
        files = [("float32", float32)]
        for method, activations in entries:
            path = folder / f"{method}_{activations}.onnx"
            quantized(float32, path, images, method, activations)
            files.append((f"int8 {method}, {activations}metric activations", path))
        for name, path in files:
            rows.append((name, evaluate(EvalConfig(str(path), "camvid", FLAGS.data_dir, "val"), verbose=0)["mean_iou"]))
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print("| file | mean IoU | - float32 |")
    print("| --- | ---: | ---: |")
    for name, iou in rows:
        print(f"| {name} | {iou:.4f} | {iou - rows[0][1]:+.4f} |")


if __name__ == "__main__":
    app.run(main)
