"""Scoring a saved model on a dataset split: `EvalConfig` in, scores and their files out.

Every prediction is compared with its label at the label's own resolution: the model
sees the image as `Tiling` says (by default as it was trained: resized to its recorded frame
size, or padded to a multiple of 32) and its probabilities are brought back to the label's
size. Pixels labelled 255 are left out. With `tta_scales` or `tta_flip` the split is also
scored with test-time augmentation (`AugmentedSegmenter`), and both figures are kept, each
with its time per image. `output_dir` receives:

- `metrics.json`: mean IoU, frequency-weighted IoU, pixel accuracy, and per class the
  IoU, precision and recall, and ms per image; the same under `tta` with augmentation;
- `confusion.npy` (rows: true class, columns: predicted class; pixel counts) and
  `confusion.png` (the same, each row normalised, with class names);
- with `cityscapes_label_ids`, `label_ids/<city>/<image name>.png`: each prediction as
  Cityscapes label ids, for `cityscapesscripts`' own evaluator.
"""

import dataclasses
import json
import pathlib
import time
from typing import Optional

import keras
import numpy as np

from fcnseg import data, files
from fcnseg.data import split_expressions
from fcnseg.inference.augmented import AugmentedSegmenter
from fcnseg.inference.label_ids import write_label_ids
from fcnseg.inference.segmenter import load_segmenter
from fcnseg.inference.tiling import Tiling, describe_default, masks, same_size_batches
from fcnseg.metrics import confusion_matrix, confusion_scores


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and where to write the results; one field per flag of `python -m fcnseg.evaluate`."""

    model: str
    dataset: str
    data_dir: Optional[str] = None
    split: str = "val"
    dataset_options: dict = dataclasses.field(default_factory=dict)
    output_dir: Optional[str] = None
    batch_size: int = 4
    tiling: Optional[Tiling] = None
    cityscapes_label_ids: bool = False
    tta_scales: tuple = ()
    tta_flip: bool = False

    def __post_init__(self):
        split_expressions.check(self.split, "--split")
        if self.batch_size < 1:
            raise ValueError(f"--batch_size={self.batch_size} is not valid; expected a positive integer.")
        if self.cityscapes_label_ids:
            if self.dataset != "cityscapes" or self.dataset_options.get("grouping") is not None:
                raise ValueError(
                    "--cityscapes_label_ids needs --dataset=cityscapes with its 19 train classes (no --grouping)."
                )
            if self.output_dir is None:
                raise ValueError("--cityscapes_label_ids needs --output_dir for the label-id PNGs.")


def evaluate(config, verbose=1):
    """Scores `config.model` on the split and writes the results to `config.output_dir` (if given).

    Returns:
        The dict written to `metrics.json`.
    """
    segmenter = load_segmenter(config.model)
    spec = data.dataset_spec(config.dataset, config.data_dir, **config.dataset_options)
    segmenter.check_classes(spec, config.model, f"--dataset={config.dataset}")
    source = data.open_source(config.dataset, config.data_dir, config.split, **config.dataset_options)
    if verbose:
        print(f"Evaluating on {config.dataset} split {split_expressions.describe(source, config.split)}", flush=True)
        if config.tiling is None and describe_default(segmenter):
            print(describe_default(segmenter), flush=True)
    runs = {"plain": segmenter}
    if config.tta_scales or config.tta_flip:
        runs["tta"] = AugmentedSegmenter(segmenter, config.tta_scales or (1.0,), config.tta_flip)
    write_label_ids = _label_id_writer(source, config) if config.cityscapes_label_ids else None
    confusions = {name: np.zeros((spec.num_classes, spec.num_classes), np.int64) for name in runs}
    seconds = dict.fromkeys(runs, 0.0)
    progress = keras.utils.Progbar(source.size, unit_name="image", verbose=verbose)
    images = 0
    for batch_images, batch_labels in same_size_batches(source.load().as_numpy_iterator(), config.batch_size):
        for name, model in runs.items():
            start = time.perf_counter()
            predicted = masks(model, batch_images, config.tiling, config.batch_size)
            seconds[name] += time.perf_counter() - start
            for label, mask in zip(batch_labels, predicted):
                confusions[name] += confusion_matrix(label[..., 0], mask, spec.num_classes)
        if write_label_ids:  # the last run's masks: with test-time augmentation, its own
            for mask in predicted:
                write_label_ids(mask)
        images += len(batch_images)
        progress.update(images)
    if not images:
        raise ValueError(f"--dataset={config.dataset} --split={config.split} has no images.")
    scores = {
        "model": str(config.model),
        "dataset": config.dataset,
        "split": config.split,
        "images": images,
        **confusion_scores(confusions["plain"], spec.class_names),
        "ms_per_image": 1000 * seconds["plain"] / images,
    }
    if "tta" in runs:
        scores["tta"] = {
            "scales": list(runs["tta"].scales),
            "flip": runs["tta"].flip,
            **confusion_scores(confusions["tta"], spec.class_names),
            "ms_per_image": 1000 * seconds["tta"] / images,
        }
    if config.output_dir is not None:
        _write_results(pathlib.Path(config.output_dir), scores, confusions["plain"], spec.class_names)
    return scores


def _label_id_writer(source, config):
    """Writes the next prediction as label ids to `label_ids/<city>/<image file stem>.png`, in the split's order."""
    image_paths = iter([pathlib.Path(image.decode()) for image, _ in source.elements.as_numpy_iterator()])

    def write(mask):
        image_path = next(image_paths)
        write_label_ids(config.output_dir, f"{image_path.parent.name}/{image_path.stem}", mask)

    return write


def _write_results(output_dir, scores, confusion, class_names):
    output_dir.mkdir(parents=True, exist_ok=True)
    files.write_text(output_dir / "metrics.json", json.dumps(scores, indent=2))
    with files.atomic_path(output_dir / "confusion.npy") as temporary:
        np.save(temporary, confusion)
    with files.atomic_path(output_dir / "confusion.png") as temporary:
        plot_confusion(confusion, class_names, temporary)


def plot_confusion(confusion, class_names, path):
    """Draws the confusion matrix, each row normalised to the fraction of that class's pixels, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = confusion.sum(1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    size = 2 + 0.45 * len(class_names)
    figure, axes = pyplot.subplots(figsize=(size + 1.5, size))
    shown = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(shown, ax=axes, fraction=0.046, label="fraction of the true class's pixels")
    ticks = range(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=90)
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if len(class_names) <= 20:
        for (row, column), value in np.ndenumerate(normalised):
            if value >= 0.005:
                colour = "white" if value > 0.5 else "black"
                axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
