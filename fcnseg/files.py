"""Writing files so that nothing half-written stands under a final name.

Every file the package writes goes through `atomic_path`: it is written under a hidden
temporary name beside its final one (`.<stem>.partial-<pid><suffix>`, keeping the suffix
that Keras, OpenCV and the writers choose their format by) and renamed into place only when
the writer has finished without error. A failed or interrupted write removes the temporary
file; one left by a killed process is removed by the next write into its folder.
"""

import contextlib
import os
import pathlib
import shutil

_PARTIAL = ".partial-"


def temporary_path(path):
    """The temporary name `atomic_path` writes `path` under in this process."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.stem}{_PARTIAL}{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s content to; renames it to `path` when the block ends.

    The block may make a folder at the temporary path instead of a file; it then replaces
    the folder at `path` whole. Raises OSError naming `path` if writing fails (a full disk,
    a folder that cannot be written); an error already named by another `atomic_path`
    (nested, or in one `contextlib.ExitStack`) passes through. The previous file or folder
    at `path`, if any, stays until the new one replaces it.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(path.parent)
    temporary = temporary_path(path)
    try:
        yield temporary
        _replace(temporary, path)
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(f"{path}: could not be written ({error.strerror}).") from None
    finally:
        _remove(temporary)


@contextlib.contextmanager
def staging_folder(folder):
    """Yields a new hidden folder inside `folder` to write files into before they are moved into
    place; it is removed when the block ends, however it ends."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_abandoned(folder)
    staging = folder / f".staging{_PARTIAL}{os.getpid()}"
    staging.mkdir()
    try:
        yield staging
    finally:
        _remove(staging)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_bytes(path, content):
    """Writes `content` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(content)


def remove_abandoned(folder):
    """Removes the temporary files and folders in `folder` of writers whose process is gone."""
    for path in pathlib.Path(folder).glob(f".*{_PARTIAL}*"):
        pid = path.name.partition(_PARTIAL)[2].partition(".")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            _remove(path)


def process_alive(pid):
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace(temporary, path):
    """Renames `temporary` to `path`; a folder already at `path` is moved aside first, then removed."""
    if not (temporary.is_dir() and path.is_dir()):
        os.replace(temporary, path)
        return
    old = path.with_name(f".{path.name}{_PARTIAL}{os.getpid()}.old")
    os.replace(path, old)
    os.replace(temporary, path)
    _remove(old)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
