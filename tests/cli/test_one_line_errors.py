"""`one_line_errors`: what every `python -m fcnseg.*` command ends with on bad input and Ctrl-C."""

import os
import signal
import sys
import time
import weakref

import pytest

from fcnseg.cli import one_line_errors


@pytest.fixture
def ctrl_c_as_from_a_terminal():
    """SIGINT as a terminal's Python has it, whatever the test run's own (a background job ignores it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the handler runs at the next bytecode; never sleeps long


def _ends_with(capsys, block, status, line):
    with pytest.raises(SystemExit) as exit:
        with one_line_errors():
            block()
    assert exit.value.code == status
    assert capsys.readouterr().err == f"error: {line}\n"


def test_bad_input_ends_in_its_one_line(capsys):
    def bad_flag():
        raise ValueError("--epochs=0 is not valid; expected a positive integer.")

    _ends_with(capsys, bad_flag, 1, "--epochs=0 is not valid; expected a positive integer.")


def test_ctrl_c_ends_as_interrupted(capsys, ctrl_c_as_from_a_terminal):
    _ends_with(capsys, _ctrl_c, 130, "interrupted")


def test_ctrl_c_that_a_library_turns_into_another_error_still_ends_as_interrupted(capsys, ctrl_c_as_from_a_terminal):
    def in_tensorflow():
        # TensorFlow's nest_util, interrupted inside a call from C++, raised this instead (a test run of 2026-12-05).
        try:
            _ctrl_c()
        except KeyboardInterrupt as error:
            raise AttributeError("'list' object has no attribute '_from_components'") from error

    _ends_with(capsys, in_tensorflow, 130, "interrupted")


def test_ctrl_c_that_a_callback_drops_is_raised_again_without_its_stack_trace(capsys, ctrl_c_as_from_a_terminal):
    went_on = []

    def in_a_weakref_callback():
        class Held:
            pass

        held = Held()
        reference = weakref.ref(held, lambda _: _ctrl_c())
        del held  # the callback runs here; Python prints what it raises through sys.unraisablehook, and drops it
        time.sleep(5)
        went_on.append(reference)

    _ends_with(capsys, in_a_weakref_callback, 130, "interrupted")
    assert went_on == []


def test_ctrl_c_that_c_code_prints_and_drops_is_raised_again_without_its_stack_trace(capsys, ctrl_c_as_from_a_terminal):
    went_on = []

    def in_tensorflow_cpp():
        try:
            try:
                _ctrl_c()
            except KeyboardInterrupt as error:
                # A C function called back into Python and returned as if nothing had happened (CI, 2026-12-05).
                raise SystemError("<built-in function __import__> returned a result with an exception set") from error
        except SystemError:
            sys.excepthook(*sys.exc_info())  # what C++ that calls PyErr_Print and goes on does
        time.sleep(5)
        went_on.append(True)

    _ends_with(capsys, in_tensorflow_cpp, 130, "interrupted")
    assert went_on == []


def test_ctrl_c_while_the_error_line_is_made_does_not_cut_it_short(capsys, ctrl_c_as_from_a_terminal):
    class SlowToDescribe(ValueError):
        def __str__(self):
            _ctrl_c()
            return "--epochs=0 is not valid; expected a positive integer."

    def bad_flag():
        raise SlowToDescribe()

    _ends_with(capsys, bad_flag, 1, "--epochs=0 is not valid; expected a positive integer.")


def test_errors_printed_without_ctrl_c_are_printed_as_ever(capsys, ctrl_c_as_from_a_terminal):
    hooks = sys.excepthook, sys.unraisablehook
    with one_line_errors():
        try:
            raise RuntimeError("printed by C code")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    assert "RuntimeError: printed by C code" in capsys.readouterr().err
    assert (sys.excepthook, sys.unraisablehook) == hooks


def test_other_errors_are_not_taken_for_ctrl_c(ctrl_c_as_from_a_terminal):
    with pytest.raises(AttributeError):
        with one_line_errors():
            raise AttributeError("a bug, with its stack trace")


def test_the_default_ctrl_c_handler_is_back_after_the_block(ctrl_c_as_from_a_terminal):
    with one_line_errors():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_ctrl_c_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with one_line_errors():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
