"""python -m fcnseg.evaluate: score a saved model on a dataset split.

    python -m fcnseg.evaluate --model=runs/unet_camvid/best.keras --dataset=camvid \\
        --data_dir=data/camvid --split=val --output_dir=runs/unet_camvid/eval_val

Prints the per-class IoU, precision and recall, mean IoU, frequency-weighted IoU and pixel
accuracy, and writes them to <output_dir>/metrics.json with the confusion matrix
(confusion.npy, confusion.png). Images are resized to the frame size the model was
trained on where its classes.json records one (the Cityscapes pairs: 256x256), else scored at
full resolution (padded to a multiple of 32 and cropped back); --resize or --window choose. Without
--dataset, the dataset is that of the training run the model comes from (its
run_config.json), with any dataset flag given here replacing the run's.
"""

from absl import app, flags

from fcnseg.cli import define_tiling_flags, one_line_errors, start, tiling_from_flags, tta_from_flags
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.cli.train_flags import run_config
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.metrics import format_scores

define_dataset_flags(split="val", dataset=None)
flags.DEFINE_string(
    "model", None, "The model: a .keras file, a SavedModel folder, a .tflite or an .onnx file.", required=True
)
flags.DEFINE_string("output_dir", None, "Folder for metrics.json, confusion.npy and confusion.png.")
flags.DEFINE_integer("batch_size", 4, "Images (or sliding windows) run through the model at a time.")
define_tiling_flags()
flags.DEFINE_bool(
    "cityscapes_label_ids",
    False,
    "Cityscapes only: also write each prediction as a label-id PNG under <output_dir>/label_ids/ for "
    "cityscapesscripts' evaluator.",
)
FLAGS = flags.FLAGS


def config_from_flags(values):
    """The `EvalConfig` of parsed flags, with the dataset of the model's training run unless
    --dataset is given; raises ValueError naming the flag at fault."""
    dataset = dataset_from_flags(values, run=None if values.dataset else run_config(values.model))
    return EvalConfig(
        model=values.model,
        dataset=dataset.name,
        data_dir=dataset.data_dir,
        split=values.split,
        dataset_options=dataset.options,
        output_dir=values.output_dir,
        batch_size=values.batch_size,
        tiling=tiling_from_flags(values),
        **tta_from_flags(values),
        cityscapes_label_ids=values.cityscapes_label_ids,
    )


def main(argv):
    start(argv)
    with one_line_errors():
        scores = evaluate(config_from_flags(FLAGS))
    print(format_scores(scores))
    print(f"{scores['ms_per_image']:.1f} ms per image")
    if "tta" in scores:
        augmented = scores["tta"]
        flip = " and flip" if augmented["flip"] else ""
        print(
            f"With test-time augmentation (scales {','.join(f'{s:g}' for s in augmented['scales'])}{flip}): mean IoU "
            f"{augmented['mean_iou']:.4f} ({augmented['mean_iou'] - scores['mean_iou']:+.4f}), "
            f"{augmented['ms_per_image']:.1f} ms per image"
        )
    if FLAGS.output_dir:
        print(f"Metrics and confusion matrix in {FLAGS.output_dir}/")


if __name__ == "__main__":
    app.run(main)
