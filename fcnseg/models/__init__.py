"""The model zoo: `MODELS`, a plain registry of builders, and `build_model`."""

import inspect
import numbers

from fcnseg.models import bisenetv2, ddrnet, deeplab, fcn, lraspp, unet
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
    "bisenetv2": bisenetv2.bisenetv2,
    "ddrnet23_slim": ddrnet.ddrnet23_slim,
}


# The papers' loss weight of each auxiliary (deep supervision) head, in the order of the
# extra outputs that `build_model(..., auxiliary_heads=True)` returns after the main logits.
AUXILIARY_LOSS_WEIGHTS = {
    "bisenetv2": bisenetv2.AUXILIARY_LOSS_WEIGHTS,
    "ddrnet23_slim": ddrnet.AUXILIARY_LOSS_WEIGHTS,
}


def list_models():
    """Returns the names of the models `build_model` can build."""
    return list(MODELS)


def model_options(name):
    """Returns the names of the keyword options the model `name` accepts."""
    return list(model_option_defaults(name))


def model_option_defaults(name):
    """Returns {option: default value} of the keyword options the model `name` accepts."""
    parameters = inspect.signature(_builder(name)).parameters.values()
    return {
        parameter.name: parameter.default
        for parameter in parameters
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.name != "auxiliary_heads"
    }


def auxiliary_loss_weights(name):
    """The paper's loss weights of the auxiliary heads of the model `name`; () if it has none."""
    _builder(name)
    return AUXILIARY_LOSS_WEIGHTS.get(name, ())


def models_with_auxiliary_heads():
    """The names of the models with auxiliary heads."""
    return list(AUXILIARY_LOSS_WEIGHTS)


def build_model(
    name, num_classes, input_shape=(None, None, 3), encoder_weights=None, *, auxiliary_heads=False, **options
):
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
        auxiliary_heads: bool. Also return the logits of the auxiliary heads, for training
            with deep supervision (`auxiliary_loss_weights(name)` gives their weights).
            Defaults to False.
        **options: The model's own options, listed by `model_options(name)`.

    Returns:
        A `keras.Model`; with `auxiliary_heads`, its outputs are a list: the main logits,
        then each auxiliary head's, all at the input resolution.
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
    if auxiliary_heads:
        if not auxiliary_loss_weights(name):
            raise ValueError(f"Model {name!r} has no auxiliary heads.")
        options["auxiliary_heads"] = True
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
