"""Running a saved segmentation model on images of any size.

`load_segmenter` opens a model file; `segment` gives per-pixel class probabilities at
the size of the images it is given, whatever size the model takes: by padding to a
multiple of 32 and cropping back (the default), by resizing, or by a sliding window
with overlap (the default for a model of fixed input size).
"""

import dataclasses
import math
import pathlib
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from fcnseg.data.specs import CLASSES_FILE, DatasetSpec
from fcnseg.exportable import float32_model


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
    size_multiple: int = 32

    def __post_init__(self):
        if self.resize is not None and self.window is not None:
            raise ValueError("--resize and --window exclude each other; give one.")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"--overlap={self.overlap} is not valid; expected a fraction in [0, 1).")


def load_keras_model(path, float32=False):
    """Loads a `.keras` model for inference.

    Args:
        path: str.
        float32: bool. Compute in float32 even if the model was trained in mixed precision.
    """
    import fcnseg  # noqa: F401  (registers the package's layers, loss and metrics for loading)

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a bad file; all mean the same here.
        raise ValueError(f"{path}: not a loadable .keras model ({first_line(error)}).") from None
    return float32_model(model) if float32 else model


class KerasSegmenter:
    """A Keras model from pixels to logits; its logits become probabilities by a softmax."""

    def __init__(self, model):
        self.model = model
        self.num_classes = int(self.model.output_shape[-1])
        size = tuple(self.model.input_shape[1:3])
        self.input_size = None if None in size else size

    def __call__(self, images):
        logits = self.model.predict_on_batch(images.astype(np.float32))
        return _softmax(np.asarray(logits, np.float32))


class SavedModelSegmenter:
    """A SavedModel from `python -m fcnseg.export` (its `serving_default` signature), or a
    folder of its numbered versions (the newest is taken)."""

    def __init__(self, path):
        try:
            self.signature = tf.saved_model.load(str(path)).signatures["serving_default"]
            self.num_classes = int(self.signature.structured_outputs["probabilities"].shape[-1])
        except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
            raise ValueError(
                f"{path}: not a SavedModel of python -m fcnseg.export (a serving_default signature with "
                f"probabilities) ({first_line(error)})."
            ) from None
        self.input_size = None

    def __call__(self, images):
        return self.signature(images=tf.constant(images, tf.uint8))["probabilities"].numpy()


class TFLiteSegmenter:
    """A `.tflite` file from `python -m fcnseg.export`, run by LiteRT one image at a time.

    Quantised inputs and outputs are converted with their scale and zero point; a model
    that outputs its mask gives one-hot probabilities.
    """

    def __init__(self, path, num_classes=None, threads=None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{path}: not a loadable TFLite model ({first_line(error)}).") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_size = tuple(int(side) for side in self.input["shape"][1:3])
        self.outputs_mask = len(self.output["shape"]) == 3
        if self.outputs_mask and num_classes is None:
            raise ValueError(f"{path}: the model outputs its mask; keep the classes.json of the export beside it.")
        self.num_classes = num_classes if self.outputs_mask else int(self.output["shape"][-1])

    def __call__(self, images):
        outputs = np.stack([self.run(image) for image in images])
        return np.eye(self.num_classes, dtype=np.float32)[outputs] if self.outputs_mask else _softmax(outputs)

    def run(self, image):
        """The model's output for one image of its input size: float32 logits (dequantised) or the mask."""
        scale, zero_point = self.input["quantization"]
        pixels = np.asarray(image, np.float32)[None]
        if scale:
            limits = np.iinfo(self.input["dtype"])
            pixels = np.clip(np.round(pixels / scale + zero_point), limits.min, limits.max)
        self.interpreter.set_tensor(self.input["index"], pixels.astype(self.input["dtype"]))
        self.interpreter.invoke()
        output = self.interpreter.get_tensor(self.output["index"])[0]
        if self.outputs_mask:
            return output
        scale, zero_point = self.output["quantization"]
        return (output.astype(np.float32) - zero_point) * scale if scale else output.astype(np.float32)


def load_segmenter(path):
    """Opens a saved model for `segment`.

    Args:
        path: str. A `.keras` file (run in float32, whatever precision it was trained
            in, as its exports are), a SavedModel folder (or a folder of its numbered
            versions) or a `.tflite` file.

    Returns:
        A callable from uint8 images `[batch, height, width, 3]` to float32 class
        probabilities `[batch, height, width, classes]`, with attributes `num_classes`,
        `input_size` ((height, width), or None if any size works) and `spec` (the
        `DatasetSpec` of the `classes.json` beside the model file or in the SavedModel's
        assets, or None).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model not found.")
    if path.is_dir():
        path = _newest_version(path)
        classes = path / "assets" / CLASSES_FILE
    else:
        classes = path.parent / CLASSES_FILE
    spec = DatasetSpec.from_json_file(classes) if classes.is_file() else None
    if path.is_dir():
        segmenter = SavedModelSegmenter(path)
    elif path.suffix == ".keras":
        segmenter = KerasSegmenter(load_keras_model(str(path), float32=True))
    elif path.suffix == ".tflite":
        segmenter = TFLiteSegmenter(path, spec.num_classes if spec else None)
    else:
        raise ValueError(
            f"{path}: unknown model format; expected a .keras file, a SavedModel folder or a .tflite file."
        )
    segmenter.spec = spec
    return segmenter


def _newest_version(folder):
    if (folder / "saved_model.pb").is_file():
        return folder
    versions = [path for path in folder.iterdir() if path.name.isdigit() and (path / "saved_model.pb").is_file()]
    if not versions:
        raise ValueError(f"{folder}: no saved_model.pb here or in a numbered version folder.")
    return max(versions, key=lambda path: int(path.name))


def check_classes(segmenter, spec, model_path, source_name):
    """Fails unless the model predicts as many classes as `spec` names."""
    if segmenter.num_classes != spec.num_classes:
        raise ValueError(
            f"{model_path}: the model predicts {segmenter.num_classes} classes but {source_name} has "
            f"{spec.num_classes} ({', '.join(spec.class_names)})."
        )


def segment(segmenter, images, tiling=Tiling(), batch_size=8):
    """Class probabilities of images of one size, at that size.

    Args:
        segmenter: from `load_segmenter`.
        images: uint8 array `[batch, height, width, 3]`.
        tiling: Tiling.
        batch_size: int. Windows run through the model at a time.

    Returns:
        float32 array `[batch, height, width, classes]`.
    """
    images = np.asarray(images)
    height, width = images.shape[1:3]
    fixed = segmenter.input_size
    if tiling.resize is not None:
        if fixed is not None and tuple(tiling.resize) != fixed:
            raise ValueError(f"The model takes {_size(fixed)} images only; it cannot be given {_size(tiling.resize)}.")
        resized = _resize(images, tiling.resize).round().clip(0, 255).astype(np.uint8)
        scores = segmenter(resized) if fixed is not None else _padded_run(segmenter, resized, tiling.size_multiple)
        return _resize(scores, (height, width))
    window = tiling.window or fixed
    if window is None:
        return _padded_run(segmenter, images, tiling.size_multiple)
    if fixed is not None and tuple(window) != fixed:
        raise ValueError(f"The model takes {_size(fixed)} images only; the window cannot be {_size(window)}.")
    if fixed is None and any(side % tiling.size_multiple for side in window):
        raise ValueError(f"The window {_size(window)} must be a multiple of {tiling.size_multiple} on each side.")
    return _sliding_window(segmenter, images, tuple(window), tiling.overlap, batch_size)


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


def _resize(array, size):
    return tf.image.resize(np.asarray(array, np.float32), size, "bilinear").numpy()


def _softmax(logits):
    exponentials = np.exp(logits - logits.max(-1, keepdims=True))
    return exponentials / exponentials.sum(-1, keepdims=True)


def _size(size):
    return f"{size[0]}x{size[1]}"


def first_line(error):
    """The first line of an error's message (or its type's name), for one-line errors."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
