"""The model zoo: `MODELS`, a plain registry of builders, and `build_model`."""

import inspect
import numbers

from fcnseg.models import deeplab, fcn, lraspp, unet
from fcnseg.models.backbones import check_encoder_weights

MODELS = {
    "fcn32s_vgg16": fcn.fcn32s_vgg16,
    "fcn16s_vgg16": fcn.fcn16s_vgg16,
    "fcn8s_vgg16": fcn.fcn8s_vgg16,
    "fcn8s_resnet50": fcn.fcn8s_resnet50,
    "unet": unet.unet,
    "deeplabv3plus_mobilenetv2": deeplab.deeplabv3plus_mobilenetv2,
    "deeplabv3plus_resnet50": deeplab.deeplabv3plus_resnet50,
    "lraspp_mobilenetv3_large": lraspp.lraspp_mobilenetv3_large,
    "lraspp_mobilenetv3_small": lraspp.lraspp_mobilenetv3_small,
}


def list_models():
    """Returns the names of the models `build_model` can build."""
    return list(MODELS)


def model_options(name):
    """Returns the names of the keyword options the model `name` accepts."""
    parameters = inspect.signature(_builder(name)).parameters.values()
    return [parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY]


def build_model(name, num_classes, input_shape=(None, None, 3), encoder_weights=None, **options):
    """Builds a segmentation model from raw RGB pixels to per-pixel class logits.

    Every model takes float32 (or uint8) pixels in 0..255, normalises them in the
    graph as its encoder expects, and returns float32 logits of shape
    `(batch, height, width, num_classes)` at the input resolution, also under a
    mixed-precision policy.

    Args:
        name: str. One of `list_models()`.
        num_classes: int. The number of classes, at least 2.
        input_shape: tuple. `(height, width, 3)`; height and width may be None (any
            size the model accepts, a multiple of 32 always works).
        encoder_weights: None (random), "imagenet" (downloaded by `keras.applications`)
            or the path to a local weights file; see each builder for which file.
        **options: The model's own options, listed by `model_options(name)`.

    Returns:
        A `keras.Model`.
    """
    builder = _builder(name)
    valid_options = model_options(name)
    unknown = sorted(set(options) - set(valid_options))
    if unknown:
        valid = ", ".join(valid_options) or "none"
        raise ValueError(f"Unknown option(s) {', '.join(unknown)} for model {name!r}; valid options: {valid}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes={num_classes!r} is not valid; expected an integer of at least 2.")
    _check_input_shape(input_shape)
    check_encoder_weights(encoder_weights)
    return builder(int(num_classes), tuple(input_shape), encoder_weights, **options)


def _builder(name):
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; valid models: {', '.join(MODELS)}.")
    return MODELS[name]


def _check_input_shape(input_shape):
    shape = tuple(input_shape)
    sizes_valid = all(size is None or (isinstance(size, numbers.Integral) and size > 0) for size in shape[:2])
    if len(shape) != 3 or shape[2] != 3 or not sizes_valid:
        raise ValueError(
            f"input_shape={shape} is not valid; expected (height, width, 3) with height and width "
            "positive integers or None."
        )
