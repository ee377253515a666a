"""python -m fcnseg.predict: draw a model's masks on an image, a folder of images or a video.

    python -m fcnseg.predict --model=runs/unet_camvid/best.keras --input=street.jpg --output=out
    python -m fcnseg.predict --model=runs/unet_camvid/best.keras --input=drive.mp4 --output=out \\
        --views=overlay,side_by_side --alpha=0.6

The class names and colours come from the classes.json that training writes beside the
model, or from --dataset (and --data_dir). Images are resized to the frame size the model was
trained on where its classes.json records one, else padded to a multiple of 32; --resize or
--window (overlapping windows) choose.
"""

from absl import app, flags

from fcnseg import data
from fcnseg.cli import define_tiling_flags, one_line_errors, start, tiling_from_flags, tta_from_flags
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.inference.prediction import IMAGE_FORMATS, VIEWS, PredictConfig, predict

define_dataset_flags(dataset=None, reads_data=False)
define_tiling_flags()
flags.DEFINE_string(
    "model", None, "The model: a .keras file, a SavedModel folder, a .tflite or an .onnx file.", required=True
)
flags.DEFINE_string("input", None, "An image, a folder of images (searched recursively) or a video.", required=True)
flags.DEFINE_string("output", None, "The folder to write pictures or videos to.", required=True)
flags.DEFINE_list("views", ["overlay"], f"What to draw, some of: {', '.join(VIEWS)}.")
flags.DEFINE_bool("legend", True, "Also write legend.png, each class's colour and name.")
flags.DEFINE_float("alpha", 0.5, "The weight of the mask's colours in the overlay, 0 to 1.")
flags.DEFINE_enum("image_format", "png", IMAGE_FORMATS, "File format of drawn pictures (index masks are PNG).")
flags.DEFINE_integer("batch_size", 8, "Images, frames or windows run through the model at a time.")
FLAGS = flags.FLAGS


def config_from_flags(values):
    """The `PredictConfig` of parsed flags; raises ValueError naming the flag at fault."""
    spec = None
    if values.dataset is not None:
        dataset = dataset_from_flags(values)
        spec = data.dataset_spec(dataset.name, dataset.data_dir, **dataset.options)
    return PredictConfig(
        model=values.model,
        input=values.input,
        output=values.output,
        spec=spec,
        views=tuple(values.views),
        legend=values.legend,
        alpha=values.alpha,
        image_format=values.image_format,
        batch_size=values.batch_size,
        tiling=tiling_from_flags(values),
        **tta_from_flags(values),
    )


def main(argv):
    start(argv)
    with one_line_errors():
        result = predict(config_from_flags(FLAGS))
    rate = result["count"] / result["seconds"]
    unit = "frames" if result["kind"] == "video" else "images"
    print(f"{result['count']} {unit} in {result['seconds']:.1f} s ({rate:.2f} {unit}/s); written to {FLAGS.output}/")


if __name__ == "__main__":
    app.run(main)
