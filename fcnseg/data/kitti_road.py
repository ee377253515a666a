"""KITTI Road: `data_road/training/image_2/` with colour ground truth in `gt_image_2/`.

Fritsch, Kuehnl and Geiger, "A New Performance Measure and Evaluation Benchmark for
Road Detection Algorithms", ITSC 2013. Ground truth is drawn in colours: magenta is
road (or ego lane), red is not road, black is invalid (255). KITTI publishes no
validation split, so `val` holds every fifth training image (sorted by name) and
`train` the rest; `trainval` holds all. Testing images have no labels: predict on them.
"""

import re

from fcnseg.data.decode import color_pair_decoder
from fcnseg.data.source import FileLayout, check_split, existing_dir, list_images
from fcnseg.data.specs import IGNORE_LABEL, DatasetSpec

SPLITS = ("train", "val", "trainval")
TARGETS = ("road", "lane")
VAL_EVERY = 5
_IMAGE_NAME = re.compile(r"(um|umm|uu)_(\d+)")
# Ground-truth colours and their classes; PNG is lossless, the tolerance only forgives edits.
_GT_COLORS = [(255, 0, 0), (255, 0, 255), (0, 0, 0)]
_GT_CLASSES = [0, 1, IGNORE_LABEL]
_COLOR_TOLERANCE = 30.0
# Lane ground truth exists only for the "um" (urban marked) images.
_CATEGORIES = {"road": ("um", "umm", "uu"), "lane": ("um",)}


def spec(data_dir=None, *, target="road"):
    _check_target(target)
    return DatasetSpec(f"kitti_{target}", (f"not_{target}", target), ((255, 0, 0), (255, 0, 255)))


def _check_target(target):
    if target not in TARGETS:
        raise ValueError(f"target={target!r} is not valid for kitti_road; expected one of {', '.join(TARGETS)}.")


def layout(data_dir, split, *, target="road"):
    """KITTI Road's `split` of the training images; `data_dir` holds `data_road/` or is it."""
    _check_target(target)
    if split == "test":
        raise ValueError(
            "KITTI Road's testing images have no labels; predict on data_road/testing/image_2 instead. "
            f"Valid splits: {', '.join(SPLITS)}."
        )
    check_split("kitti_road", split, SPLITS)
    root = existing_dir(data_dir, "KITTI Road")
    if (root / "data_road").is_dir():
        root = root / "data_road"
    images_dir = existing_dir(root / "training" / "image_2", "KITTI Road training images (data_road/training/image_2)")
    labels_dir = existing_dir(
        root / "training" / "gt_image_2", "KITTI Road ground truth (data_road/training/gt_image_2)"
    )
    images = [image for category in _CATEGORIES[target] for image in list_images(images_dir, f"{category}_*.png")]
    images = sorted(images)
    if split != "trainval":
        images = [image for index, image in enumerate(images) if (index % VAL_EVERY == 0) == (split == "val")]

    def label_of(image):
        match = _IMAGE_NAME.fullmatch(image.stem)
        if match is None:
            raise ValueError(f"{image}: not named as KITTI Road names images (um_000000.png, umm_..., uu_...).")
        return labels_dir / f"{match[1]}_{target}_{match[2]}.png"

    decode = color_pair_decoder(_GT_COLORS, _GT_CLASSES, _COLOR_TOLERANCE, unknown_is_ignored=False)
    labels = list_images(labels_dir, f"*_{target}_*.png")
    return FileLayout(
        spec(target=target), images, label_of, labels, decode, "color", f"kitti_road {split} ({images_dir})"
    )


def source(data_dir, split, *, target="road", skip_bad_files=False):
    """KITTI Road's `split` (see `layout`)."""
    return layout(data_dir, split, target=target).source(skip_bad_files)
