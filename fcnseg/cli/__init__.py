"""What the `python -m fcnseg.*` commands share: stray-argument and one-line-error handling,
key=value and size flags, and the tiling flags of evaluate and predict.

`dataset_flags` defines the dataset flags of every command, `train_flags` the flags of
`python -m fcnseg.train` and the run config they make.
"""

import ast
import contextlib
import functools
import gc
import os
import signal
import sys
import threading

import tensorflow as tf
from absl import flags, logging

from fcnseg.errors import error_line
from fcnseg.inference.tiling import Tiling


def start(argv):
    """What every command's `main` does first: refuse stray arguments, and log warnings only
    unless --verbosity is given."""
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; every setting is a --flag.")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


@contextlib.contextmanager
def one_line_errors():
    """Ends the program with `error: <one line>` on bad input, a diverged run or Ctrl-C, not a stack trace.

    Bad input exits with status 1, Ctrl-C with 130 (as shells report SIGINT); the files being
    written are removed on the way out (see `fcnseg.files`). It exits after the error and its
    traceback are released, so the input pipeline's threads stop before the interpreter does
    (exiting with them still running aborts).
    """
    message, status = None, 1
    with _ctrl_c_noted() as interrupted:
        try:
            yield
        except KeyboardInterrupt:
            message, status = "interrupted", 130
        except Exception as error:
            if interrupted.is_set():
                message, status = "interrupted", 130
            elif isinstance(error, (ValueError, OSError, ArithmeticError)):
                message = str(error)
            elif isinstance(error, tf.errors.OpError):
                message = error_line(error)
            else:
                raise
    if message is not None:
        gc.collect()
        print(f"error: {message}", file=sys.stderr)
        sys.exit(status)


@contextlib.contextmanager
def _ctrl_c_noted():
    """Yields an Event that Ctrl-C sets, before raising KeyboardInterrupt as Python's own handler does.

    The KeyboardInterrupt comes out wherever Python is at that moment. In Python code that C or
    C++ calls back (an import from TensorFlow's `nest_util`, a weakref callback) it can come out
    as another error (a SystemError, then an AttributeError), or be printed with its stack trace
    (through `sys.excepthook` or `sys.unraisablehook`) and dropped. So the Event is what says the
    run was interrupted, and while the block runs a Ctrl-C that was printed and dropped is not
    shown but sent again. Ctrl-C while `one_line_errors` is already ending the program, and after
    the block once it was interrupted, is ignored. Where Ctrl-C is not Python's default (ignored,
    as in a shell's background job, or handled by the caller), nothing changes.
    """
    event = threading.Event()
    own = threading.current_thread() is threading.main_thread()
    if not own or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield event
        return
    hooks = sys.excepthook, sys.unraisablehook
    signal.signal(signal.SIGINT, functools.partial(_interrupt, event))
    sys.excepthook = lambda kind, error, trace: _unless_dropped_ctrl_c(event, hooks[0], error, kind, error, trace)
    sys.unraisablehook = lambda unraisable: _unless_dropped_ctrl_c(event, hooks[1], unraisable.exc_value, unraisable)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if event.is_set() else signal.default_int_handler)
        sys.excepthook, sys.unraisablehook = hooks


def _interrupt(event, signum, frame):
    event.set()
    ending = one_line_errors.__wrapped__.__code__
    while frame is not None and frame.f_code is not ending:
        frame = frame.f_back
    if frame is None:
        raise KeyboardInterrupt


def _unless_dropped_ctrl_c(event, hook, error, *hook_arguments):
    """What `sys.excepthook` and `sys.unraisablehook` do while a command runs: where `error` is
    a Ctrl-C (or raised because of one) that C code is dropping, Ctrl-C is sent again (shortly, so
    that it comes out of the command, not of this hook) and nothing is printed; otherwise `hook`
    prints it as ever."""
    if not event.is_set() or not _from_ctrl_c(error):
        return hook(*hook_arguments)
    again = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    again.daemon = True
    again.start()


def _from_ctrl_c(error):
    """Whether `error` is a KeyboardInterrupt or was raised while handling or because of one."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


def key_value_options(flag_name, items):
    """The dict of a repeated `--flag_name=key=value` flag; values are Python literals or else strings."""
    options = {}
    for item in items:
        key, separator, text = item.partition("=")
        if not separator or not key:
            raise ValueError(f"--{flag_name}={item!r} is not valid; expected key=value.")
        options[key] = _literal(text)
    return options


def size_flag(items):
    """The items of a list flag `--name=height,width` as a tuple, or None if it is empty; the
    config it goes to checks it (see `fcnseg.conventions.check_size`)."""
    return tuple(items) or None


def define_tiling_flags():
    """Defines --resize, --window and --overlap: how images meet the model's input size (see `Tiling`); and
    --tta_scales and --tta_flip, test-time augmentation at that size."""
    flags.DEFINE_list(
        "resize",
        [],
        "Run the model on images resized to height,width (the masks are resized back). Not given: the frame size "
        "the model was trained on where its classes.json has one; empty (--resize=): none, images padded.",
    )
    flags.DEFINE_list(
        "window",
        [],
        "Run the model on overlapping height,width windows and average them; empty for none (models of fixed size "
        "use their size). Otherwise images are padded to a multiple of 32.",
    )
    flags.DEFINE_float("overlap", 0.25, "Overlap of neighbouring windows, a fraction of their size.")
    flags.DEFINE_list(
        "tta_scales",
        [],
        "Test-time augmentation: also run the model at these sizes relative to the size it runs at (the resized "
        "image, each window or the padded image), e.g. 0.75,1,1.25, and average the probabilities.",
    )
    flags.DEFINE_bool("tta_flip", False, "Test-time augmentation: also run every scale mirrored left to right.")


def tta_from_flags(values):
    """The `tta_scales` (a tuple of floats, empty for none) and `tta_flip` of parsed flags."""
    try:
        scales = tuple(float(scale) for scale in values.tta_scales)
    except ValueError:
        raise ValueError(
            f"--tta_scales={','.join(values.tta_scales)} is not valid; expected numbers, e.g. 0.75,1,1.25."
        )
    return {"tta_scales": scales, "tta_flip": values.tta_flip}


def tiling_from_flags(values):
    """The `Tiling` of --resize, --window and --overlap, or None where neither --resize nor --window
    is given: the model's own then (images resized to the frames it was trained on, if it has them)."""
    if not (values["resize"].present or values["window"].present):
        Tiling(overlap=values.overlap)  # a bad --overlap is refused all the same
        return None
    return Tiling(resize=size_flag(values.resize), window=size_flag(values.window), overlap=values.overlap)


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
