"""Models named on a bench's command line: `name` or `name:option=value:...`."""

import fcnseg
from fcnseg.cli import key_value_options


def model_spec(text):
    """The model name and options of a --models entry `name:option=value:...`."""
    name, *items = text.split(":")
    return name, key_value_options("models", items)


def check_model_specs(texts):
    """The --models entries whose model name is not registered."""
    return [text for text in texts if model_spec(text)[0] not in fcnseg.list_models()]
