"""Masks as Cityscapes label ids: the PNGs the official evaluator reads.

Both `python -m fcnseg.predict --views=label_ids` and `python -m fcnseg.evaluate
--cityscapes_label_ids` write each frame's mask here as `<output>/label_ids/<folder>/<stem>.png`,
8-bit, at the frame's size, with label ids instead of train ids (road is 7, not 0), so that
cityscapesscripts' `csEvalPixelLevelSemanticLabeling` finds exactly one prediction per frame.
"""

import pathlib

from fcnseg.data import cityscapes
from fcnseg.inference.image_files import write_image

FOLDER = "label_ids"


def check_cityscapes_classes(spec, option):
    """Fails, naming `option`, unless `spec` holds Cityscapes' 19 train classes in their order."""
    if spec is None or tuple(spec.class_names) != tuple(cityscapes.spec().class_names):
        held = "no class list" if spec is None else f"the classes of {spec.name} ({spec.num_classes})"
        raise ValueError(f"{option} needs a model of Cityscapes' 19 train classes (no grouping), not {held}.")


def write_label_ids(output, relative_stem, mask):
    """Writes a mask of train ids as the label-id PNG `<output>/label_ids/<relative_stem>.png`; returns its path."""
    path = pathlib.Path(output) / FOLDER / f"{relative_stem}.png"
    return write_image(path, cityscapes.label_ids_of_train_ids(mask))
