"""`fcnseg.files`: nothing half-written under a final name, whatever ends the write."""

import os
import subprocess
import sys

import pytest
from fault_injection import full_disk

from fcnseg import files


def test_a_completed_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    files.write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("error", [ValueError("bad input"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    path = tmp_path / "model.keras"
    path.write_text("old")
    with pytest.raises(type(error)):
        with files.atomic_path(path) as temporary:
            assert temporary.suffix == ".keras" and temporary.parent == tmp_path and temporary.name.startswith(".")
            temporary.write_text("half")
            raise error
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_a_folder_written_under_the_temporary_name_replaces_the_old_folder_whole(tmp_path):
    path = tmp_path / "web"
    path.mkdir()
    (path / "old.onnx").write_text("old")
    with pytest.raises(ValueError):
        with files.atomic_path(path) as temporary:
            temporary.mkdir()
            (temporary / "index.html").write_text("half")
            raise ValueError("conversion failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web"] and (path / "old.onnx").exists()
    with files.atomic_path(path) as temporary:
        temporary.mkdir()
        (temporary / "index.html").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web"]
    assert sorted(p.name for p in path.iterdir()) == ["index.html"]


def test_the_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = tmp_path / f".best.partial-{int(dead.stdout)}.keras"
    abandoned.write_text("half")
    alive = tmp_path / f".last.partial-{os.getppid()}.keras"  # a running process's: kept
    alive.write_text("in progress")
    files.write_text(tmp_path / "metrics.json", "{}")
    assert not abandoned.exists() and alive.exists()


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path):
    with full_disk(tmp_path / "disk", size_kb=64) as disk:
        path = disk / "log.csv"
        files.write_text(path, "epoch\n0\n")
        with pytest.raises(OSError, match=f"{path}: could not be written \\(No space left on device\\)"):
            files.write_bytes(path, b"x" * 200_000)
        assert path.read_text() == "epoch\n0\n"
        assert sorted(p.name for p in disk.iterdir()) == ["log.csv"]


def test_a_staging_folder_is_removed_however_the_block_ends(tmp_path):
    with pytest.raises(RuntimeError):
        with files.staging_folder(tmp_path) as staging:
            (staging / "shard").write_text("half")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
