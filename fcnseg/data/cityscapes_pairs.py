"""The Kaggle "Cityscapes Image Pairs": `train/*.jpg` and `val/*.jpg`, photo left, labels right.

Each JPEG is 512 wide and 256 high: the photo in the left half and the label drawn in Cityscapes'
colours in the right half. JPEG blurs those colours, so each pixel takes the class of
the nearest Cityscapes colour, and pixels far from every colour (class borders) are
ignored (255). Classes and groupings are those of `cityscapes`.
"""

import dataclasses

import tensorflow as tf

from fcnseg.data import cityscapes
from fcnseg.data.decode import check_same_size, fail_if, map_label_colors, read_image
from fcnseg.data.source import FileLayout, check_split, existing_dir, list_images

SPLITS = ("train", "val")
# Every photo: a 2048x1024 Cityscapes frame squeezed to a square, so a model trained on them sees
# real frames best resized the same way (`DatasetSpec.frame_size`).
PHOTO_SIZE = (256, 256)
# Euclidean RGB distance within which a JPEG pixel still counts as a class colour. Blurred
# borders between far-apart colours (road and car) fall outside and are ignored; between
# close colours (car and truck) they take the nearer class.
COLOR_TOLERANCE = 60.0


def spec(data_dir=None, *, grouping=None):
    return dataclasses.replace(cityscapes.spec(grouping=grouping), frame_size=PHOTO_SIZE)


def layout(data_dir, split, *, grouping=None, color_tolerance=COLOR_TOLERANCE):
    """The side-by-side JPEGs of `split` under `data_dir`; each file holds its label."""
    check_split("cityscapes_pairs", split, SPLITS)
    root = existing_dir(data_dir, "Cityscapes pairs")
    if split == "val" and not (root / "val").is_dir() and (root / "train").is_dir():
        raise FileNotFoundError(
            f"{root / 'val'}: Cityscapes pairs val folder not found; hold out a block of train instead: "
            "--split=train[:-300] --val_split=train[-300:]"
        )
    folder = existing_dir(root / split, f"Cityscapes pairs {split}")
    paths = [path for path in list_images(folder) if path.suffix.lower() in (".jpg", ".jpeg")]
    if not paths:
        raise FileNotFoundError(f"{folder}: no .jpg image pairs found.")
    colors, classes = cityscapes.class_colors(grouping)

    def decode(path):
        pair = read_image(path)
        width = tf.shape(pair)[1]
        with tf.control_dependencies(
            [fail_if(width % 2 != 0, path, ": width is odd; expected photo and label side by side")]
        ):
            half = width // 2
        photo, drawn = pair[:, :half], pair[:, half:]
        label = map_label_colors(drawn, colors, classes, path, color_tolerance, unknown_is_ignored=True)
        return check_same_size(photo, label, path, path)

    return FileLayout(spec(grouping=grouping), paths, None, [], decode, "jpeg_color", f"cityscapes_pairs {split}")


def source(data_dir, split, *, grouping=None, color_tolerance=COLOR_TOLERANCE):
    """The side-by-side JPEGs of `split` under `data_dir` (see `layout`)."""
    return layout(data_dir, split, grouping=grouping, color_tolerance=color_tolerance).source()
