"""Models named on a bench's command line: `name` or `name:option=value:...`."""

import inspect
import sys

import keras

import fcnseg
from fcnseg.cli import key_value_options
from fcnseg.deploy.tflite import QUANTIZATIONS


def model_spec(text):
    """The model name and options of a --models entry `name:option=value:...`."""
    name, *items = text.split(":")
    return name, key_value_options("models", items)


def random_model(text, num_classes):
    """The --models entry `text` built with random weights, seeded the same for every bench."""
    keras.utils.set_random_seed(0)
    name, options = model_spec(text)
    return fcnseg.build_model(name, num_classes, **options)


def exit_unless_valid(models, quantize=()):
    """Ends the bench with a one-line error if a --models entry names no registered model or a
    --quantize entry no TFLite precision."""
    unknown = [text for text in models if model_spec(text)[0] not in fcnseg.list_models()]
    if unknown:
        sys.exit(f"error: unknown --models {', '.join(unknown)}; valid: {', '.join(fcnseg.list_models())}.")
    if any(name not in QUANTIZATIONS for name in quantize):
        sys.exit(f"error: --quantize={','.join(quantize)} is not valid; expected some of {', '.join(QUANTIZATIONS)}.")


def spec_key(name, options):
    """`name:option=value:...` with every option of the model, defaults filled in: one key per architecture."""
    parameters = inspect.signature(fcnseg.models.MODELS[name]).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY and p.name != "auxiliary_heads"}
    return ":".join([name, *(f"{key}={value}" for key, value in sorted({**defaults, **options}.items()))])
