"""`fcnseg.evaluate` scores against a confusion matrix counted by hand and against the Cityscapes evaluator."""

import copy
import json
import math
import sys
import types

import cv2
import numpy as np
import pytest
from absl import flags
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cityscapes_evaluation
from commands import run_together
from fake_layouts import make_camvid, make_cityscapes
from known_models import nearest_color, nearest_color_model, save

from fcnseg import data
from fcnseg.cli import tiling_from_flags
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.data import camvid
from fcnseg.inference.evaluation import EvalConfig
from fcnseg.inference.evaluation import evaluate as run_evaluation


def _scores_by_hand(pairs, colors):
    """IoU, precision, recall and the means, from a confusion matrix counted pixel by pixel."""
    count = len(colors)
    confusion = np.zeros((count, count), np.int64)
    for image, label in pairs:
        truth = np.where(label < count, label, 255).ravel()
        predicted = nearest_color(image, colors).ravel()
        for t, p in zip(truth, predicted):
            if t != 255:
                confusion[t, p] += 1
    iou, precision, recall = [], [], []
    for c in range(count):
        tp, fp, fn = confusion[c, c], confusion[:, c].sum() - confusion[c, c], confusion[c].sum() - confusion[c, c]
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else None)
        precision.append(tp / (tp + fp) if tp + fp else None)
        recall.append(tp / (tp + fn) if tp + fn else None)
    present = [value for value in iou if value is not None]
    weighted = sum(confusion[c].sum() * iou[c] for c in range(count) if confusion[c].sum()) / confusion.sum()
    return confusion, iou, precision, recall, sum(present) / len(present), weighted


def test_scores_equal_a_confusion_matrix_counted_by_hand(tmp_path):
    # 36x50 frames (not multiples of 32) with labels 0..10 and void (11 -> 255) holes.
    pairs = make_camvid(tmp_path / "camvid", np.random.default_rng(0), {"val": 3}, size=(36, 50))["val"]
    model = save(nearest_color_model(camvid.SPEC.colors), tmp_path / "colors.keras")
    config = EvalConfig(
        model, "camvid", str(tmp_path / "camvid"), "val", output_dir=str(tmp_path / "eval"), batch_size=2
    )
    scores = run_evaluation(config, verbose=0)

    confusion, iou, precision, recall, mean_iou, weighted_iou = _scores_by_hand(pairs, camvid.SPEC.colors)
    assert (np.array([label for _, label in pairs]) == 11).any()
    names = camvid.SPEC.class_names
    assert scores["images"] == 3
    assert scores["per_class_iou"] == pytest.approx(dict(zip(names, iou)), rel=1e-12)
    assert scores["per_class_precision"] == pytest.approx(dict(zip(names, precision)), rel=1e-12)
    assert scores["per_class_recall"] == pytest.approx(dict(zip(names, recall)), rel=1e-12)
    assert scores["mean_iou"] == pytest.approx(mean_iou, rel=1e-12)
    assert scores["frequency_weighted_iou"] == pytest.approx(weighted_iou, rel=1e-12)
    assert scores["pixel_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum(), rel=1e-12)
    np.testing.assert_array_equal(np.load(tmp_path / "eval" / "confusion.npy"), confusion)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == scores
    plot = cv2.imread(str(tmp_path / "eval" / "confusion.png"))
    assert plot is not None and plot.shape[0] > 300


def test_mean_iou_equals_the_cityscapes_evaluator(tmp_path):
    root = tmp_path / "cityscapes"
    make_cityscapes(root, np.random.default_rng(1), split="val", per_city=2, size=(40, 72))
    spec = data.dataset_spec("cityscapes")
    model = save(nearest_color_model(spec.colors), tmp_path / "colors.keras")
    config = EvalConfig(
        model, "cityscapes", str(root), "val", output_dir=str(tmp_path / "eval"), cityscapes_label_ids=True
    )
    scores = run_evaluation(config, verbose=0)

    predictions = sorted((tmp_path / "eval" / "label_ids").glob("*/*_leftImg8bit.png"))
    truths = [
        root / "gtFine" / "val" / p.parent.name / p.name.replace("leftImg8bit", "gtFine_labelIds") for p in predictions
    ]
    assert len(predictions) == 4 and all(path.exists() for path in truths)
    args = copy.copy(cityscapes_evaluation.args)
    args.evalInstLevelScore, args.JSONOutput, args.quiet = False, False, True
    official = cityscapes_evaluation.evaluateImgLists([str(p) for p in predictions], [str(t) for t in truths], args)

    assert scores["mean_iou"] == pytest.approx(official["averageScoreClasses"], abs=1e-6)
    for name, iou in scores["per_class_iou"].items():
        expected = official["classScores"][name]
        assert (iou is None and math.isnan(expected)) or iou == pytest.approx(expected, abs=1e-6)
    assert 0 < scores["mean_iou"] < 1


class _FlagValues(types.SimpleNamespace):
    """Parsed flags as absl's FlagValues gives them: by attribute, and by name with `present`."""

    def __getitem__(self, name):
        return types.SimpleNamespace(present=bool(getattr(self, name)), value=getattr(self, name))


def _flag_values(**values):
    return _FlagValues(**{**dict(resize=[], window=[], overlap=0.25), **values})


def _dataset_flags(*argv):
    values = flags.FlagValues()
    define_dataset_flags(flag_values=values)
    values(["evaluate", *argv])
    return values


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(resize=["64", "64"], window=["64", "64"]), "--resize and --window exclude each other"),
        (dict(window=["64"]), "--window=64 is not valid"),
        (dict(resize=["0", "64"]), "--resize=0,64 is not valid"),
        (dict(overlap=1.0), "--overlap=1.0 is not valid"),
    ],
)
def test_bad_tiling_flags_name_the_flag(values, message):
    with pytest.raises(ValueError, match=message):
        tiling_from_flags(_flag_values(**values))


def test_bad_settings_name_the_flag():
    with pytest.raises(ValueError, match="--grouping does not apply to --dataset=camvid"):
        dataset_from_flags(_dataset_flags("--dataset=camvid", "--grouping=4class"))
    with pytest.raises(ValueError, match="--cityscapes_label_ids needs --dataset=cityscapes"):
        EvalConfig("m.keras", "camvid", output_dir="x", cityscapes_label_ids=True)
    with pytest.raises(ValueError, match="--cityscapes_label_ids needs --output_dir"):
        EvalConfig("m.keras", "cityscapes", cityscapes_label_ids=True)
    with pytest.raises(ValueError, match="--batch_size=0 is not valid"):
        EvalConfig("m.keras", "camvid", batch_size=0)


@pytest.mark.slow
def test_bad_input_ends_with_one_line(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(2), {"val": 1})
    eight_classes = save(nearest_color_model(data.dataset_spec("synthetic").colors), tmp_path / "eight.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a zip file")
    cases = [
        (str(tmp_path / "missing.keras"), "missing.keras: model not found"),
        (str(tmp_path / "broken.keras"), "broken.keras: not a .keras model (not a zip archive"),
        (eight_classes, "the model predicts 8 classes but --dataset=camvid has 11"),
        (f"{eight_classes} --window=tall,wide", "--window=tall,wide is not valid"),
    ]
    commands = [
        [sys.executable, "-m", "fcnseg.evaluate", *f"--model={model}".split(), "--dataset=camvid"]
        + [f"--data_dir={tmp_path / 'camvid'}"]
        for model, _ in cases
    ]
    for (_, message), result in zip(cases, run_together(commands, timeout=300)):
        assert result.returncode == 1
        last_line = result.stderr.strip().splitlines()[-1]
        assert last_line.startswith("error: ") and message in last_line
        assert "Traceback" not in result.stderr
