"""Faults for tests: a full disk (a small tmpfs, mounted as root), and a command interrupted mid-run."""

import contextlib
import signal
import subprocess
import time

import pytest


@contextlib.contextmanager
def full_disk(folder, size_kb):
    """Mounts a `size_kb` tmpfs on `folder` (created) for the block; skips the test where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _ctrl_c_as_from_a_terminal():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(command, **popen_options):
    """Starts `command` with Ctrl-C's default action, whatever the test run's own.

    A shell starts a background job (`nohup python -m pytest ... &`) with SIGINT ignored, and a child
    inherits that: Python then installs no KeyboardInterrupt handler and the test's Ctrl-C is lost.
    """
    return subprocess.Popen(command, preexec_fn=_ctrl_c_as_from_a_terminal, **popen_options)


def interrupt_when(command, ready, env=None, timeout=300):
    """Runs `command`, sends it SIGINT (Ctrl-C) once `ready()` is true, and returns the CompletedProcess-like result.

    Fails the test if `ready()` is never true before the command ends or `timeout` passes.
    """
    process = interruptible(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the command ended or timed out before the moment to interrupt it:\n{stderr[-2000:]}")
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
