"""A sweep of bad input and faults through every command, run as a user would: each ends in one line
naming the file or flag (no traceback, no silent exit 0), and leaves no half-written file and the
previous good output as it was."""

import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest
from fake_layouts import make_camvid, write_png, write_video
from fault_injection import full_disk, interrupt_when
from known_models import nearest_color_model, save
from training.runs import environment, run_train, train_command

from fcnseg.data import camvid

pytestmark = pytest.mark.slow
COLORS = camvid.SPEC.colors


def _run(module, *flags, timeout=600):
    command = [sys.executable, "-m", module, *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment())


def _one_line(result, message, status=1):
    """Checks a command failed with `status` and the one line `error: ...message...`."""
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, last


def _files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    (folder / "classes.json").write_text(camvid.SPEC.to_json())
    return save(nearest_color_model(COLORS), folder / "best.keras")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "drive.mp4"
    frames = np.random.default_rng(0).integers(0, 256, (40, 64, 96, 3), dtype=np.uint8)
    write_video(path, frames, fps=10)
    return path


def test_convert_keeps_the_old_records_when_the_source_fails_and_refuses_stray_arguments(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(0), {"train": 4})
    records = tmp_path / "records"
    flags = ["--dataset=camvid", f"--data_dir={tmp_path / 'camvid'}", "--split=train", f"--output={records}"]
    assert _run("fcnseg.convert", *flags, "--num_shards=2").returncode == 0
    before = {name: (records / name).read_bytes() for name in _files(records)}

    image = sorted((tmp_path / "camvid" / "train").glob("*.png"))[2]
    image.write_bytes(image.read_bytes()[:-40])  # cut short
    _one_line(_run("fcnseg.convert", *flags, "--num_shards=3"), f"{image}: the PNG file is cut short")
    assert {name: (records / name).read_bytes() for name in _files(records)} == before

    for module in ("fcnseg.convert", "fcnseg.data.convert"):  # `--skip_bad_files False` is not "skip"
        stray = _run(module, *flags, "--skip_bad_files", "False")
        assert stray.returncode == 1 and "unexpected arguments False" in stray.stderr.splitlines()[-1]
    assert {name: (records / name).read_bytes() for name in _files(records)} == before


def test_a_second_training_in_a_running_runs_folder_is_refused_and_the_first_ends_well(tmp_path):
    model_dir = tmp_path / "run"
    first = subprocess.Popen(
        train_command(model_dir, "--epochs=3", "--steps_per_epoch=6"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    deadline = time.monotonic() + 300
    while not (model_dir / "run_config.json").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    second = run_train(model_dir, "--epochs=3", "--steps_per_epoch=6")
    _one_line(second, f"{model_dir}: another training (process {first.pid}) is running in this folder")
    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr[-3000:]
    log = (model_dir / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,") and [row.split(",")[0] for row in log[1:]] == ["0", "1", "2"]


def test_a_validation_size_the_model_cannot_take_is_refused_before_training(tmp_path):
    result = run_train(tmp_path / "run", "--epochs=1", "--eval_size=96,90")
    _one_line(result, "--model=unet at --eval_size=96,90: Input width 90")
    assert "Epoch" not in result.stdout


def test_predict_refuses_a_cut_short_jpeg_as_training_does(tmp_path, model):
    image = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    write_png(tmp_path / "in" / "street.png", image)
    ok, jpeg = cv2.imencode(".jpg", image)
    (tmp_path / "in" / "cut.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
    result = _run("fcnseg.predict", f"--model={model}", f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'out'}")
    _one_line(result, f"{tmp_path / 'in' / 'cut.jpg'}: the JPEG file is cut short")
    assert not (tmp_path / "out").exists() or not any("cut" in name for name in _files(tmp_path / "out"))


def test_predict_refuses_a_cut_short_video_and_writes_no_video(tmp_path, model, video):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size * 2 // 3])
    result = _run("fcnseg.predict", f"--model={model}", f"--input={cut}", f"--output={tmp_path / 'out'}", "--nolegend")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {cut}: ") and ("cut short" in last or "not a readable video" in last), last
    assert _files(tmp_path / "out") == []


def test_predict_on_a_full_disk_fails_with_one_line_and_leaves_no_video(tmp_path, model, video):
    with full_disk(tmp_path / "disk", size_kb=48) as disk:
        result = _run("fcnseg.predict", f"--model={model}", f"--input={video}", f"--output={disk}", "--views=color")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {disk / 'drive_color.mp4'}"), last
        assert [name for name in _files(disk) if name.endswith(".mp4")] == []


def test_ctrl_c_during_video_prediction_ends_with_one_line_and_no_partial_files(tmp_path, model, video):
    output = tmp_path / "out"
    command = [sys.executable, "-m", "fcnseg.predict", f"--model={model}", f"--input={video}", f"--output={output}"]
    result = interrupt_when(
        [*command, "--batch_size=1", "--views=overlay,color"],
        lambda: output.is_dir() and any(path.suffix == ".mp4" for path in output.iterdir()),
        env=environment(),
    )
    _one_line(result, "interrupted", status=130)
    assert _files(output) == []


def test_a_killed_prediction_leaves_only_a_hidden_partial_file_that_the_next_run_removes(tmp_path, model, video):
    output = tmp_path / "out"
    flags = [f"--model={model}", f"--input={video}", f"--output={output}", "--batch_size=1", "--nolegend"]
    process = subprocess.Popen([sys.executable, "-m", "fcnseg.predict", *flags], env=environment())
    deadline = time.monotonic() + 300
    while not (output.is_dir() and any(output.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not (output / "drive_overlay.mp4").exists()
    assert all(name.startswith(".drive_overlay.partial-") for name in _files(output))
    assert _run("fcnseg.predict", *flags).returncode == 0
    assert _files(output) == ["drive_overlay.mp4"]


def test_models_that_are_not_segmentation_models_are_named(tmp_path):
    classifier = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    path = save(classifier, tmp_path / "classifier.keras")
    (tmp_path / "random.tflite").write_bytes(np.random.default_rng(0).bytes(2000))
    (tmp_path / "cut.keras").write_bytes(open(path, "rb").read()[:500])
    write_png(tmp_path / "in.png", np.zeros((32, 32, 3), np.uint8))
    cases = [
        (path, "classifier.keras: not a segmentation model"),
        (tmp_path / "random.tflite", "random.tflite: not a loadable TFLite model"),
        (tmp_path / "cut.keras", "cut.keras: not a .keras model (not a zip archive"),
    ]
    for model_path, message in cases:
        flags = [f"--model={model_path}", f"--input={tmp_path / 'in.png'}", f"--output={tmp_path / 'out'}"]
        _one_line(_run("fcnseg.predict", *flags, "--dataset=camvid", "--data_dir=unused"), message)


def test_export_to_a_full_disk_leaves_no_file_under_its_final_name(tmp_path, model):
    make_camvid(tmp_path / "camvid", np.random.default_rng(0), {"train": 2})
    with full_disk(tmp_path / "disk", size_kb=8) as disk:
        flags = [f"--model={model}", f"--export_dir={disk}", "--tflite", "--input_size=32,32", "--parity_images=1"]
        result = _run("fcnseg.export", *flags, "--dataset=camvid", f"--data_dir={tmp_path / 'camvid'}")
        _one_line(result, "No space left on device")
        assert not [name for name in _files(disk) if name.endswith((".tflite", "report.json"))]


def test_an_8000_by_8000_image_is_predicted_in_tiles_and_says_so(tmp_path, model):
    image = np.zeros((8000, 8000, 3), np.uint8)
    image[:, 4000:] = COLORS[3]
    write_png(tmp_path / "huge.png", image)
    result = _run(
        "fcnseg.predict",
        f"--model={model}",
        f"--input={tmp_path / 'huge.png'}",
        f"--output={tmp_path}",
        "--views=index",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "8000x8000 images are larger than" in result.stderr
    mask = cv2.imread(str(tmp_path / "huge_index.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (8000, 8000) and set(np.unique(mask[:, 4000:])) == {3}


def test_a_tfds_dataset_that_is_not_prepared_is_refused_without_a_download(tmp_path):
    result = _run(
        "fcnseg.convert",
        "--dataset=tfds:mnist",
        "--dataset_option=num_classes=10",
        f"--data_dir={tmp_path}",
        f"--output={tmp_path / 'out'}",
    )
    _one_line(result, f"tfds:mnist: could not load split 'train': it is not prepared in {tmp_path}")
    assert "tfds build mnist" in result.stderr and not (tmp_path / "downloads").exists()
