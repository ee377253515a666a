"""Test-time augmentation: the scales and flips it runs, what it averages, and where it is refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
from fake_layouts import make_camvid
from known_models import nearest_color, nearest_color_model, save

from fcnseg.data import camvid
from fcnseg.inference import AugmentedSegmenter, Segmenter, Tiling, segment
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.segmenter import load_segmenter

COLORS = camvid.SPEC.colors


class _Recorder(Segmenter):
    """Probabilities that depend on each pixel's place in the image it is given, so scaling and
    mirroring show; it records the batch shapes it is given."""

    def __init__(self):
        super().__init__(2, None)
        self.shapes = []

    def __call__(self, images):
        self.shapes.append(images.shape)
        columns = np.linspace(0, 1, images.shape[2], dtype=np.float32)
        right = np.broadcast_to(columns[None, None, :], images.shape[:3])
        return np.stack([1 - right, right], axis=-1)


def test_every_scale_and_its_mirror_run_one_at_a_time_and_average_at_the_given_size():
    recorder = _Recorder()
    images = np.zeros((2, 128, 256, 3), np.uint8)
    probabilities = AugmentedSegmenter(recorder, (0.75, 1, 1.25), flip=True)(images)
    assert recorder.shapes == [
        (2, 96, 192, 3),
        (2, 96, 192, 3),
        (2, 128, 256, 3),
        (2, 128, 256, 3),
        (2, 160, 320, 3),
        (2, 160, 320, 3),
    ]
    assert probabilities.shape == (2, 128, 256, 2)
    # Each run and its mirror put "right" on opposite sides: averaged, every pixel is even.
    np.testing.assert_allclose(probabilities, 0.5, atol=1e-5)
    plain = AugmentedSegmenter(_Recorder(), (0.75, 1, 1.25))(images)
    assert plain[0, 0, -1, 1] > 0.9 and plain[0, 0, 0, 1] < 0.1  # without the flip, left stays left


def test_one_scale_without_flip_is_the_model_itself(tmp_path):
    model = load_segmenter(save(nearest_color_model(COLORS), tmp_path / "m.keras"))
    images = np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        segment(AugmentedSegmenter(model), images, Tiling()), segment(model, images, Tiling())
    )
    # A model that scores each pixel on its own is unchanged by a mirror, whatever the tiling.
    for tiling in (Tiling(), Tiling(window=(32, 32)), Tiling(resize=(64, 96))):
        flipped = segment(AugmentedSegmenter(model, flip=True), images, tiling)
        np.testing.assert_allclose(flipped, segment(model, images, tiling), atol=1e-6)
    assert (segment(AugmentedSegmenter(model, flip=True), images).argmax(-1) == nearest_color(images, COLORS)).all()


class _FixedNearestColor(Segmenter):
    """A 32x32 model that scores each pixel on its own: one-hot of the nearest CamVid colour."""

    def __init__(self):
        super().__init__(len(COLORS), (32, 32))
        self.shapes = []

    def __call__(self, images):
        self.shapes.append(images.shape)
        return np.eye(len(COLORS), dtype=np.float32)[nearest_color(images, COLORS)]


def test_a_fixed_size_model_takes_the_flip_but_refuses_other_scales():
    fixed = _FixedNearestColor()
    images = np.random.default_rng(1).integers(0, 256, (1, 40, 56, 3), dtype=np.uint8)
    flipped = segment(AugmentedSegmenter(fixed, flip=True), images)  # through its 32x32 windows
    assert fixed.shapes and all(shape[1:3] == (32, 32) for shape in fixed.shapes)
    np.testing.assert_allclose(flipped, segment(fixed, images), atol=1e-6)  # mirrored windows, same scores
    assert (flipped.argmax(-1) == nearest_color(images, COLORS)).all()
    with pytest.raises(
        ValueError, match=r"^--tta_scales=0.5,1 needs a model that takes any size; this one takes 32x32"
    ):
        AugmentedSegmenter(fixed, (0.5, 1))
    with pytest.raises(ValueError, match=r"^--tta_scales=0,1 is not valid"):
        AugmentedSegmenter(_Recorder(), (0, 1))


@pytest.mark.slow
def test_evaluate_reports_the_plain_and_the_augmented_figure_with_their_times(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(1), {"val": 2}, size=(64, 96))
    model = save(nearest_color_model(COLORS), tmp_path / "colors.keras")
    plain = evaluate(EvalConfig(model, "camvid", str(tmp_path / "camvid"), "val"), verbose=0)
    both = evaluate(
        EvalConfig(model, "camvid", str(tmp_path / "camvid"), "val", tta_scales=(0.5, 1.0), tta_flip=True), verbose=0
    )
    assert "tta" not in plain and both["mean_iou"] == plain["mean_iou"] and both["ms_per_image"] > 0
    assert both["tta"]["scales"] == [0.5, 1.0] and both["tta"]["flip"] and both["tta"]["ms_per_image"] > 0
    assert both["tta"]["mean_iou"] != plain["mean_iou"]  # the half-size run blurs the colours

    command = [sys.executable, "-m", "fcnseg.evaluate", f"--model={model}", "--dataset=camvid"]
    command += [f"--data_dir={tmp_path / 'camvid'}", "--tta_flip", f"--output_dir={tmp_path / 'eval'}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "With test-time augmentation (scales 1 and flip): mean IoU" in result.stdout
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["tta"]["mean_iou"] == pytest.approx(plain["mean_iou"], abs=1e-9)  # a mirror changes nothing here
    bad = subprocess.run(command[:-2] + ["--tta_scales=0.75,big"], capture_output=True, text=True)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: --tta_scales=0.75,big is not valid; expected numbers, e.g. 0.75,1,1.25."
    )
