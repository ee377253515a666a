"""Datasets: one registry of readers, `load` for any of them, and the input pipeline.

Each reader module of `DATASETS` reads one on-disk layout and has `spec(data_dir,
**options)`, the `DatasetSpec` of its labels, and `source(data_dir, split, **options)`,
a `Source`. TFDS datasets are reached as `tfds:<name>`.
"""

import inspect

from fcnseg.data import (
    camvid,
    cityscapes,
    cityscapes_pairs,
    folder,
    kitti_road,
    split_expressions,
    synthetic,
    tfds_source,
    tfrecord,
)
from fcnseg.data.pipeline import Augmentation, class_frequencies, make_dataset, median_frequency_weights
from fcnseg.data.source import Source
from fcnseg.data.specs import IGNORE_LABEL, DatasetSpec

DATASETS = {
    "cityscapes": cityscapes,
    "cityscapes_pairs": cityscapes_pairs,
    "kitti_road": kitti_road,
    "camvid": camvid,
    "folder": folder,
    "synthetic": synthetic,
    "tfrecord": tfrecord,
}
TFDS_PREFIX = "tfds:"

__all__ = [
    "DATASETS",
    "IGNORE_LABEL",
    "Augmentation",
    "DatasetSpec",
    "Source",
    "class_frequencies",
    "dataset_option_names",
    "dataset_spec",
    "file_layouts",
    "list_datasets",
    "load",
    "make_dataset",
    "median_frequency_weights",
    "open_source",
]


def list_datasets():
    """The names `load` takes, besides `tfds:<name>`."""
    return list(DATASETS)


def dataset_option_names(name):
    """The keyword options the dataset `name` takes."""
    reader, _ = _reader(name)
    parameters = inspect.signature(reader.source).parameters.values()
    return [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name != "tfds_name"]


def open_source(name, data_dir=None, split="train", **options):
    """One split of a dataset, not yet read: see `Source`.

    Args:
        name: str. One of `list_datasets()`, or `tfds:<name>`.
        data_dir: str or None. The dataset's folder, as published.
        split: str. The split, e.g. "train", "val", or a TFDS split expression such as
            "train[:90%]", "train[-300:]" or "train+val" (see `split_expressions`).
        **options: The dataset's own options, listed by `dataset_option_names(name)`.
    """
    reader, options = _reader_and_options(name, options)
    data_dir = None if data_dir in (None, "") else str(data_dir)
    if reader is tfds_source or split_expressions.is_plain(split):
        return reader.source(data_dir, split, **options)
    return split_expressions.open_expression(split, lambda part: reader.source(data_dir, part, **options))


def file_layouts(name, data_dir=None, split="train", **options):
    """The files of a split as (FileLayout, start, stop) parts, each the layout's `images[start:stop]`;
    None for datasets that are not files the package reads one by one (tfds:, tfrecord, synthetic).

    Args: as for `open_source`.
    """
    reader, options = _reader_and_options(name, options)
    if not hasattr(reader, "layout"):
        return None
    data_dir = None if data_dir in (None, "") else str(data_dir)
    accepted = inspect.signature(reader.layout).parameters
    options = {key: value for key, value in options.items() if key in accepted}
    layouts = {part: reader.layout(data_dir, part, **options) for part in split_expressions.split_names(split)}
    sizes = {part: len(layout.images) for part, layout in layouts.items()}
    return [(layouts[part], start, stop) for part, start, stop in split_expressions.absolute_parts(split, sizes)]


def dataset_spec(name, data_dir=None, **options):
    """The `DatasetSpec` (classes, colours) of a dataset with these options."""
    reader, options = _reader_and_options(name, options)
    accepted = inspect.signature(reader.spec).parameters
    return reader.spec(
        None if data_dir in (None, "") else str(data_dir), **{k: v for k, v in options.items() if k in accepted}
    )


def load(name, data_dir=None, split="train", **options):
    """Every example of a split, unbatched and unaugmented.

    Returns:
        A `tf.data.Dataset` of (image uint8 [H, W, 3], label int32 [H, W, 1]) with the
        dataset's label mapping applied; 255 marks pixels to ignore.
    """
    return open_source(name, data_dir, split, **options).load()


def _reader(name):
    if isinstance(name, str) and name.startswith(TFDS_PREFIX):
        return tfds_source, {"tfds_name": name[len(TFDS_PREFIX) :]}
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}, or tfds:<name>.")
    return DATASETS[name], {}


def _reader_and_options(name, options):
    reader, fixed = _reader(name)
    unknown = sorted(set(options) - set(dataset_option_names(name)))
    if unknown:
        valid = ", ".join(dataset_option_names(name)) or "none"
        raise ValueError(f"Unknown option(s) {', '.join(unknown)} for dataset {name!r}; valid options: {valid}.")
    return reader, {**options, **fixed}
