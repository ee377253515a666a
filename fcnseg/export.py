"""python -m fcnseg.export: a SavedModel for TF Serving, TFLite and ONNX files for edge devices.

    python -m fcnseg.export --model=runs/unet_camvid/best.keras --saved_model --export_dir=serving/road \\
        --tflite --quantize=float32,int8
    python -m fcnseg.export --model=runs/unet_camvid/best.keras --export_dir=serving/road --onnx --quantize=float32,int8
    python -m fcnseg.export --model=runs/unet_camvid/best.keras --export_dir=serving/road --web --quantize=float32,int8_cpu

Each file is checked against the Keras model on real images of the model's dataset (that
of the training run, read from the run_config.json beside the model, unless given),
and the report is printed and written to <export_dir>/export_report.json. TFLite files
take the training crop size unless --input_size is given; ONNX files take any size
divisible by 32 unless --input_size is given, and are checked and calibrated at the
TFLite size; the browser page (--web) runs the model at that size too. See
export/README.md for serving the SavedModel and running the TFLite, ONNX and web files.
"""

from absl import app, flags

from fcnseg.cli import one_line_errors, size_flag, start
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.cli.train_flags import run_config
from fcnseg.deploy.exporter import ExportConfig, export
from fcnseg.deploy.onnx_convert import DEFAULT_OPSET, ONNX_QUANTIZATIONS
from fcnseg.deploy.tflite import QUANTIZATIONS
from fcnseg.deploy.web_app import DEFAULT_RUNTIME, RUNTIME_VERSION
from fcnseg.inference.segmenter import classes_beside

define_dataset_flags(split="train", dataset=None)
flags.DEFINE_string("model", None, "The trained model, a .keras file.", required=True)
flags.DEFINE_string("export_dir", None, "Folder of SavedModel versions (TF Serving's model folder) and TFLite files.")
flags.DEFINE_bool("saved_model", False, "Write a SavedModel version for TF Serving.")
flags.DEFINE_integer("version", None, "The SavedModel version; the next free one by default.")
flags.DEFINE_list(
    "serving_resize",
    [],
    "Resize images to height,width in the serving graph. Not given: the frame size the model was trained on where "
    "its classes.json has one; empty (--serving_resize=): none, images padded.",
)
flags.DEFINE_bool("tflite", False, "Write TFLite files.")
flags.DEFINE_bool("onnx", False, "Write ONNX files (for TensorRT, ONNX Runtime, OpenVINO).")
flags.DEFINE_integer("onnx_opset", DEFAULT_OPSET, "The ONNX operator set of the ONNX files.")
flags.DEFINE_bool(
    "web",
    False,
    "Write <export_dir>/web/: a page that segments images, videos and the webcam in a browser (float32 ONNX, and "
    "int8_cpu when --quantize has it); serve it with python -m fcnseg.serve_web.",
)
flags.DEFINE_string(
    "web_runtime",
    DEFAULT_RUNTIME,
    f"onnxruntime-web's dist folder, copied into the page (npm install onnxruntime-web@{RUNTIME_VERSION}).",
)
flags.DEFINE_list(
    "quantize",
    ["float32"],
    f"Precisions: TFLite some of {', '.join(QUANTIZATIONS)}; ONNX some of {', '.join(ONNX_QUANTIZATIONS)} "
    "(int8: TensorRT's form; int8_cpu: uint8 activations, for ONNX Runtime on CPUs and in browsers).",
)
flags.DEFINE_list(
    "input_size",
    [],
    "TFLite input height,width (by default the model's frame size, else the run's --crop_size); fixes the ONNX "
    "files' size too.",
)
flags.DEFINE_bool("argmax", False, "TFLite files output the uint8 mask instead of the logits.")
flags.DEFINE_bool("delegate_friendly", False, "TFLite: bilinear upsampling without half-pixel centres (for delegates).")
flags.DEFINE_integer("calibration_images", 100, "Images int8 calibration reads from --split.")
flags.DEFINE_integer("parity_images", 8, "Images the parity check compares on.")
FLAGS = flags.FLAGS


def config_from_flags(values):
    """The `ExportConfig` of parsed flags, with the dataset and crop size of the training run by default."""
    if values.export_dir is None:
        raise ValueError("--export_dir is required: the folder to write the export to.")
    run = run_config(values.model)
    dataset = dataset_from_flags(values, run=None if values.dataset else run)
    trained = classes_beside(values.model)
    frame_size = None if trained is None else trained.frame_size
    return ExportConfig(
        model=values.model,
        export_dir=values.export_dir,
        dataset=dataset.name,
        data_dir=dataset.data_dir,
        split=values.split,
        dataset_options=dataset.options,
        saved_model=values.saved_model,
        version=values.version,
        serving_resize=size_flag(values.serving_resize) if values["serving_resize"].present else frame_size,
        tflite=values.tflite,
        onnx=values.onnx,
        web=values.web,
        web_runtime=values.web_runtime,
        quantize=tuple(values.quantize),
        input_size=size_flag(values.input_size) or frame_size or (run.crop_size if run else None),
        onnx_fixed_size=bool(values.input_size),
        onnx_opset=values.onnx_opset,
        argmax=values.argmax,
        delegate_friendly=values.delegate_friendly,
        calibration_images=values.calibration_images,
        parity_images=values.parity_images,
    )


def main(argv):
    start(argv)
    with one_line_errors():
        export(config_from_flags(FLAGS))
    print(f"Report in {FLAGS.export_dir}/export_report.json")


if __name__ == "__main__":
    app.run(main)
