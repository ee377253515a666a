"""The frame size a model was trained on (the Cityscapes pairs' 256x256) as the default of
evaluate, predict, the Python API and export; Cityscapes label-id PNGs from predict."""

import copy
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cityscapes_evaluation
from fake_layouts import make_cityscapes_pairs, random_image, write_png, write_video
from known_models import nearest_color_model, save

from fcnseg import data
from fcnseg.data import cityscapes
from fcnseg.data.specs import CLASSES_FILE, DatasetSpec
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.prediction import PredictConfig, predict
from fcnseg.inference.segmenter import load_segmenter
from fcnseg.inference.tiling import Tiling, masks, model_tiling

PAIRS_SIZE = (256, 256)
# Real frames are 2048x1024; the tests stretch the pairs back to 2:1 at a quarter of that.
FRAME_SIZE = (256, 512)
CITY = "weimar"


def _pairs_model(folder, frame_size=PAIRS_SIZE):
    """A nearest-colour model of the 19 classes with the classes.json a pairs run writes beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = DatasetSpec("cityscapes", cityscapes.spec().class_names, cityscapes.spec().colors, frame_size=frame_size)
    (folder / CLASSES_FILE).write_text(spec.to_json())
    return save(nearest_color_model(spec.colors), folder / "best.keras")


def _stretched_cityscapes(root, rng, count=3):
    """Pairs stretched back to 2:1 frames in Cityscapes' own layout (val split, one city), with
    label ids and instance ids as cityscapesscripts reads them. Returns the image paths."""
    paths = []
    for index, (pair, train_ids) in enumerate(make_cityscapes_pairs(root / "pairs", rng, count=count)):
        photo = cv2.imread(str(pair))[:, :256, ::-1]
        stem = f"{CITY}_{index:06d}_000019"
        image = cv2.resize(photo, FRAME_SIZE[::-1], interpolation=cv2.INTER_LINEAR)
        label_ids = cv2.resize(cityscapes.label_ids_of_train_ids(train_ids), FRAME_SIZE[::-1], interpolation=cv2.INTER_NEAREST)
        paths.append(write_png(root / "leftImg8bit" / "val" / CITY / f"{stem}_leftImg8bit.png", image))
        for kind in ("labelIds", "instanceIds"):
            write_png(root / "gtFine" / "val" / CITY / f"{stem}_gtFine_{kind}.png", label_ids)
    return paths


def test_the_pairs_record_their_frame_size_in_the_class_list(tmp_path):
    spec = data.dataset_spec("cityscapes_pairs")
    assert spec.frame_size == PAIRS_SIZE and data.dataset_spec("cityscapes").frame_size is None
    (tmp_path / "classes.json").write_text(spec.to_json())
    assert json.loads((tmp_path / "classes.json").read_text())["frame_size"] == [256, 256]
    assert DatasetSpec.from_json_file(tmp_path / "classes.json") == spec
    assert "frame_size" not in json.loads(data.dataset_spec("camvid").to_json())
    with pytest.raises(ValueError, match=r"frame_size must be \[height, width\]"):
        DatasetSpec("x", ("a", "b"), ((0, 0, 0), (1, 1, 1)), frame_size=(256, 0))


@pytest.mark.slow
def test_a_pairs_run_writes_its_frame_size_beside_the_model(tmp_path):
    make_cityscapes_pairs(tmp_path / "pairs", np.random.default_rng(0), count=3)
    command = [sys.executable, "-m", "fcnseg.train", "--dataset=cityscapes_pairs", f"--data_dir={tmp_path / 'pairs'}"]
    command += ["--split=train[:2]", "--val_split=train[-1:]", "--model=unet", "--model_option=depth=2"]
    command += ["--model_option=base_filters=4", "--crop_size=64,64", "--batch_size=2", "--epochs=1"]
    command += ["--steps_per_epoch=1", "--tensorboard_images=0", f"--model_dir={tmp_path / 'run'}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Training split train[:2]: 2 examples = train[0:2] (2)" in result.stdout
    assert "Validation split train[-1:]: 1 examples = train[2:3] (1)" in result.stdout
    assert load_segmenter(tmp_path / "run" / "best.keras").frame_size == PAIRS_SIZE


def test_the_default_tiling_is_the_models_frame_size(tmp_path):
    pairs = load_segmenter(_pairs_model(tmp_path / "pairs"))
    assert model_tiling(pairs) == Tiling(resize=PAIRS_SIZE)
    assert model_tiling(pairs, Tiling()) == Tiling()  # an explicit choice wins
    (tmp_path / "pairs" / CLASSES_FILE).write_text(data.dataset_spec("cityscapes").to_json())  # saved before
    assert model_tiling(load_segmenter(tmp_path / "pairs" / "best.keras")) == Tiling()
    image = random_image(np.random.default_rng(3), *FRAME_SIZE)[None]
    np.testing.assert_array_equal(masks(pairs, image), masks(pairs, image, Tiling(resize=PAIRS_SIZE)))
    assert not np.array_equal(masks(pairs, image), masks(pairs, image, Tiling()))


@pytest.mark.slow
def test_full_size_frames_are_evaluated_at_the_recorded_frame_size_and_label_ids_match_the_official_evaluator(
    tmp_path,
):
    model = _pairs_model(tmp_path / "run")
    root = tmp_path / "cityscapes"
    images = _stretched_cityscapes(root, np.random.default_rng(4))
    resized = evaluate(EvalConfig(model, "cityscapes", str(root), "val", tiling=Tiling(resize=PAIRS_SIZE)), verbose=0)
    padded = evaluate(EvalConfig(model, "cityscapes", str(root), "val", tiling=Tiling()), verbose=0)
    assert resized["mean_iou"] != padded["mean_iou"]

    base = [sys.executable, "-m", "fcnseg.evaluate", f"--model={model}", "--dataset=cityscapes", f"--data_dir={root}"]
    default, explicit_none = (
        subprocess.run(base + extra, capture_output=True, text=True)
        for extra in ([f"--output_dir={tmp_path / 'eval'}", "--cityscapes_label_ids"], ["--resize="])
    )
    assert default.returncode == 0 and explicit_none.returncode == 0, default.stderr + explicit_none.stderr
    assert "Images are resized to 256x256, the frames the model was trained on" in default.stdout
    assert "resized to" not in explicit_none.stdout
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["mean_iou"] == pytest.approx(
        resized["mean_iou"], abs=1e-12
    )
    assert f"mean IoU                   {padded['mean_iou']:.4f}" in explicit_none.stdout

    result = subprocess.run(
        [sys.executable, "-m", "fcnseg.predict", f"--model={model}", f"--input={root / 'leftImg8bit' / 'val'}"]
        + [f"--output={tmp_path / 'predicted'}", "--views=label_ids", "--nolegend"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    written = sorted((tmp_path / "predicted" / "label_ids" / CITY).glob("*.png"))
    assert [path.name for path in written] == [path.name for path in images]
    for path in written:  # one code path with evaluate --cityscapes_label_ids
        from_evaluate = cv2.imread(str(tmp_path / "eval" / "label_ids" / CITY / path.name), cv2.IMREAD_UNCHANGED)
        label_ids = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert label_ids.dtype == np.uint8 and label_ids.shape == FRAME_SIZE
        np.testing.assert_array_equal(label_ids, from_evaluate)
        assert set(np.unique(label_ids)) <= set(cityscapes.label_id_of_train_id())

    # The benchmark's own evaluator finds one prediction per frame by its city, sequence and frame
    # numbers, and scores them. (Its instance-level scores call np.in1d, gone from NumPy 2.4: off.)
    args = copy.copy(cityscapes_evaluation.args)
    args.evalInstLevelScore, args.JSONOutput, args.quiet = False, False, True
    args.predictionPath, args.predictionWalk = str(tmp_path / "predicted"), None
    truths = sorted(str(path) for path in (root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    predictions = [cityscapes_evaluation.getPrediction(args, truth) for truth in truths]
    assert sorted(predictions) == sorted(str(path) for path in written)
    official = cityscapes_evaluation.evaluateImgLists(predictions, truths, args)
    assert official["averageScoreClasses"] == pytest.approx(resized["mean_iou"], abs=1e-6)


def test_label_ids_are_refused_for_videos_and_other_classes(tmp_path):
    model = _pairs_model(tmp_path / "run")
    video = tmp_path / "road.mp4"
    write_video(video, np.zeros((2, 64, 64, 3), np.uint8), fps=5)
    with pytest.raises(ValueError, match="^--views=label_ids applies to images only"):
        predict(PredictConfig(model, str(video), str(tmp_path / "out"), views=("label_ids",)), verbose=0)
    grouped = tmp_path / "grouped"
    grouped.mkdir()
    spec = data.dataset_spec("cityscapes_pairs", grouping="4class")
    (grouped / CLASSES_FILE).write_text(spec.to_json())
    four = save(nearest_color_model(spec.colors), grouped / "best.keras")
    write_png(tmp_path / "frame.png", random_image(np.random.default_rng(5), 64, 64))
    with pytest.raises(
        ValueError,
        match=r"^--views=label_ids needs a model of Cityscapes' 19 train classes \(no grouping\), not the classes of "
        r"cityscapes_4class \(5\)\.$",
    ):
        predict(
            PredictConfig(four, str(tmp_path / "frame.png"), str(tmp_path / "out"), views=("label_ids",)), verbose=0
        )
    assert not (tmp_path / "out" / "label_ids").exists()
