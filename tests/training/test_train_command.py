"""Training runs end to end through `python -m fcnseg.train`, on tiny synthetic data."""

import csv
import json
import os
import signal
import socket
import subprocess
import time

import keras
import numpy as np
import pytest
from training.runs import environment, run_train, train_command

import fcnseg  # noqa: F401  (registers the custom objects saved models name)

pytestmark = pytest.mark.slow


def _log(model_dir):
    with open(model_dir / "log.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_a_run_writes_its_files_and_a_finished_run_is_not_redone(tmp_path):
    model_dir = tmp_path / "run"
    result = run_train(model_dir, "--epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("flags.txt", "run_config.json", "classes.json", "best.keras", "last.keras", "log.csv", "metrics.json"):
        assert (model_dir / name).is_file(), name
    assert any(path.name.startswith("events") for path in (model_dir / "tensorboard" / "validation").iterdir())
    assert any(path.name.startswith("events") for path in (model_dir / "tensorboard" / "train").iterdir())

    rows = _log(model_dir)
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert all(float(row["images_per_second"]) > 0 for row in rows)
    assert all(float(row["epoch_seconds"]) > 0 for row in rows)

    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert 0 <= metrics["mean_iou"] <= 1 and 0 <= metrics["pixel_accuracy"] <= 1
    assert len(metrics["per_class_iou"]) == 8 and "road" in metrics["per_class_iou"]
    assert metrics["best_epoch"] in (1, 2)
    assert metrics["mean_iou"] == pytest.approx(max(float(row["val_mean_iou"]) for row in rows), abs=1e-6)
    assert "mean IoU" in result.stdout and "road" in result.stdout

    # flags.txt is a flagfile of the whole run: run again from it alone, nothing is trained.
    again = subprocess.run(
        [*train_command(model_dir, tiny=False)[:3], f"--flagfile={model_dir / 'flags.txt'}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment(),
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Epoch" not in again.stdout
    assert f"{metrics['mean_iou']:.4f}" in again.stdout
    assert len(_log(model_dir)) == 2

    other = run_train(model_dir, "--epochs=2", "--learning_rate=0.5")
    assert other.returncode != 0
    assert (
        other.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "holds a run with other flags (--learning_rate); give a new --model_dir, or the same flags to resume it."
        )
    )


def test_a_run_folder_from_before_run_config_json_resumes_and_is_checked(tmp_path):
    model_dir = tmp_path / "run"
    first = run_train(model_dir, "--epochs=1")
    assert first.returncode == 0, first.stderr[-3000:]
    (model_dir / "run_config.json").unlink()  # as written before run_config.json existed: flags.txt only

    other = run_train(model_dir, "--epochs=2", "--learning_rate=0.5")
    assert other.returncode != 0 and "holds a run with other flags (--learning_rate)" in other.stderr.splitlines()[-1]
    resumed = run_train(model_dir, "--epochs=2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout
    assert [int(row["epoch"]) for row in _log(model_dir)] == [0, 1]
    assert json.loads((model_dir / "run_config.json").read_text())["epochs"] == 2


def _completed_epochs(model_dir):
    try:
        return json.loads((model_dir / "backup" / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def test_killed_with_sigkill_the_same_command_resumes(tmp_path):
    model_dir = tmp_path / "run"
    flags = ["--epochs=3", "--steps_per_epoch=6"]
    process = subprocess.Popen(
        train_command(model_dir, *flags), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment()
    )
    deadline = time.time() + 300
    while _completed_epochs(model_dir) < 1 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = _completed_epochs(model_dir)
    assert 1 <= done < 3, "the run was not killed between its first and last epoch"
    assert not (model_dir / "metrics.json").exists()

    result = run_train(model_dir, *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"from epoch {done + 1}." in result.stdout
    assert f"Epoch {done + 1}/3" in result.stdout and "Epoch 1/3" not in result.stdout
    assert [int(row["epoch"]) for row in _log(model_dir)] == [0, 1, 2]
    assert json.loads((model_dir / "metrics.json").read_text())["epochs"] == 3


def test_a_nan_loss_stops_the_run_with_one_line(tmp_path):
    result = run_train(tmp_path / "run", "--epochs=2", "--optimizer=sgd", "--learning_rate=1e30")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: The training loss became") and "Training stopped" in last
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_mirrored_on_two_cpu_devices_splits_the_batch_and_averages_the_loss(tmp_path):
    first_step = ["--epochs=1", "--steps_per_epoch=1", "--optimizer=sgd", "--learning_rate=0.001"]
    mirrored = run_train(tmp_path / "mirrored", "--strategy=mirrored", "--cpu_devices=2", *first_step)
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]
    assert "with 2 replica(s)" in mirrored.stdout
    single = run_train(tmp_path / "single", "--strategy=one_device", *first_step)
    assert single.returncode == 0, single.stderr[-3000:]
    # The same first batch, before any update: the loss of two half-batches averaged equals
    # the loss of the whole batch (up to batch norm's per-replica statistics); a loss that
    # is summed over replicas instead would read twice as high.
    mirrored_loss, single_loss = (float(_log(tmp_path / name)[0]["loss"]) for name in ("mirrored", "single"))
    assert mirrored_loss == pytest.approx(single_loss, rel=0.1)
    assert 0 <= json.loads((tmp_path / "mirrored" / "metrics.json").read_text())["mean_iou"] <= 1


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_two_local_workers_agree_on_the_weights(tmp_path):
    model_dir = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        command = train_command(model_dir, "--strategy=multi_worker", "--epochs=1")
        processes.append(
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(TF_CONFIG=tf_config)
            )
        )
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    assert "with 2 replica(s)" in outputs[0][0]

    chief = keras.saving.load_model(model_dir / "last.keras")
    other = keras.saving.load_model(model_dir / "workers" / "worker_1" / "last.keras")
    keras.utils.set_random_seed(1)
    initial = fcnseg.build_model("unet", 8, depth=2, base_filters=8)
    for mine, theirs, start in zip(chief.trainable_weights, other.trainable_weights, initial.trainable_weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)
    assert any(
        not np.allclose(w.numpy(), s.numpy()) for w, s in zip(chief.trainable_weights, initial.trainable_weights)
    )


def test_the_quickstart_recipe_reaches_the_mean_iou_the_readme_promises(tmp_path):
    repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = [
        *train_command(tmp_path, tiny=False)[:3],
        "--flagfile=configs/quickstart.flags",
        f"--model_dir={tmp_path}",
    ]
    # A safety net, not a timing: about 5 minutes on 2 AVX512 cores, and CI's machines have
    # taken three times as long (AVX2 only, or busy).
    result = subprocess.run(command, capture_output=True, text=True, timeout=2400, env=environment(), cwd=repository)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "metrics.json").read_text())["mean_iou"] >= 0.8
