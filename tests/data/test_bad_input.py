"""Bad data fails with one line naming the file and what was expected, or is skipped and reported."""

import logging

import cv2
import numpy as np
import pytest
import tensorflow as tf
from fake_layouts import make_camvid, make_cityscapes, make_folder, make_kitti_road, write_png

from fcnseg import data
from fcnseg.errors import error_line


def _first_error(dataset):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        for _ in dataset:
            pass
    line = error_line(error.value)
    assert "\n" not in line
    return line


@pytest.fixture
def camvid(tmp_path):
    make_camvid(tmp_path, np.random.default_rng(0), counts={"train": 4})
    return tmp_path


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(b""), "the file is empty"),
        (lambda path: path.write_bytes(b"<html>not found</html>"), "not a PNG, JPEG, BMP or GIF image"),
        (
            lambda path: path.write_bytes(path.read_bytes()[:-40]),
            "the PNG file is cut short (no IEND chunk at its end)",
        ),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
def test_corrupt_image_names_the_file(camvid, damage, message):
    bad = camvid / "train" / "0001TP_000002.png"
    damage(bad)
    assert _first_error(data.load("camvid", camvid, "train")) == f"{bad}: {message}"


def test_truncated_jpeg_names_the_file(tmp_path):
    make_folder(tmp_path, np.random.default_rng(1), ["a", "b"], [[0, 0, 0], [255, 255, 255]])
    image = tmp_path / "train" / "images" / "frame_1.png"
    jpeg = image.with_suffix(".jpg")
    cv2.imwrite(str(jpeg), cv2.imread(str(image)))
    image.unlink()
    jpeg.write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])
    assert _first_error(data.load("folder", tmp_path, "train")) == f"{jpeg}: the JPEG file is cut short (no end marker)"


def test_label_value_out_of_range_names_the_file_and_the_valid_values(camvid):
    label = camvid / "trainannot" / "0001TP_000001.png"
    values = np.full((32, 48), 3, np.uint8)
    values[5, 7] = 42
    write_png(label, values)
    assert _first_error(data.load("camvid", camvid, "train")) == (
        f"{label}: label value 42 is not valid; expected 0..10, 11 (void) or 255"
    )


def test_size_mismatch_names_both_files(camvid):
    label = camvid / "trainannot" / "0001TP_000003.png"
    write_png(label, np.zeros((30, 48), np.uint8))
    image = camvid / "train" / "0001TP_000003.png"
    assert (
        _first_error(data.load("camvid", camvid, "train")) == f"{label}: label is 48x30 but its image {image} is 48x32"
    )


def test_cityscapes_label_id_out_of_range(tmp_path):
    make_cityscapes(tmp_path, np.random.default_rng(2), per_city=1)
    label = tmp_path / "gtFine" / "train" / "aachen" / "aachen_000000_000019_gtFine_labelIds.png"
    write_png(label, np.full((32, 64), 34, np.uint8))
    assert "label value 34 is not valid; expected a Cityscapes label id 0..33" in _first_error(
        data.load("cityscapes", tmp_path, "train")
    )


def test_kitti_colour_outside_the_ground_truth_colours(tmp_path):
    make_kitti_road(tmp_path, np.random.default_rng(3), per_category=1)
    gt = tmp_path / "data_road" / "training" / "gt_image_2" / "um_road_000000.png"
    write_png(gt, np.full((40, 120, 3), (0, 255, 0), np.uint8))
    assert _first_error(data.load("kitti_road", tmp_path, "trainval")) == (
        f"{gt}: colour (0,255,0) is not in the class colours"
    )


def test_missing_label_names_the_image_and_the_expected_label(camvid):
    (camvid / "trainannot" / "0001TP_000001.png").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"0001TP_000001.png: image has no label; expected .*trainannot/0001TP_000001.png"
    ):
        data.load("camvid", camvid, "train")


def test_empty_split_and_wrong_folders(camvid, tmp_path):
    for path in (camvid / "train").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match="camvid train .*: no images found"):
        data.load("camvid", camvid, "train")
    with pytest.raises(FileNotFoundError, match="nowhere: CamVid folder not found"):
        data.load("camvid", tmp_path / "nowhere", "train")
    with pytest.raises(FileNotFoundError, match="leftImg8bit/train: Cityscapes train images folder not found"):
        data.load("cityscapes", camvid, "train")
    with pytest.raises(ValueError, match="No data_dir given: pass the CamVid folder"):
        data.load("camvid")


def test_unknown_dataset_split_and_option():
    with pytest.raises(ValueError, match="Unknown dataset 'mapillary'; valid datasets: cityscapes, .*, or tfds:<name>"):
        data.load("mapillary")
    with pytest.raises(ValueError, match="Dataset 'synthetic' has no split 'dev'; valid splits: train, val, test"):
        data.load("synthetic", split="dev")
    with pytest.raises(
        ValueError, match="Unknown option.* grouping for dataset 'camvid'; valid options: skip_bad_files"
    ):
        data.load("camvid", "x", grouping="4class")


def test_skip_bad_files_leaves_them_out_and_reports_how_many(camvid, caplog):
    (camvid / "train" / "0001TP_000000.png").write_bytes(b"")
    write_png(camvid / "trainannot" / "0001TP_000002.png", np.full((32, 48), 99, np.uint8))
    with caplog.at_level(logging.WARNING, logger="fcnseg.data"):
        source = data.open_source("camvid", camvid, "train", skip_bad_files=True)
    assert source.size == 2
    assert len(list(source.load())) == 2
    assert "camvid train: skipped 2 of 4 image/label pairs with bad files; the first:" in caplog.text
    assert "0001TP_000000.png: the file is empty" in caplog.text
