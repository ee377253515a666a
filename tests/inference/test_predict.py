"""`fcnseg.predict` on images, folders and videos, with a model whose masks are known."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from fake_layouts import read_video, write_png, write_video
from known_models import nearest_color, nearest_color_model, save

from fcnseg import data
from fcnseg.data import camvid
from fcnseg.inference.prediction import PredictConfig
from fcnseg.inference.prediction import predict as run_prediction
from fcnseg.overlay import colorize, overlay

COLORS = camvid.SPEC.colors


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The nearest-colour model, with the classes.json that training writes beside it."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "classes.json").write_text(camvid.SPEC.to_json())
    return save(nearest_color_model(COLORS), folder / "best.keras")


def _read(path):
    picture = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert picture is not None, path
    return picture[..., ::-1] if picture.ndim == 3 else picture


def test_a_folder_gives_exact_masks_and_views_of_the_expected_colours(tmp_path, model):
    rng = np.random.default_rng(0)
    images = {
        "a": rng.integers(0, 256, (36, 50, 3), np.uint8),
        "b": rng.integers(0, 256, (36, 50, 3), np.uint8),
        "city/c": rng.integers(0, 256, (70, 41, 3), np.uint8),
    }
    for name, image in images.items():
        write_png(tmp_path / "in" / f"{name}.png", image)
    config = PredictConfig(
        model,
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        views=("overlay", "color", "side_by_side", "index"),
        alpha=0.3,
    )
    result = run_prediction(config, verbose=0)

    assert result["count"] == 3 and result["kind"] == "images"
    for name, image in images.items():
        expected = nearest_color(image, COLORS)
        np.testing.assert_array_equal(_read(tmp_path / "out" / f"{name}_index.png"), expected)
        np.testing.assert_array_equal(_read(tmp_path / "out" / f"{name}_color.png"), colorize(expected, COLORS))
        np.testing.assert_array_equal(
            _read(tmp_path / "out" / f"{name}_overlay.png"), overlay(image, expected, COLORS, 0.3)
        )
        both = _read(tmp_path / "out" / f"{name}_side_by_side.png")
        np.testing.assert_array_equal(both, np.concatenate([image, colorize(expected, COLORS)], axis=1))
    legend = _read(tmp_path / "out" / "legend.png")
    assert legend.shape[0] >= 11 * 20
    for color in COLORS:  # every class's swatch is drawn
        assert (legend == color).all(-1).any()


def test_one_image_to_jpeg_with_a_dataset_palette(tmp_path, model):
    write_png(tmp_path / "street.png", np.full((40, 60, 3), COLORS[3], np.uint8))
    config = PredictConfig(
        model,
        str(tmp_path / "street.png"),
        str(tmp_path / "out"),
        data.dataset_spec("camvid"),
        legend=False,
        image_format="jpg",
    )
    run_prediction(config, verbose=0)
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["street_overlay.jpg"]
    picture = _read(tmp_path / "out" / "street_overlay.jpg")
    assert picture.shape == (40, 60, 3) and np.abs(picture.astype(int) - COLORS[3]).max() <= 3


def test_a_video_gives_every_frame_at_the_same_rate_and_size(tmp_path, model):
    rng = np.random.default_rng(1)
    # Large blocks of palette colours survive the lossy codec with their nearest colour intact.
    frames = [
        np.asarray(COLORS, np.uint8)[np.kron(rng.integers(0, 11, (3, 5)), np.ones((16, 16), int))][:46, :70]
        for _ in range(9)
    ]
    write_video(tmp_path / "drive.mp4", frames, fps=12.5)
    decoded, _ = read_video(tmp_path / "drive.mp4")
    config = PredictConfig(
        model, str(tmp_path / "drive.mp4"), str(tmp_path / "out"), views=("overlay", "side_by_side"), batch_size=4
    )
    result = run_prediction(config, verbose=0)

    assert result["kind"] == "video" and result["count"] == 9
    overlays, fps = read_video(tmp_path / "out" / "drive_overlay.mp4")
    assert overlays.shape == (9, 46, 70, 3) and fps == pytest.approx(12.5)
    expected = overlay(decoded, nearest_color(decoded, COLORS), COLORS, 0.5)
    assert np.abs(overlays.astype(int) - expected).mean() < 4
    both, _ = read_video(tmp_path / "out" / "drive_side_by_side.mp4")
    assert both.shape == (9, 46, 140, 3)


def test_bad_input_is_named(tmp_path, model):
    (tmp_path / "empty").mkdir()
    write_png(tmp_path / "bad" / "good.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "bad" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    write_png(tmp_path / "one.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / "twins" / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / "twins" / "a.bmp", np.zeros((8, 8, 3), np.uint8))
    bare_model = save(nearest_color_model(COLORS), tmp_path / "bare.keras")
    cases = [
        (dict(input=str(tmp_path / "empty")), "empty: no images"),
        (dict(input=str(tmp_path / "twins")), "a.bmp and .*a.png would write the same pictures"),
        (dict(input=str(tmp_path / "bad")), "broken.png: not a PNG, JPEG, BMP or GIF image"),
        (dict(input=str(tmp_path / "broken.mp4")), "broken.mp4: not a readable video"),
        (dict(input=str(tmp_path / "nothing.png")), "nothing.png: input not found"),
        (dict(input=str(tmp_path / "one.png"), spec=data.dataset_spec("synthetic")), "predicts 11 classes but"),
        (dict(input=str(tmp_path / "one.png"), model=bare_model), "bare.keras: no classes.json beside the model"),
        (dict(input=str(tmp_path / "broken.mp4"), views=("index",)), "--views=index applies to images only"),
    ]
    for fields, message in cases:
        config = PredictConfig(**{"model": model, "output": str(tmp_path / "out"), **fields})
        with pytest.raises(ValueError if "found" not in message else FileNotFoundError, match=message):
            run_prediction(config, verbose=0)
    with pytest.raises(ValueError, match="--views=outline is not valid"):
        PredictConfig(model, "x", "y", views=("outline",))


@pytest.mark.slow
def test_the_command_draws_and_fails_in_one_line(tmp_path, model):
    write_png(tmp_path / "one.png", np.full((40, 60, 3), COLORS[8], np.uint8))
    command = [sys.executable, "-m", "fcnseg.predict", f"--model={model}", f"--output={tmp_path / 'out'}"]
    result = subprocess.run([*command, f"--input={tmp_path / 'one.png'}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 images in" in result.stdout
    np.testing.assert_array_equal(
        _read(tmp_path / "out" / "one_overlay.png")[0, 0], overlay(np.uint8(COLORS[8]), 8, COLORS)
    )
    result = subprocess.run(
        [*command, f"--input={tmp_path / 'one.png'}", "--dataset=synthetic"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "predicts 11 classes" in result.stderr
