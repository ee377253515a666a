"""Cityscapes, fine annotations: `leftImg8bit/<split>/<city>/` with `gtFine/<split>/<city>/`.

Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR
2016. Label ids map to the 19 train ids of `cityscapesscripts.helpers.labels`, the
other ids (0..33) to 255, and values that are no label id are errors; a named grouping (in `groupings.json`) merges train ids further.
"""

import functools
import json
import pathlib

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

from fcnseg.data.decode import index_pair_decoder
from fcnseg.data.source import FileLayout, check_split, existing_dir, list_images
from fcnseg.data.specs import IGNORE_LABEL, DatasetSpec

SPLITS = ("train", "val", "test")
_GROUPINGS_FILE = pathlib.Path(__file__).with_name("groupings.json")
_TRAIN_LABELS = sorted(
    (label for label in CITYSCAPES_LABELS if 0 <= label.trainId < IGNORE_LABEL), key=lambda l: l.trainId
)
_LABEL_IDS = [label for label in CITYSCAPES_LABELS if label.id >= 0]


@functools.lru_cache(maxsize=None)
def groupings():
    """Named groupings of the train ids: name -> {"background", "classes": {class: [train names]}}."""
    return json.loads(_GROUPINGS_FILE.read_text())["cityscapes"]


def spec(data_dir=None, *, grouping=None):
    """The 19 Cityscapes train classes, or the classes of a named grouping."""
    if grouping is None:
        return DatasetSpec(
            "cityscapes", [label.name for label in _TRAIN_LABELS], [label.color for label in _TRAIN_LABELS]
        )
    group = _grouping(grouping)
    names = [group["background"], *group["classes"]]
    first_member = {label.name: label.color for label in _TRAIN_LABELS}
    colors = [(0, 0, 0)] + [first_member[members[0]] for members in group["classes"].values()]
    return DatasetSpec(f"cityscapes_{grouping}", names, colors)


def train_id_of_label_id(grouping=None):
    """A 256-long table: Cityscapes label id -> class (train id or group), 255, or -1 if no such id."""
    class_of_name = _class_of_train_name(grouping)
    table = [-1] * 256
    for label in _LABEL_IDS:
        table[label.id] = class_of_name.get(label.name, IGNORE_LABEL)
    return table


def label_id_of_train_id():
    """A 19-long table: train id -> Cityscapes label id, to write predictions for the official evaluator."""
    return [label.id for label in _TRAIN_LABELS]


def label_ids_of_train_ids(train_ids):
    """An array of train ids (255 for ignored) as uint8 Cityscapes label ids (ignored: 0, unlabeled)."""
    table = np.zeros(256, np.uint8)
    table[: len(_TRAIN_LABELS)] = label_id_of_train_id()
    return table[np.asarray(train_ids, np.uint8)]


def class_colors(grouping=None):
    """Every Cityscapes label colour and its class (train id or group, or 255): for colour-coded labels."""
    class_of_name = _class_of_train_name(grouping)
    return [label.color for label in _LABEL_IDS], [class_of_name.get(label.name, IGNORE_LABEL) for label in _LABEL_IDS]


def _class_of_train_name(grouping):
    if grouping is None:
        return {label.name: label.trainId for label in _TRAIN_LABELS}
    group = _grouping(grouping)
    class_of_name = {label.name: 0 for label in _TRAIN_LABELS}  # background
    for index, members in enumerate(group["classes"].values(), start=1):
        for member in members:
            if member not in class_of_name:
                raise ValueError(
                    f"{_GROUPINGS_FILE}: grouping {grouping!r} names {member!r}, which is not a Cityscapes "
                    f"train class; valid: {', '.join(class_of_name)}."
                )
            class_of_name[member] = index
    return class_of_name


def _grouping(name):
    if name not in groupings():
        raise ValueError(f"Unknown Cityscapes grouping {name!r}; valid groupings: {', '.join(groupings())}.")
    return groupings()[name]


def layout(data_dir, split, *, grouping=None):
    """Cityscapes' `split`: `leftImg8bit/<split>/<city>/*_leftImg8bit.png` and their `*_gtFine_labelIds.png`."""
    check_split("cityscapes", split, SPLITS)
    root = existing_dir(data_dir, "Cityscapes")
    images = existing_dir(root / "leftImg8bit" / split, f"Cityscapes {split} images")
    labels = existing_dir(root / "gtFine" / split, f"Cityscapes {split} labels (gtFine)")

    def label_of(image):
        stem = image.name[: -len("_leftImg8bit.png")]
        return labels / image.parent.name / f"{stem}_gtFine_labelIds.png"

    table = train_id_of_label_id(grouping)
    decode = index_pair_decoder(table, "a Cityscapes label id 0..33")
    return FileLayout(
        spec(grouping=grouping),
        list_images(images, "*/*_leftImg8bit.png"),
        label_of,
        list_images(labels, "*/*_gtFine_labelIds.png"),
        decode,
        "index",
        f"cityscapes {split} ({images})",
        table,
    )


def source(data_dir, split, *, grouping=None, skip_bad_files=False):
    """Cityscapes' `split` (see `layout`)."""
    return layout(data_dir, split, grouping=grouping).source(skip_bad_files)
