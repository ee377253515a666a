"""Writing a split of files as the `folder` layout, with its labels mended on the way.

`python -m fcnseg.convert --output_format=folder` reads each label file as it is stored
(`fcnseg.inspection.raw_files`), before the dataset's reader maps it, applies one mapping and
writes index masks:

- `value_map`: raw value -> class (`{255: 1}` for 0/255 binary masks), other values kept;
- `label_ids_to_train_ids`: Cityscapes label ids -> the 19 train ids (others 255);
- `palette`: an RGB mask's colours -> the classes of the same names (or, for the dataset's own
  palette, of the same colours); any other colour is 255.

The output is a new folder (`<output>/<split>/images`, `masks`, and `classes.json`), staged
beside it and renamed into place when complete, never written over the input.
"""

import json
import os
import pathlib
import shutil

import numpy as np
from PIL import Image

from fcnseg import files
from fcnseg.data import cityscapes
from fcnseg.data.specs import IGNORE_LABEL


def value_table(value_map):
    """A 65536-long table: raw value -> class, identity but for `value_map` ({raw: class})."""
    table = np.arange(65536, dtype=np.int64)
    for raw, mapped in value_map.items():
        table[int(raw)] = int(mapped)
    return table


def label_id_table():
    """A 65536-long table: Cityscapes label id -> train id, 255 for every other value."""
    table = np.full(65536, IGNORE_LABEL, np.int64)
    train_ids = cityscapes.train_id_of_label_id()
    table[: len(train_ids)] = [IGNORE_LABEL if train_id < 0 else train_id for train_id in train_ids]
    return table


def palette_classes(palette, spec):
    """{packed colour: class index} of a known palette ({packed colour: meaning}) for `spec`'s classes."""
    by_name = {name: index for index, name in enumerate(spec.class_names)}
    return {color: by_name[meaning] for color, meaning in palette.items() if meaning in by_name}


def mapped_label(path, table=None, colors=None):
    """The label file at `path` as class indices (uint8): raw values through `table`, or RGB
    colours through `colors` ({packed colour: class}); values past 255 fail."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB") if colors is not None else image)
    if colors is not None:
        rgb = pixels.astype(np.int64)
        packed = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
        keys = np.array(list(colors) or [-1])
        values = np.array(list(colors.values()) or [IGNORE_LABEL])
        order = np.argsort(keys)
        found = np.searchsorted(keys[order], packed).clip(0, len(keys) - 1)
        hit = keys[order][found] == packed
        return np.where(hit, values[order][found], IGNORE_LABEL).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[..., 0]
    mapped = table[pixels.astype(np.int64)]
    if mapped.max() > 255:
        raise ValueError(f"{path}: value {int(pixels[mapped > 255][0])} maps past 255; give it a --value_map.")
    return mapped.astype(np.uint8)


def write_folder(pairs, spec, output, split, map_label):
    """Writes (image path, label path) `pairs` as the folder layout under `output`; returns the count.

    Args:
        pairs: list of (Path, Path).
        spec: DatasetSpec. The classes of the written masks.
        output: str. The new dataset folder; it must not exist yet.
        split: str. The split folder's name.
        map_label: callable. Label path -> uint8 class indices.
    """
    output = pathlib.Path(output)
    if output.exists():
        raise FileExistsError(f"{output}: already exists; the folder layout is written to a new folder only.")
    stems = [pathlib.Path(image).stem for image, _ in pairs]
    if len(set(stems)) < len(stems):
        raise ValueError(f"{output}: several images share a file stem, so they would share one mask.")
    with files.staging_folder(output.parent) as staging:
        images, masks = staging / split / "images", staging / split / "masks"
        images.mkdir(parents=True)
        masks.mkdir()
        for (image, label), stem in zip(pairs, stems):
            shutil.copyfile(image, images / f"{stem}{pathlib.Path(image).suffix.lower()}")
            mask = map_label(label)
            Image.fromarray(mask).save(masks / f"{stem}.png")
        fields = {**json.loads(spec.to_json()), "mask_format": "index"}
        (staging / "classes.json").write_text(json.dumps(fields, indent=2))
        os.replace(staging, output)
    return len(pairs)
