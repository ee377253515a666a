"""Every reader, on fake data in its real layout: what it yields and how labels are mapped."""

import cv2
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from fcnseg import data
from fcnseg.data import cityscapes
from fake_layouts import (
    CAMVID_DATA,
    make_camvid,
    make_cityscapes,
    make_cityscapes_pairs,
    make_folder,
    make_kitti_road,
)


def _arrays(dataset):
    return [(image, label) for image, label in dataset.as_numpy_iterator()]


def _check_types(dataset):
    assert dataset.element_spec[0].dtype == tf.uint8 and dataset.element_spec[0].shape.as_list() == [None, None, 3]
    assert dataset.element_spec[1].dtype == tf.int32 and dataset.element_spec[1].shape.as_list()[-1] == 1


def test_registry_lists_every_layout():
    assert data.list_datasets() == [
        "cityscapes", "cityscapes_pairs", "kitti_road", "camvid", "folder", "synthetic", "tfrecord"
    ]


def test_camvid_maps_void_to_ignore(tmp_path):
    written = make_camvid(tmp_path, np.random.default_rng(0))
    dataset = data.load("camvid", tmp_path, "val")
    _check_types(dataset)
    loaded = _arrays(dataset)
    assert len(loaded) == 2
    for (image, label), (expected_image, raw) in zip(loaded, written["val"]):
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(label[..., 0], np.where(raw == 11, 255, raw))


def test_cityscapes_maps_label_ids_to_train_ids(tmp_path):
    written = make_cityscapes(tmp_path, np.random.default_rng(1))
    loaded = _arrays(data.load("cityscapes", tmp_path, "train"))
    assert len(loaded) == 4
    table = np.array(cityscapes.train_id_of_label_id())
    for (image, label), (expected_image, label_ids) in zip(loaded, written):
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(label[..., 0], table[label_ids])
    # spot checks against cityscapesscripts' table: 7 road -> 0, 26 car -> 13, 0 unlabeled -> 255
    assert table[7] == 0 and table[26] == 13 and table[0] == 255


def test_cityscapes_grouping_merges_classes(tmp_path):
    written = make_cityscapes(tmp_path, np.random.default_rng(2))
    spec = data.dataset_spec("cityscapes", grouping="4class")
    assert spec.class_names == ("background", "road", "vehicle", "pedestrian", "traffic_light")
    grouped = {7: 1, 26: 2, 27: 2, 33: 2, 24: 3, 25: 3, 19: 4, 11: 0, 23: 0, 0: 255, 29: 255}
    loaded = _arrays(data.load("cityscapes", tmp_path, "train", grouping="4class"))
    for (_, label), (_, label_ids) in zip(loaded, written):
        for label_id, group in grouped.items():
            assert set(label[..., 0][label_ids == label_id]) <= {group}


def test_unknown_grouping_lists_the_groupings():
    with pytest.raises(ValueError, match="Unknown Cityscapes grouping 'six'; valid groupings: 4class, road"):
        data.dataset_spec("cityscapes", grouping="six")


def test_cityscapes_pairs_survive_jpeg_noise(tmp_path):
    written = make_cityscapes_pairs(tmp_path, np.random.default_rng(3), quality=75)
    loaded = _arrays(data.load("cityscapes_pairs", tmp_path, "train"))
    assert len(loaded) == 2
    for (image, label), (path, train_ids) in zip(loaded, written):
        assert image.shape == (256, 256, 3) and label.shape == (256, 256, 1)
        photo = cv2.imread(str(path))[:, :256, ::-1]
        assert np.abs(image.astype(int) - photo).mean() < 3  # the left half, as another JPEG decoder reads it
        kept = label[..., 0] != 255
        assert kept.mean() > 0.8  # only blurred class borders are ignored
        assert (label[..., 0][kept] == train_ids[kept]).mean() > 0.97  # near colours (truck, bus) blur together


@pytest.mark.parametrize("target, split, count", [("road", "trainval", 15), ("road", "val", 3), ("road", "train", 12), ("lane", "trainval", 5)])
def test_kitti_road_reads_colour_ground_truth(tmp_path, target, split, count):
    written = make_kitti_road(tmp_path, np.random.default_rng(4))
    source = data.open_source("kitti_road", tmp_path, split, target=target)
    assert source.size == count and source.spec.class_names == (f"not_{target}", target)
    labels = [label[..., 0] for _, label in _arrays(source.load())]
    expected = [labels_ for name, labels_ in sorted(written.items()) if f"_{target}_" in name]
    if split != "trainval":
        expected = [e for i, e in enumerate(expected) if (i % 5 == 0) == (split == "val")]
    for got, want in zip(labels, expected):
        np.testing.assert_array_equal(got, want)


def test_kitti_road_test_split_explains_that_it_has_no_labels(tmp_path):
    make_kitti_road(tmp_path, np.random.default_rng(5))
    with pytest.raises(ValueError, match="testing images have no labels"):
        data.load("kitti_road", tmp_path, "test")


@pytest.mark.parametrize("mask_format", ["index", "color"])
def test_folder_reads_index_and_colour_masks(tmp_path, mask_format):
    classes, colors = ["background", "road", "car"], [[0, 0, 0], [128, 64, 128], [0, 0, 142]]
    written = make_folder(tmp_path, np.random.default_rng(6), classes, colors, mask_format)
    assert data.dataset_spec("folder", tmp_path).class_names == tuple(classes)
    loaded = _arrays(data.load("folder", tmp_path, "train"))
    for (image, label), (expected_image, labels) in zip(loaded, written):
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(label[..., 0], labels)


def test_folder_without_splits_is_split_all(tmp_path):
    make_folder(tmp_path / "tmp", np.random.default_rng(7), ["a", "b"], [[0, 0, 0], [9, 9, 9]])
    root = tmp_path / "tmp"
    (root / "train" / "images").rename(root / "images")
    (root / "train" / "masks").rename(root / "masks")
    (root / "train").rmdir()
    assert len(_arrays(data.load("folder", root, "all"))) == 3
    with pytest.raises(FileNotFoundError, match="split folder not found"):
        data.load("folder", root, "train")


def test_synthetic_is_deterministic_and_split_apart():
    train = _arrays(data.load("synthetic", split="train", num_images=3, height=64, width=96))
    again = _arrays(data.load("synthetic", split="train", num_images=3, height=64, width=96))
    val = _arrays(data.load("synthetic", split="val", num_images=3, height=64, width=96))
    assert train[0][0].shape == (64, 96, 3) and train[0][1].shape == (64, 96, 1)
    for (a, b), (c, d) in zip(train, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert not any(np.array_equal(t[0], v[0]) for t in train for v in val)


def test_tfds_cityscapes_maps_label_ids():
    with tfds.testing.mock_data(num_examples=2, max_value=33, policy=tfds.testing.MockPolicy.USE_CODE):
        source = data.open_source("tfds:cityscapes/semantic_segmentation", split="train")
        loaded = _arrays(source.load())
    assert source.spec.num_classes == 19 and len(loaded) == 2
    image, label = loaded[0]
    assert image.shape == (1024, 2048, 3) and label.shape == (1024, 2048, 1)
    assert set(np.unique(label)) <= set(range(19)) | {255}


def test_real_camvid_images_load():
    source = data.open_source("camvid", CAMVID_DATA, "val")
    assert source.size == 101 and source.spec.num_classes == 11
    for image, label in source.load().take(3).as_numpy_iterator():
        assert image.shape == (360, 480, 3) and label.shape == (360, 480, 1)
        assert set(np.unique(label)) <= set(range(11)) | {255}
