"""How images of any size meet a model's input size.

`segment` gives per-pixel class probabilities at the size of the images it is given,
whatever size the model takes: by padding to a multiple of 32 and cropping back (the
default), by resizing, or by a sliding window with overlap (the default for a model of
fixed input size).
"""

import dataclasses
import logging
import math
from typing import Optional

import numpy as np
import tensorflow as tf

from fcnseg.conventions import SIZE_MULTIPLE, check_size

# Above this many pixels, `masks` segments an image in tiles of `_TILE` squared with `_MARGIN`
# pixels of context around each, so memory stays bounded whatever the image's size.
LARGE_IMAGE_PIXELS = 2048 * 2048
_TILE = 1024
_MARGIN = 64
logger = logging.getLogger("fcnseg.inference")


@dataclasses.dataclass(frozen=True)
class Tiling:
    """How an image meets a model's input size.

    Args:
        resize: (height, width) or None. Resize the image to this size (bilinear) and the
            probabilities back to the image's size.
        window: (height, width) or None. Cover the image with windows of this size that
            overlap by `overlap` of their size, and average their probabilities. A model
            of fixed input size uses windows of that size unless `resize` is given.
        overlap: float in [0, 1). The overlap of neighbouring windows.
        size_multiple: int. Otherwise the image is padded at the bottom and right to a
            multiple of this, and the probabilities cropped back.
    """

    resize: Optional[tuple] = None
    window: Optional[tuple] = None
    overlap: float = 0.25
    size_multiple: int = SIZE_MULTIPLE

    def __post_init__(self):
        for name in ("resize", "window"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_size(name, getattr(self, name)))
        if self.resize is not None and self.window is not None:
            raise ValueError("--resize and --window exclude each other; give one.")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"--overlap={self.overlap} is not valid; expected a fraction in [0, 1).")


def model_tiling(segmenter, tiling=None):
    """`tiling`, or where it is None the model's own: images resized to the frame size it was
    trained on (`Segmenter.frame_size`) if it has one, else `Tiling()`."""
    if tiling is not None:
        return tiling
    fixed = segmenter.input_size
    if segmenter.frame_size is not None and (fixed is None or tuple(fixed) == tuple(segmenter.frame_size)):
        return Tiling(resize=segmenter.frame_size)
    return Tiling()


def describe_default(segmenter):
    """One line on the tiling a model gets when none is given, or None if it is `Tiling()`'s."""
    resize = model_tiling(segmenter).resize
    if resize is None:
        return None
    return (
        f"Images are resized to {_size(resize)}, the frames the model was trained on (frame_size in its "
        "classes.json), and the masks back; --resize= pads them instead, --resize or --window chooses."
    )


def segment(segmenter, images, tiling=None, batch_size=8):
    """Class probabilities of images of one size, at that size.

    Args:
        segmenter: Segmenter, from `load_segmenter`.
        images: uint8 array `[batch, height, width, 3]`.
        tiling: Tiling or None. None takes the model's own (`model_tiling`).
        batch_size: int. Windows run through the model at a time.

    Returns:
        float32 array `[batch, height, width, classes]`.
    """
    tiling = model_tiling(segmenter, tiling)
    images = np.asarray(images)
    height, width = images.shape[1:3]
    fixed = segmenter.input_size
    if tiling.resize is not None:
        if fixed is not None and tuple(tiling.resize) != fixed:
            raise ValueError(
                f"--resize={_flag(tiling.resize)} does not fit the model: it takes {_size(fixed)} images only."
            )
        resized = resize_bilinear(images, tiling.resize).round().clip(0, 255).astype(np.uint8)
        scores = segmenter(resized) if fixed is not None else _padded_run(segmenter, resized, tiling.size_multiple)
        return resize_bilinear(scores, (height, width))
    window = tiling.window or fixed
    if window is None:
        return _padded_run(segmenter, images, tiling.size_multiple)
    if fixed is not None and tuple(window) != fixed:
        raise ValueError(f"--window={_flag(window)} does not fit the model: it takes {_size(fixed)} images only.")
    if fixed is None and any(side % tiling.size_multiple for side in window):
        raise ValueError(
            f"--window={_flag(window)} is not valid; expected a multiple of {tiling.size_multiple} on each side."
        )
    return _sliding_window(segmenter, images, tuple(window), tiling.overlap, batch_size)


def masks(segmenter, images, tiling=None, batch_size=8):
    """Class indices of images of one size: the argmax of `segment`, with bounded memory.

    Images of more than `LARGE_IMAGE_PIXELS` pixels (unless `tiling.resize` shrinks them)
    are cut into tiles with overlapping context, each segmented as `tiling` says, and a
    warning says so.

    Returns:
        int array `[batch, height, width]`.
    """
    tiling = model_tiling(segmenter, tiling)
    images = np.asarray(images)
    height, width = images.shape[1:3]
    if tiling.resize is not None or height * width <= LARGE_IMAGE_PIXELS:
        return segment(segmenter, images, tiling, batch_size).argmax(-1)
    logger.warning(
        "%dx%d images are larger than %d pixels: segmenting them in %dx%d tiles (with %d pixels of context) "
        "to bound memory.",
        width,
        height,
        LARGE_IMAGE_PIXELS,
        _TILE,
        _TILE,
        _MARGIN,
    )
    result = np.zeros(images.shape[:3], np.int32)
    for top in range(0, height, _TILE):
        for left in range(0, width, _TILE):
            crop_top, crop_left = max(top - _MARGIN, 0), max(left - _MARGIN, 0)
            crop = images[:, crop_top : top + _TILE + _MARGIN, crop_left : left + _TILE + _MARGIN]
            tile = segment(segmenter, crop, tiling, batch_size).argmax(-1)
            rows, columns = top - crop_top, left - crop_left
            result[:, top : top + _TILE, left : left + _TILE] = tile[:, rows : rows + _TILE, columns : columns + _TILE]
    return result


def same_size_batches(items, batch_size):
    """Groups consecutive (image, payload) pairs whose images share a size into batches.

    Yields:
        (uint8 images `[n, height, width, 3]`, list of their n payloads), n <= `batch_size`.
    """
    images, payloads = [], []
    for image, payload in items:
        if images and (len(images) == batch_size or image.shape != images[0].shape):
            yield np.stack(images), payloads
            images, payloads = [], []
        images.append(image)
        payloads.append(payload)
    if images:
        yield np.stack(images), payloads


def _padded_run(segmenter, images, multiple):
    height, width = images.shape[1:3]
    padded = np.pad(images, [(0, 0), (0, -height % multiple), (0, -width % multiple), (0, 0)])
    return segmenter(padded)[:, :height, :width]


def _sliding_window(segmenter, images, window, overlap, batch_size):
    batch, height, width = images.shape[:3]
    padded = np.pad(images, [(0, 0), (0, max(window[0] - height, 0)), (0, max(window[1] - width, 0)), (0, 0)])
    rows = _starts(padded.shape[1], window[0], overlap)
    columns = _starts(padded.shape[2], window[1], overlap)
    corners = [(row, column) for row in rows for column in columns]
    total = np.zeros((*padded.shape[:3], segmenter.num_classes), np.float32)
    counts = np.zeros(padded.shape[1:3] + (1,), np.float32)
    for row, column in corners:
        counts[row : row + window[0], column : column + window[1]] += 1
    tiles = [(index, row, column) for index in range(batch) for row, column in corners]
    for first in range(0, len(tiles), batch_size):
        chunk = tiles[first : first + batch_size]
        crops = np.stack([padded[i, r : r + window[0], c : c + window[1]] for i, r, c in chunk])
        for (i, r, c), probabilities in zip(chunk, segmenter(crops)):
            total[i, r : r + window[0], c : c + window[1]] += probabilities
    return (total / counts)[:, :height, :width]


def _starts(length, window, overlap):
    """Window offsets from 0 to `length - window` at most `window * (1 - overlap)` apart."""
    if length <= window:
        return [0]
    steps = math.ceil((length - window) / max(1, int(window * (1 - overlap))))
    return [round(step * (length - window) / steps) for step in range(steps + 1)]


def resize_bilinear(array, size):
    """`array` `[batch, height, width, channels]` resized to `size` (bilinear), as float32."""
    return tf.image.resize(np.asarray(array, np.float32), size, "bilinear").numpy()


def _size(size):
    return f"{size[0]}x{size[1]}"


def _flag(size):
    return f"{size[0]},{size[1]}"
