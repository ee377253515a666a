"""One-line error messages from the exceptions that TensorFlow, Keras and LiteRT raise, and
from a missing optional package."""

import importlib
import re

# A failed assertion's message, as graph and eager execution write it.
_ASSERTIONS = (
    re.compile(r"assertion failed: \[(.*?)\]\s*(?:\n|\[\[|$)", re.DOTALL),
    re.compile(r"Summarized data: b'(.*?)'\s*$", re.DOTALL),
)


def error_line(error):
    """The first line of an error's message, or the type's name if it has none.

    For a failed `tf.debugging.Assert` (the data checks of `fcnseg.data.decode`), the
    asserted message itself, which names the file at fault.
    """
    message = (getattr(error, "message", None) or str(error)).strip()
    for assertion in _ASSERTIONS:
        match = assertion.search(message)
        if match:
            return match.group(1)
    return message.splitlines()[0] if message else type(error).__name__


def optional_import(module, extra):
    """Imports `module`, a package of fcnseg's `extra`; fails in one line naming it if it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ValueError(f"{module} is not installed: pip install -e '.[{extra}]' ({error}).") from None
