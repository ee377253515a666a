"""The run folder: one training at a time (an OS lock a killed process gives up), and a log written whole."""

import signal
import subprocess
import sys
import time

import pytest

from fcnseg.training import run_dir

HOLD_LOCK = """
import sys, time
from fcnseg.training import run_dir
with run_dir.lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(300)
"""


def test_a_second_lock_on_a_run_folder_is_refused_with_one_line(tmp_path):
    with run_dir.lock(tmp_path):
        with pytest.raises(
            ValueError, match=f"{tmp_path}: another training \\(process \\d+\\) is running in this folder"
        ):
            with run_dir.lock(tmp_path):
                pass
    with run_dir.lock(tmp_path):  # released at the end of the block
        pass


def test_a_killed_holder_releases_the_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=f"another training \\(process {holder.pid}\\)"):
            with run_dir.lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    time.sleep(0.1)
    with run_dir.lock(tmp_path):
        pass


def test_log_rows_are_added_by_rewriting_the_file(tmp_path):
    run_dir.append_log_row(tmp_path, {"epoch": 0, "loss": 1.5, "val_mean_iou": 0.25})
    run_dir.append_log_row(tmp_path, {"epoch": 1, "loss": 1.0, "val_mean_iou": 0.5})
    assert (tmp_path / "log.csv").read_text().splitlines() == ["epoch,loss,val_mean_iou", "0,1.5,0.25", "1,1.0,0.5"]
    assert run_dir.best_epoch(tmp_path) == 2
    run_dir.truncate_log(tmp_path, 1)
    assert (tmp_path / "log.csv").read_text().splitlines() == ["epoch,loss,val_mean_iou", "0,1.5,0.25"]


def test_a_damaged_log_is_named(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,loss\n0,1.0\nepoch,loss\n1,0.5\n")
    with pytest.raises(ValueError, match=f"{tmp_path / 'log.csv'}: line 3 is not an epoch's row"):
        run_dir.best_epoch(tmp_path)
