"""Your own images and masks: `images/` and `masks/` matched by file stem, classes in `classes.json`.

Layout, either split into folders or not (then the only split is `all`):

    <data_dir>/classes.json                   {"classes": [...], "colors": [[r, g, b], ...],
                                               "mask_format": "index" or "color"}
    <data_dir>/<split>/images/<stem>.<png, jpg, jpeg, bmp or gif>  and  <data_dir>/<split>/masks/<stem>.png
    <data_dir>/images/...                      and  <data_dir>/masks/...

"index" masks hold class indices (255 = ignore); "color" masks draw each class in its
colour from `classes.json`, and any other colour is an error (use index masks to mark
pixels to ignore). Images must have distinct stems.
"""

import json

from fcnseg.data.decode import color_pair_decoder, index_pair_decoder, index_table
from fcnseg.data.source import FileLayout, existing_dir, list_images
from fcnseg.data.specs import CLASSES_FILE, DatasetSpec

MASK_FORMATS = ("index", "color")
UNSPLIT = "all"
_COLOR_TOLERANCE = 1.0  # masks are lossless; this only forgives rounding


def spec(data_dir=None):
    if data_dir is None:
        raise ValueError(f"Dataset 'folder' needs data_dir: the folder that holds {CLASSES_FILE}.")
    return DatasetSpec.from_json_file(existing_dir(data_dir, "dataset") / CLASSES_FILE)


def _mask_format(classes_file):
    mask_format = json.loads(classes_file.read_text()).get("mask_format", "index")
    if mask_format not in MASK_FORMATS:
        raise ValueError(f"{classes_file}: mask_format {mask_format!r} is not valid; expected one of {MASK_FORMATS}.")
    return mask_format


def layout(data_dir, split):
    """Images and masks of `split` under `data_dir`, paired by stem."""
    root = existing_dir(data_dir, "dataset")
    dataset_spec = spec(root)
    split_root = root / split
    if not split_root.is_dir():
        if split != UNSPLIT or not (root / "images").is_dir():
            raise FileNotFoundError(
                f"{split_root}: split folder not found; expected {root}/<split>/images and masks/, "
                f"or {root}/images and masks/ read as split '{UNSPLIT}'."
            )
        split_root = root
    images = existing_dir(split_root / "images", f"{split} images")
    masks = existing_dir(split_root / "masks", f"{split} masks")
    image_paths = list_images(images)
    stems = [path.stem for path in image_paths]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise ValueError(f"{images}: several images share the stem {repeated[0]!r}, so they would share one mask.")
    mask_format, table = _mask_format(root / CLASSES_FILE), None
    if mask_format == "index":
        n = dataset_spec.num_classes
        table = index_table(n)
        decode = index_pair_decoder(table, f"0..{n - 1} or 255")
    else:
        classes = list(range(dataset_spec.num_classes))
        decode = color_pair_decoder(dataset_spec.colors, classes, _COLOR_TOLERANCE, unknown_is_ignored=False)
    label_files = [path for path in masks.iterdir() if path.suffix.lower() == ".png"]
    return FileLayout(
        dataset_spec,
        image_paths,
        lambda image: masks / f"{image.stem}.png",
        sorted(label_files),
        decode,
        mask_format,
        f"folder {split} ({images})",
        table,
    )


def source(data_dir, split, *, skip_bad_files=False):
    """Images and masks of `split` under `data_dir` (see `layout`)."""
    return layout(data_dir, split).source(skip_bad_files)
