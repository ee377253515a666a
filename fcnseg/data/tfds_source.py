"""Any TensorFlow Datasets segmentation dataset, named `tfds:<name>` (e.g. `tfds:cityscapes/semantic_segmentation`).

TFDS stores Cityscapes' label ids, so `tfds:cityscapes...` maps them like `cityscapes`
(groupings included); other datasets keep their label values and need `num_classes`.
Manual downloads go where TFDS expects them, `<data_dir>/downloads/manual/`.
"""

import colorsys
import numbers
import re

import tensorflow as tf
import tensorflow_datasets as tfds

from fcnseg.data import cityscapes
from fcnseg.data.decode import check_same_size, index_table, map_label_values
from fcnseg.data.source import mapped_source
from fcnseg.data.specs import DatasetSpec

IMAGE_KEYS = ("image", "image_left")
LABEL_KEYS = ("segmentation_mask", "segmentation_label", "label")


def _is_cityscapes(tfds_name):
    return re.split("[/:]", tfds_name)[0] == "cityscapes"


def spec(data_dir=None, *, tfds_name, num_classes=None, grouping=None):
    if _is_cityscapes(tfds_name):
        if num_classes is not None:
            raise ValueError(f"tfds:{tfds_name} has the Cityscapes classes; do not pass num_classes.")
        return cityscapes.spec(grouping=grouping)
    if grouping is not None:
        raise ValueError(f"grouping is only for Cityscapes, not tfds:{tfds_name}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"tfds:{tfds_name} needs num_classes, the number of classes its labels hold (at least 2).")
    hues = [colorsys.hsv_to_rgb(i / num_classes, 0.8, 0.9) for i in range(num_classes)]  # for drawing
    colors = [tuple(round(255 * c) for c in rgb) for rgb in hues]
    return DatasetSpec(f"tfds:{tfds_name}", [f"class_{i}" for i in range(num_classes)], colors)


def _key(features, candidates, given, what, tfds_name):
    if given is not None:
        candidates = (given,)
    for key in candidates:
        if key in features:
            return key
    raise ValueError(f"tfds:{tfds_name} has no {what} feature among {list(candidates)}; its features: {list(features)}.")


def source(data_dir, split, *, tfds_name, image_key=None, label_key=None, num_classes=None, grouping=None):
    """The TFDS dataset's `split` as (image, label) pairs; features are found by name or given."""
    dataset_spec = spec(tfds_name=tfds_name, num_classes=num_classes, grouping=grouping)
    builder = None
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
        features = builder.info.features
        # Never a download in the middle of a command: the data must be prepared beforehand.
        examples = tfds.load(tfds_name, split=split, data_dir=data_dir, download=False)
    except Exception as error:  # TFDS raises many types; the user needs the reason and the name
        reason = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        if builder is not None and not builder.is_prepared():
            reason = (
                f"it is not prepared in {builder.data_dir}; prepare it first with `tfds build {tfds_name}"
                f"{f' --data_dir={data_dir}' if data_dir else ''}` (see datasets/tfds/README.md)"
            )
        raise ValueError(f"tfds:{tfds_name}: could not load split {split!r}: {reason}") from None
    image_key = _key(features, IMAGE_KEYS, image_key, "image", tfds_name)
    label_key = _key(features, LABEL_KEYS, label_key, "label", tfds_name)
    if _is_cityscapes(tfds_name):
        table, valid = cityscapes.train_id_of_label_id(grouping), "a Cityscapes label id 0..33"
    else:
        table, valid = index_table(dataset_spec.num_classes), f"0..{dataset_spec.num_classes - 1} or 255"
    where = tf.constant(f"tfds:{tfds_name} {split}")

    def convert(example):
        image, label = example[image_key], example[label_key]
        label = label if label.shape.rank == 3 else label[..., None]
        if image.shape[-1] != 3:
            raise ValueError(f"tfds:{tfds_name} feature {image_key!r} is not an RGB image: shape {image.shape}.")
        label = map_label_values(label, table, where, valid)
        return check_same_size(tf.cast(image, tf.uint8), label, where, where)

    size = builder.info.splits[split].num_examples if split in builder.info.splits else None
    return mapped_source(dataset_spec, examples, convert, size, cheap_elements=False)
