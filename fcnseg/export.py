"""python -m fcnseg.export: a SavedModel for TF Serving and TFLite files for edge devices.

    python -m fcnseg.export --model=runs/unet_camvid/best.keras --saved_model --export_dir=serving/road \\
        --tflite --quantize=float32,int8

Each file is checked against the Keras model on real images of the model's dataset (the
dataset flags of the training run, read from the flags.txt beside the model, unless given),
and the report is printed and written to <export_dir>/export_report.json. TFLite files
take the training crop size unless --input_size is given. See export/README.md for
serving the SavedModel and running the TFLite files.
"""

import types

from absl import app, flags

from fcnseg.common_flags import dataset_options, define_dataset_flags, one_line_errors, run_flags, size_flag, start
from fcnseg.export_lib import ExportConfig, export
from fcnseg.tflite import QUANTIZATIONS

define_dataset_flags(split="train", dataset=None)
flags.DEFINE_string("model", None, "The trained model, a .keras file.", required=True)
flags.DEFINE_string("export_dir", None, "Folder of SavedModel versions (TF Serving's model folder) and TFLite files.")
flags.DEFINE_bool("saved_model", False, "Write a SavedModel version for TF Serving.")
flags.DEFINE_integer("version", None, "The SavedModel version; the next free one by default.")
flags.DEFINE_list("serving_resize", [], "Resize images to height,width in the serving graph; empty pads them.")
flags.DEFINE_bool("tflite", False, "Write TFLite files.")
flags.DEFINE_list("quantize", ["float32"], f"TFLite precisions, some of {', '.join(QUANTIZATIONS)}.")
flags.DEFINE_list("input_size", [], "TFLite input height,width; the run's --crop_size by default.")
flags.DEFINE_bool("argmax", False, "TFLite files output the uint8 mask instead of the logits.")
flags.DEFINE_bool("delegate_friendly", False, "TFLite: bilinear upsampling without half-pixel centres (for delegates).")
flags.DEFINE_integer("calibration_images", 100, "Images int8 calibration reads from --split.")
flags.DEFINE_integer("parity_images", 8, "Images the parity check compares on.")
FLAGS = flags.FLAGS


def config_from_flags(values):
    """The `ExportConfig` of parsed flags, with the dataset and crop size of the training run by default."""
    if values.export_dir is None:
        raise ValueError("--export_dir is required: the folder to write the export to.")
    run = run_flags(values.model)
    dataset_values = values
    if values.dataset is None:
        if "dataset" not in run:
            raise ValueError(
                f"No --dataset given and no flags.txt of a training run beside {values.model}: give --dataset "
                "and --data_dir, the model's data (parity checks and int8 calibration read it)."
            )
        # The run's dataset flags, but for those given on this command line.
        run_values = {name: run.get(name, [None])[-1] for name in ("dataset", "data_dir", "grouping", "road_or_lane")}
        run_values["dataset_option"] = run.get("dataset_option", [])
        dataset_values = types.SimpleNamespace(
            **{name: getattr(values, name) if values[name].present else value for name, value in run_values.items()},
            skip_bad_files=values.skip_bad_files,
        )
    input_size = values.input_size or (run.get("crop_size", [""])[-1].split(",") if "crop_size" in run else [])
    return ExportConfig(
        model=values.model,
        export_dir=values.export_dir,
        dataset=dataset_values.dataset,
        data_dir=dataset_values.data_dir,
        split=values.split,
        dataset_options=dataset_options(dataset_values),
        saved_model=values.saved_model,
        version=values.version,
        serving_resize=size_flag("serving_resize", values.serving_resize) if values.serving_resize else None,
        tflite=values.tflite,
        quantize=tuple(values.quantize),
        input_size=size_flag("input_size", input_size) if input_size else None,
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
