"""A dataset split before decoding, and the file listing that most readers share.

A `Source` keeps a split as cheap elements (file paths, indices, shard names) that the
pipeline can shard and shuffle before any image is decoded, plus how to read them into
`(image uint8 [H, W, 3], label int32 [H, W, 1])` pairs.
"""

import dataclasses
import logging
import pathlib
import re
from typing import Callable, Optional

import tensorflow as tf

from fcnseg.data.specs import DatasetSpec
from fcnseg.errors import error_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_DIGITS = re.compile(r"(\d+)")
logger = logging.getLogger("fcnseg.data")


@dataclasses.dataclass(frozen=True)
class Source:
    """One split of a dataset, not yet read.

    Args:
        spec: DatasetSpec. The classes of the labels `read` yields.
        elements: tf.data.Dataset. Cheap elements (paths, indices, shard files).
        read: callable. Turns a dataset of elements into one of (image, label) pairs; the
            same for every split of a reader, so that parts of splits can be joined.
        size: int or None. The number of examples, if known without reading them.
        files_sharded: bool. True if each element is a file of many examples, so
            multi-worker training should shard by file.
        cheap_elements: bool. True if elements are small (paths, indices), so the
            whole split can be shuffled before reading; False if they are examples.
        parts: tuple of (str, int). For a split expression of several parts or a slice,
            each part as an absolute slice (e.g. "train[0:2675]") and its size.
        count: callable or None. Where `size` is None, counts the examples without
            decoding them (e.g. the records of TFRecord shards); None: `load` and count.
    """

    spec: DatasetSpec
    elements: tf.data.Dataset
    read: Callable
    size: Optional[int]
    files_sharded: bool = False
    cheap_elements: bool = True
    parts: tuple = ()
    count: Optional[Callable] = None

    def load(self):
        """All examples, decoded, in order."""
        return self.read(self.elements)


def check_split(dataset, split, splits):
    if split not in splits:
        raise ValueError(f"Dataset {dataset!r} has no split {split!r}; valid splits: {', '.join(splits)}.")


def existing_dir(path, what):
    """Returns `path` as a Path, failing clearly if it is not a folder."""
    if path is None:
        raise ValueError(f"No data_dir given: pass the {what} folder.")
    path = pathlib.Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: {what} folder not found.")
    return path


def list_images(folder, pattern="*"):
    """Image files in `folder` matching `pattern` (a glob, may reach into subfolders), in
    natural order: numbers in names compare as numbers (2.jpg before 10.jpg)."""
    images = (p for p in pathlib.Path(folder).glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(images, key=natural_order)


def natural_order(path):
    """A sort key of `path` in which runs of digits compare by their value."""
    pieces = _DIGITS.split(str(path))
    return [int(piece) if index % 2 else piece for index, piece in enumerate(pieces)], str(path)


def pair_with_labels(images, label_path_of, description):
    """Pairs each image with its label file, failing on the first image without one.

    Args:
        images: list of Path. The split's images.
        label_path_of: callable. Image path -> the path its label must have.
        description: str. The dataset and split, for error messages.

    Returns:
        A list of (image path, label path) strings.
    """
    if not images:
        raise FileNotFoundError(f"{description}: no images found.")
    pairs = []
    for image in images:
        label = label_path_of(image)
        if not label.is_file():
            raise FileNotFoundError(f"{image}: image has no label; expected {label}.")
        pairs.append((str(image), str(label)))
    return pairs


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """One split of a dataset stored as files: where they are and how its reader reads them.

    Readers of files describe a split so; `source` makes the `Source` that training and
    evaluation read, and `python -m fcnseg.inspect` checks every file of it.

    Args:
        spec: DatasetSpec. The classes the labels map to.
        images: list of Path. The split's images, in the reader's order.
        label_of: callable or None. Image path -> the path its label must have; None if
            each image file holds its label (the Cityscapes pairs).
        label_files: list of Path. Every label file the layout holds for the split, so that
            labels without an image can be found.
        decode: callable. `decode(image_path, label_path)` (or `decode(path)` without
            `label_of`) -> (image uint8 [H, W, 3], label int32 [H, W, 1]), the reader's mapping.
        label_format: str. "index" (class values), "color" (lossless class colours) or
            "jpeg_color" (colours blurred by JPEG, read by the nearest colour).
        description: str. The dataset and split, and where a split's images are, for messages:
            "camvid train (data/camvid/train)".
        value_table: list or None. For "index" labels, the reader's table of raw value ->
            class, 255 (ignored) or -1 (refused), as `fcnseg.data.decode.map_label_values` takes.
    """

    spec: DatasetSpec
    images: list
    label_of: Optional[Callable]
    label_files: list
    decode: Callable
    label_format: str
    description: str
    value_table: Optional[list] = None

    def matched(self, start=0, stop=None):
        """Of `images[start:stop]`: (pairs of (image, label) paths, images without their label, and
        labels without an image, which only a whole split can tell)."""
        images = self.images[start:stop]
        if self.label_of is None:
            return [(image, None) for image in images], [], []
        pairs, lonely_images = [], []
        for image in images:
            label = self.label_of(image)
            if label.is_file():
                pairs.append((image, label))
            else:
                lonely_images.append(image)
        if len(images) < len(self.images):
            return pairs, lonely_images, []
        claimed = {label for _, label in pairs}
        return pairs, lonely_images, [label for label in self.label_files if label not in claimed]

    def source(self, skip_bad_files=False):
        """The split as a `Source`; fails on the first image without its label."""
        if self.label_of is None:
            if not self.images:
                raise FileNotFoundError(f"{self.description}: no images found.")
            paths = [str(path) for path in self.images]
            return mapped_source(self.spec, tf.data.Dataset.from_tensor_slices(paths), self.decode, len(paths))
        pairs = pair_with_labels(self.images, self.label_of, self.description)
        # Warnings about skipped files name the dataset and split only: "camvid train".
        return file_pairs_source(self.spec, pairs, self.decode, self.description.partition(" (")[0], skip_bad_files)


def mapped_source(spec, elements, decode, size, **properties):
    """A `Source` whose `read` decodes each element on its own, in parallel."""
    return Source(spec, elements, lambda dataset: dataset.map(decode, tf.data.AUTOTUNE), size, **properties)


def file_pairs_source(spec, pairs, decode_pair, description, skip_bad_files=False):
    """A `Source` over (image path, label path) pairs, decoded by `decode_pair` in parallel.

    With `skip_bad_files`, every pair is read once first; pairs that fail any check
    are left out and reported in a warning that counts them and names the first.
    """
    if skip_bad_files:
        pairs = _drop_bad_pairs(pairs, decode_pair, description)
    image_paths, label_paths = (list(paths) for paths in zip(*pairs))
    elements = tf.data.Dataset.from_tensor_slices((image_paths, label_paths))
    return mapped_source(spec, elements, decode_pair, len(pairs))


def _drop_bad_pairs(pairs, decode_pair, description):
    image_paths, label_paths = (list(paths) for paths in zip(*pairs))
    readable = (
        tf.data.Dataset.from_tensor_slices((tf.range(len(pairs)), image_paths, label_paths))
        .map(lambda index, image, label: (index, *decode_pair(image, label)), tf.data.AUTOTUNE)
        .map(lambda index, image, label: index)
        .ignore_errors()
    )
    good = set(int(index) for index in readable.as_numpy_iterator())
    bad = [index for index in range(len(pairs)) if index not in good]
    if not bad:
        return pairs
    if len(bad) == len(pairs):
        raise ValueError(
            f"{description}: every one of the {len(pairs)} files is bad, e.g. {failure_reason(decode_pair, *pairs[bad[0]])}"
        )
    logger.warning(
        "%s: skipped %d of %d image/label pairs with bad files; the first: %s",
        description,
        len(bad),
        len(pairs),
        failure_reason(decode_pair, *pairs[bad[0]]),
    )
    return [pair for index, pair in enumerate(pairs) if index in good]


def failure_reason(decode, image, label=None):
    """The one line that says why `decode` refuses `image` and `label` (None: the image holds it)."""
    paths = [str(path) for path in (image, label) if path is not None]
    try:
        decode(*paths)
    except (tf.errors.OpError, ValueError) as error:
        return error_line(error)
    return f"{image}: could not be read"
