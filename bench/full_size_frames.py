"""A pairs-trained model on full-size frames: the pairs stretched back to 2048x1024 Cityscapes frames.

    python bench/full_size_frames.py --model=runs/budget/ddrnet23_slim_cityscapes_pairs/best.keras \\
        --data_dir=../shared/data/cityscapes_pairs --split=train[-300:]

Until real Cityscapes frames are at hand, each pair of --split is stretched back to the
camera's 2:1 frame at --height x --width (photo bilinear, labels nearest) and written in
Cityscapes' own layout (`leftImg8bit/val/<city>/`, `gtFine_labelIds`) in a temporary folder.
The model is then scored by `fcnseg.inference.evaluate` three ways: on the pairs as they are
(its pairs figure), on the full-size frames with no tiling given (the frame size its
classes.json records, the default of `python -m fcnseg.evaluate`), and on the full-size
frames padded (`--resize=`, what fcnseg did before frames had a recorded size).
"""

import pathlib
import shlex
import sys
import tempfile

import cv2
from absl import app, flags

from fcnseg import data
from fcnseg.data import cityscapes
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.tiling import Tiling

flags.DEFINE_string("model", None, "A model trained on the Cityscapes pairs (19 classes).", required=True)
flags.DEFINE_string("data_dir", "../shared/data/cityscapes_pairs", "The Cityscapes pairs.")
flags.DEFINE_string("split", "train[-300:]", "The pairs to stretch back (a split expression).")
flags.DEFINE_integer("height", 1024, "Frame height.")
flags.DEFINE_integer("width", 2048, "Frame width.")
flags.DEFINE_bool("padded", True, "Also score the frames padded at full size (slow: every frame at 2048x1024).")
FLAGS = flags.FLAGS
CITY = "stretched"


def write_frames(source, root, size):
    """Writes each pair of `source` as a `size` frame in Cityscapes' layout under `root`; returns the count."""
    images = root / "leftImg8bit" / "val" / CITY
    labels = root / "gtFine" / "val" / CITY
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    count = 0
    for count, (photo, train_ids) in enumerate(source.load().as_numpy_iterator(), start=1):
        stem = f"{CITY}_{count:06d}_000019"
        frame = cv2.resize(photo, size[::-1], interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(cityscapes.label_ids_of_train_ids(train_ids[..., 0]), size[::-1], interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(images / f"{stem}_leftImg8bit.png"), frame[..., ::-1])
        cv2.imwrite(str(labels / f"{stem}_gtFine_labelIds.png"), label)
    return count


def main(argv):
    del argv
    source = data.open_source("cityscapes_pairs", FLAGS.data_dir, FLAGS.split)
    pairs = evaluate(EvalConfig(FLAGS.model, "cityscapes_pairs", FLAGS.data_dir, FLAGS.split), verbose=0)
    with tempfile.TemporaryDirectory() as temporary:
        root = pathlib.Path(temporary)
        count = write_frames(source, root, (FLAGS.height, FLAGS.width))
        default = evaluate(EvalConfig(FLAGS.model, "cityscapes", str(root), "val"), verbose=0)
        padded = FLAGS.padded and evaluate(
            EvalConfig(FLAGS.model, "cityscapes", str(root), "val", tiling=Tiling()), verbose=0
        )
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(f"{count} pairs of {FLAGS.split}, mean IoU:\n")
    print("| frames | tiling | mean IoU | - pairs |")
    print("| --- | --- | ---: | ---: |")
    print(f"| pairs, 256x256 | as trained | {pairs['mean_iou']:.4f} | |")
    for name, scores in (("none given (the recorded frame size)", default), ("--resize= (padded)", padded)):
        if not scores:
            continue
        change = scores["mean_iou"] - pairs["mean_iou"]
        print(f"| {FLAGS.height}x{FLAGS.width} | {name} | {scores['mean_iou']:.4f} | {change:+.4f} |")


if __name__ == "__main__":
    app.run(main)
