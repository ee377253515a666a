"""`python -m fcnseg.export` on a trained run, and every format it writes scored by the same evaluation."""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from commands import run_together
from fake_layouts import write_png
from training.runs import environment, run_train

from fcnseg.data import synthetic
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.prediction import PredictConfig, predict
from fcnseg.inference.segmenter import Segmenter, load_segmenter

EVAL = dict(dataset="synthetic", split="val", dataset_options={"num_images": 4, "height": 64, "width": 128})


def _export(*flags):
    command = [sys.executable, "-m", "fcnseg.export", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    result = run_train(model_dir, "--epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return model_dir


@pytest.mark.slow
def test_export_writes_every_format_and_each_scores_like_keras(run, tmp_path):
    serving = tmp_path / "serving" / "road"
    result = _export(
        f"--model={run / 'best.keras'}",
        "--saved_model",
        f"--export_dir={serving}",
        "--tflite",
        "--quantize=float32,float16,dynamic,int8",
        "--calibration_images=8",
        "--parity_images=4",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((serving / "export_report.json").read_text())
    files = {entry["format"]: entry for entry in report["files"]}
    assert list(files) == ["saved_model", "tflite_float32", "tflite_float16", "tflite_dynamic", "tflite_int8"]
    assert files["saved_model"]["path"] == str(serving / "1")
    assert files["saved_model"]["max_probability_difference"] <= 1e-5
    assert files["tflite_float32"]["max_logit_difference_over_range"] <= 1e-4
    assert files["tflite_float32"]["mask_agreement"] == 1.0
    assert files["tflite_float16"]["mask_agreement"] >= 0.995 and files["tflite_int8"]["mask_agreement"] >= 0.9
    sizes = [files[f"tflite_{name}"]["bytes"] for name in ("float32", "float16", "int8")]
    assert sizes[0] > sizes[1] > sizes[2]
    assert all("CONV_2D" in entry["operators"] for name, entry in files.items() if name.startswith("tflite"))
    for name in ("float32", "int8"):
        assert f"best_{name}.tflite" in result.stdout

    # One interface, set when each is opened, for every format.
    expected = {"keras": None, "saved_model": None, "int8": (64, 64)}
    for name, path in [("keras", run / "best.keras"), ("saved_model", serving), ("int8", serving / "best_int8.tflite")]:
        segmenter = load_segmenter(path)
        assert isinstance(segmenter, Segmenter) and segmenter.num_classes == 8
        assert segmenter.input_size == expected[name] and segmenter.spec.class_names == synthetic.CLASS_NAMES

    # The same evaluation for the Keras model, the SavedModel folder and each TFLite file.
    scores = {
        name: evaluate(EvalConfig(str(path), **EVAL), verbose=0)["mean_iou"]
        for name, path in [("keras", run / "best.keras"), ("saved_model", serving)]
        + [(name, serving / f"best_{name}.tflite") for name in ("float32", "float16", "int8")]
    }
    assert scores["saved_model"] == pytest.approx(scores["keras"], abs=1e-6)
    # TFLite files take 64x64 (the training crop) and slide over the 64x128 scenes.
    assert scores["float16"] == pytest.approx(scores["float32"], abs=0.01)
    assert abs(scores["int8"] - scores["float32"]) <= 0.05

    # And the same prediction command: the SavedModel draws the Keras model's masks.
    scene, _ = synthetic.render_scene(seed=3, height=64, width=128)
    write_png(tmp_path / "scene.png", scene)
    masks = {}
    for name, path in [("keras", run / "best.keras"), ("saved_model", serving), ("int8", serving / "best_int8.tflite")]:
        config = PredictConfig(str(path), str(tmp_path / "scene.png"), str(tmp_path / name), views=("index",))
        predict(config, verbose=0)
        masks[name] = cv2.imread(str(tmp_path / name / "scene_index.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(masks["saved_model"], masks["keras"])
    assert masks["int8"].shape == (64, 128) and np.mean(masks["int8"] == masks["keras"]) >= 0.9


@pytest.mark.slow
def test_onnx_export_writes_checked_files_that_evaluate_and_predict_read(run, tmp_path):
    folder = tmp_path / "onnx"
    flags = (f"--model={run / 'best.keras'}", f"--export_dir={folder}", "--onnx", "--parity_images=4")
    result = _export(*flags, "--quantize=float32,int8,int8_cpu", "--calibration_images=8")
    assert result.returncode == 0, result.stderr[-3000:]
    files = {entry["format"]: entry for entry in json.loads((folder / "export_report.json").read_text())["files"]}
    assert list(files) == ["onnx_float32", "onnx_int8", "onnx_int8_cpu"]
    assert files["onnx_float32"]["mask_agreement"] == 1.0
    assert files["onnx_float32"]["max_logit_difference_over_range"] <= 1e-4
    for form in ("onnx_int8", "onnx_int8_cpu"):
        assert files[form]["mask_agreement"] >= 0.9 and "QuantizeLinear" in files[form]["operators"]
    assert "best_int8_cpu.onnx" in result.stdout
    assert {entry["opset"] for entry in files.values()} == {17}
    assert "best_int8.onnx" in result.stdout and "operator set 17" in result.stdout
    float32 = load_segmenter(folder / "best_float32.onnx")
    assert float32.input_size is None and float32.spec.class_names == synthetic.CLASS_NAMES

    # Any size: the 64x128 scenes go in whole (the TFLite files slide a 64x64 window).
    scores = {
        name: evaluate(EvalConfig(str(path), **EVAL), verbose=0)["mean_iou"]
        for name, path in [("keras", run / "best.keras")]
        + [(name, folder / f"best_{name}.onnx") for name in ("float32", "int8")]
    }
    assert scores["float32"] == pytest.approx(scores["keras"], abs=1e-4)
    assert abs(scores["int8"] - scores["float32"]) <= 0.05
    scene, _ = synthetic.render_scene(seed=3, height=64, width=128)
    write_png(tmp_path / "scene.png", scene)
    masks = {}
    for name, path in [("keras", run / "best.keras"), ("onnx", folder / "best_float32.onnx")]:
        predict(
            PredictConfig(str(path), str(tmp_path / "scene.png"), str(tmp_path / name), views=("index",)), verbose=0
        )
        masks[name] = cv2.imread(str(tmp_path / name / "scene_index.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(masks["onnx"], masks["keras"])

    # --input_size fixes the ONNX file's size.
    result = _export(*flags, f"--export_dir={tmp_path / 'fixed'}", "--input_size=64,96")
    assert result.returncode == 0, result.stderr[-3000:]
    assert load_segmenter(tmp_path / "fixed" / "best_float32.onnx").input_size == (64, 96)


@pytest.mark.slow
def test_bad_export_flags_end_in_one_line(run, tmp_path):
    model = f"--model={run / 'best.keras'}"
    cases = [
        ([model, "--saved_model"], "--export_dir is required"),
        ([model, f"--export_dir={tmp_path}"], "Nothing to export: give --saved_model, --tflite, --onnx, --web or several"),
        ([model, f"--export_dir={tmp_path}", "--tflite", "--quantize=int4"], "--quantize=int4 is not valid"),
        ([model, f"--export_dir={tmp_path}", "--onnx", "--onnx_opset=9"], "--onnx_opset=9 is not supported"),
        ([f"--model={tmp_path / 'x.keras'}", f"--export_dir={tmp_path}", "--saved_model"], "No --dataset given"),
    ]
    commands = [[sys.executable, "-m", "fcnseg.export", *flags] for flags, _ in cases]
    for (_, message), result in zip(cases, run_together(commands, env=environment())):
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last


def _command(name, *flags):
    command = [sys.executable, "-m", f"fcnseg.{name}", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment())


@pytest.mark.slow
def test_evaluate_and_export_read_the_run_config_also_of_a_run_from_before_it(run, tmp_path):
    config = json.loads((run / "run_config.json").read_text())
    assert config["crop_size"] == [64, 64] and config["dataset_options"] == {"num_images": 8}
    old = tmp_path / "old_run"
    shutil.copytree(run, old)
    (old / "run_config.json").unlink()  # as written before run_config.json existed: flags.txt only
    for folder in (run, old):
        # No --dataset: the run's synthetic scenes (num_images=8), with --split and --dataset_option given here.
        evaluated = _command("evaluate", f"--model={folder / 'best.keras'}", "--dataset_option=height=64")
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        assert "mean IoU" in evaluated.stdout
        # No --input_size: the TFLite file takes the run's 64x64 crops.
        exported = _command(
            "export", f"--model={folder / 'best.keras'}", f"--export_dir={tmp_path / folder.name}", "--tflite"
        )
        assert exported.returncode == 0, exported.stderr[-3000:]
        assert load_segmenter(tmp_path / folder.name / "best_float32.tflite").input_size == (64, 64)
    assert not (old / "run_config.json").exists()  # reading a run leaves its folder as it was
