"""How a run's validation score depends on how a 360x480 frame meets a model that takes multiples of 32.

    python bench/val_protocols.py --data_dir=../shared/data/camvid --runs=runs/budget/ddrnet23_slim_scale

Each run's `best.keras` scores the CamVid val split (or --split) in five forms, each frame
compared with its label at full size:

- zero pad: 24 black rows below the frame (384x480), cropped back; `fcnseg.evaluate`'s
  default and the training's own validation.
- edge pad: the same 24 rows, each a copy of the frame's last row.
- resize: the frame resized to the --window (352x480) and the probabilities back.
- windows, mean: `--window=352,480` of `fcnseg.evaluate`, the protocol of a file exported
  at that size: two windows (rows 0-351 and 8-359), probabilities averaged where they
  overlap.
- windows, no mean: the same two windows, each row taken from one of them (rows 0-351 from
  the first, the last 8 from the second): two forward passes, no averaging.

One forward pass a frame for the first three, two for the last two. Zero pad against edge
pad isolates what the black rows cost; windows with and without the mean isolate what the
averaging of two overlapping predictions adds.
"""

import pathlib

import keras
import numpy as np
from absl import app, flags

from fcnseg import data
from fcnseg.inference.segmenter import load_segmenter
from fcnseg.inference.tiling import Tiling, same_size_batches, segment
from fcnseg.metrics import confusion_matrix, confusion_scores

flags.DEFINE_list("runs", None, "Run folders (each with best.keras).", required=True)
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout).", required=True)
flags.DEFINE_string("split", "val", "Split to score.")
flags.DEFINE_list("window", ["352", "480"], "Window height,width (multiples of 32).")
flags.DEFINE_integer("batch_size", 4, "Frames a batch.")
FLAGS = flags.FLAGS


def _edge_padded(segmenter, images, multiple=32):
    height, width = images.shape[1:3]
    padding = [(0, 0), (0, -height % multiple), (0, -width % multiple), (0, 0)]
    return segmenter(np.pad(images, padding, mode="edge"))[:, :height, :width]


def _windows_without_mean(segmenter, images, window):
    height, width = images.shape[1:3]
    if width != window[1] or not window[0] <= height < 2 * window[0]:
        raise ValueError(f"--window={window[0]},{window[1]}: the frames ({height}x{width}) need exactly two windows.")
    top = segmenter(images[:, : window[0], : window[1]])
    bottom = segmenter(images[:, height - window[0] :, : window[1]])
    return np.concatenate([top, bottom[:, 2 * window[0] - height :]], axis=1)


def protocols(window):
    """Name -> (forward passes a frame, function from (segmenter, uint8 frames) to probabilities)."""
    return {
        "zero pad": (1, lambda segmenter, images: segment(segmenter, images)),
        "edge pad": (1, _edge_padded),
        "resize": (1, lambda segmenter, images: segment(segmenter, images, Tiling(resize=window))),
        "windows, mean": (2, lambda segmenter, images: segment(segmenter, images, Tiling(window=window))),
        "windows, no mean": (2, lambda segmenter, images: _windows_without_mean(segmenter, images, window)),
    }


def score_run(run, spec, source, forms, batch_size):
    """Mean IoU of the run's best.keras under each form."""
    segmenter = load_segmenter(str(pathlib.Path(run) / "best.keras"))
    segmenter.check_classes(spec, run, "CamVid")
    confusions = {name: np.zeros((spec.num_classes, spec.num_classes), np.int64) for name in forms}
    for images, labels in same_size_batches(source.load().as_numpy_iterator(), batch_size):
        for name, (_, form) in forms.items():
            predicted = form(segmenter, images).argmax(-1)
            for label, mask in zip(labels, predicted):
                confusions[name] += confusion_matrix(label[..., 0], mask, spec.num_classes)
    return {name: confusion_scores(confusion, spec.class_names)["mean_iou"] for name, confusion in confusions.items()}


def main(argv):
    del argv
    keras.utils.disable_interactive_logging()
    window = tuple(int(side) for side in FLAGS.window)
    spec = data.dataset_spec("camvid", FLAGS.data_dir)
    source = data.open_source("camvid", FLAGS.data_dir, FLAGS.split)
    forms = protocols(window)
    print(f"CamVid {FLAGS.split}, window {window[0]}x{window[1]}; mean IoU (forward passes a frame)\n")
    print("| run | " + " | ".join(f"{name} ({passes})" for name, (passes, _) in forms.items()) + " |")
    print("| --- |" + " ---: |" * len(forms))
    for run in FLAGS.runs:
        scores = score_run(run, spec, source, forms, FLAGS.batch_size)
        print(f"| {pathlib.Path(run).name} | " + " | ".join(f"{scores[name]:.4f}" for name in forms) + " |", flush=True)


if __name__ == "__main__":
    app.run(main)
