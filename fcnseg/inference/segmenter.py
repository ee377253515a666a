"""Saved segmentation models behind one interface, whatever their format.

`load_segmenter` opens a `.keras` file, a SavedModel folder of `python -m fcnseg.export`,
a `.tflite` file or an `.onnx` file as a `Segmenter`: a callable from uint8 images to class
probabilities, with the number of classes, the input size it takes and the class list
(`DatasetSpec`) fixed when it is made. `fcnseg.inference.tiling.segment` runs a
`Segmenter` on images of any size.
"""

import abc
import pathlib
import zipfile
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from fcnseg.data.specs import CLASSES_FILE, DatasetSpec
from fcnseg.errors import error_line, optional_import
from fcnseg.models.precision import float32_model


class Segmenter(abc.ABC):
    """A model from uint8 images `[batch, height, width, 3]` to float32 class probabilities
    `[batch, height, width, classes]`.

    Args:
        num_classes: int. The number of classes it predicts.
        input_size: (height, width) or None. The one size it takes, or None if it takes
            any size divisible by 32.
        spec: DatasetSpec or None. Its class names and colours, where known.
    """

    def __init__(self, num_classes, input_size=None, spec=None):
        self.num_classes = int(num_classes)
        self.input_size = None if input_size is None else tuple(int(side) for side in input_size)
        self.spec = spec

    @property
    def frame_size(self):
        """(height, width) its training frames were resampled to (`DatasetSpec.frame_size`), or None."""
        return None if self.spec is None else self.spec.frame_size

    @abc.abstractmethod
    def __call__(self, images):
        """Class probabilities of a batch of images of one size that the model takes."""

    def check_classes(self, spec, model_path, source_name):
        """Fails unless the model predicts as many classes as `spec` names."""
        if self.num_classes != spec.num_classes:
            raise ValueError(
                f"{model_path}: the model predicts {self.num_classes} classes but {source_name} has "
                f"{spec.num_classes} ({', '.join(spec.class_names)})."
            )


class KerasSegmenter(Segmenter):
    """A Keras model from pixels to logits; its logits become probabilities by a softmax.

    Args:
        model: keras.Model.
        spec: DatasetSpec or None.
        path: str or None. The model's file, for errors.
    """

    def __init__(self, model, spec=None, path=None):
        shapes = (model.input_shape, model.output_shape)
        if not all(isinstance(shape, tuple) and len(shape) == 4 for shape in shapes) or shapes[0][-1] != 3:
            raise ValueError(
                f"{path or model.name}: not a segmentation model; expected images (batch, height, width, 3) in and "
                f"logits (batch, height, width, classes) out, not {shapes[0]} in and {shapes[1]} out."
            )
        size = tuple(model.input_shape[1:3])
        super().__init__(model.output_shape[-1], None if None in size else size, spec)
        self.model = model

    def __call__(self, images):
        logits = self.model.predict_on_batch(np.asarray(images, np.float32))
        return _softmax(np.asarray(logits, np.float32))


class SavedModelSegmenter(Segmenter):
    """A SavedModel version folder from `python -m fcnseg.export` (its `serving_default` signature).

    Args:
        path: str or pathlib.Path. The version folder.
        spec: DatasetSpec or None.
    """

    def __init__(self, path, spec=None):
        try:
            signature = tf.saved_model.load(str(path)).signatures["serving_default"]
            num_classes = signature.structured_outputs["probabilities"].shape[-1]
        except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
            raise ValueError(
                f"{path}: not a SavedModel of python -m fcnseg.export (a serving_default signature with "
                f"probabilities) ({error_line(error)})."
            ) from None
        super().__init__(num_classes, None, spec)
        self.signature = signature

    def __call__(self, images):
        return self.signature(images=tf.constant(images, tf.uint8))["probabilities"].numpy()


class TFLiteSegmenter(Segmenter):
    """A `.tflite` file from `python -m fcnseg.export`, run by LiteRT one image at a time.

    Quantised inputs and outputs are converted with their scale and zero point; a model
    that outputs its mask gives one-hot probabilities, and needs `spec` for its number of
    classes.

    Args:
        path: str or pathlib.Path.
        spec: DatasetSpec or None.
        threads: int or None. LiteRT's CPU threads; None lets it choose.
    """

    def __init__(self, path, spec=None, threads=None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{path}: not a loadable TFLite model ({error_line(error)}).") from None
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]
        self.output = interpreter.get_output_details()[0]
        self.outputs_mask = len(self.output["shape"]) == 3
        if self.outputs_mask and spec is None:
            raise ValueError(f"{path}: the model outputs its mask; keep the classes.json of the export beside it.")
        num_classes = spec.num_classes if self.outputs_mask else self.output["shape"][-1]
        super().__init__(num_classes, self.input["shape"][1:3], spec)

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


class OnnxSegmenter(Segmenter):
    """An `.onnx` file from `python -m fcnseg.export`, run by ONNX Runtime on the CPU.

    It takes float32 pixels and returns logits (see `fcnseg.deploy.onnx_convert`), for a
    whole batch at once, at any size divisible by 32 or at its one fixed size.

    Args:
        path: str or pathlib.Path.
        spec: DatasetSpec or None.
        threads: int or None. ONNX Runtime's intra-operator threads; None lets it choose.
    """

    def __init__(self, path, spec=None, threads=None):
        runtime = optional_import("onnxruntime", "onnx")
        options = runtime.SessionOptions()
        options.intra_op_num_threads = threads or 0
        try:
            session = runtime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own kinds for a bad file
            raise ValueError(f"{path}: not a loadable ONNX model ({error_line(error)}).") from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs[0].shape) != 4:
            raise ValueError(f"{path}: not an ONNX model of python -m fcnseg.export (images in, logits out).")
        num_classes = outputs[0].shape[-1]
        if not isinstance(num_classes, int):
            raise ValueError(f"{path}: its output does not give its number of classes.")
        size = inputs[0].shape[1:3]
        super().__init__(num_classes, tuple(size) if all(isinstance(side, int) for side in size) else None, spec)
        self.session = session
        self.input_name = inputs[0].name

    def __call__(self, images):
        return _softmax(self.logits(images))

    def logits(self, images):
        """The float32 logits of a batch of images of one size the model takes."""
        return self.session.run(None, {self.input_name: np.asarray(images, np.float32)})[0]


def load_keras_model(path, float32=False):
    """Loads a `.keras` model for inference (uncompiled).

    Args:
        path: str.
        float32: bool. Compute in float32 even if the model was trained in mixed precision.
    """
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"{path}: model not found.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model (not a zip archive: cut short, or another kind of file).")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a bad file; all mean the same here.
        raise ValueError(f"{path}: not a loadable .keras model ({error_line(error)}).") from None
    return float32_model(model) if float32 else model


def load_segmenter(path):
    """Opens a saved model as a `Segmenter`.

    Args:
        path: str. A `.keras` file (run in float32, whatever precision it was trained
            in, as its exports are), a SavedModel folder (or a folder of its numbered
            versions: the newest is taken), a `.tflite` file or an `.onnx` file.

    Returns:
        A `Segmenter` whose `spec` is the `DatasetSpec` of the `classes.json` beside the
        model file or in the SavedModel's assets, or None.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model not found.")
    if path.is_dir():
        path = _newest_version(path)
        spec = _classes(path / "assets" / CLASSES_FILE)
        return SavedModelSegmenter(path, spec)
    spec = _classes(path.parent / CLASSES_FILE)
    if path.suffix == ".keras":
        return KerasSegmenter(load_keras_model(str(path), float32=True), spec, path)
    if path.suffix == ".tflite":
        return TFLiteSegmenter(path, spec)
    if path.suffix == ".onnx":
        return OnnxSegmenter(path, spec)
    raise ValueError(
        f"{path}: unknown model format; expected a .keras file, a SavedModel folder, a .tflite or an .onnx file."
    )


def classes_beside(model_path):
    """The `DatasetSpec` of the `classes.json` beside a model file (in a SavedModel's assets), or None."""
    path = pathlib.Path(model_path)
    return _classes(path / "assets" / CLASSES_FILE if path.is_dir() else path.parent / CLASSES_FILE)


def _classes(path) -> Optional[DatasetSpec]:
    return DatasetSpec.from_json_file(path) if path.is_file() else None


def _newest_version(folder):
    if (folder / "saved_model.pb").is_file():
        return folder
    versions = [path for path in folder.iterdir() if path.name.isdigit() and (path / "saved_model.pb").is_file()]
    if not versions:
        raise ValueError(f"{folder}: no saved_model.pb here or in a numbered version folder.")
    return max(versions, key=lambda path: int(path.name))


def _softmax(logits):
    exponentials = np.exp(logits - logits.max(-1, keepdims=True))
    return exponentials / exponentials.sum(-1, keepdims=True)
