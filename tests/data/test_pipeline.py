"""make_dataset, augmentation, class frequencies, and the TFRecord converter."""

import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from fake_layouts import CAMVID_DATA, blocks, make_camvid

from fcnseg import data
from fcnseg.data import Augmentation, Source, class_frequencies, make_dataset, median_frequency_weights
from fcnseg.data.specs import DatasetSpec

COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]], np.uint8)
SPEC = DatasetSpec("colours", [f"c{i}" for i in range(5)], COLORS.tolist())


def _colour_coded_source(count=6, size=(48, 64)):
    """Images whose pixel colours encode their own labels, with some ignored pixels."""
    rng = np.random.default_rng(0)
    labels = np.stack([blocks(rng, [0, 1, 2, 3, 4, 255], *size, block=12) for _ in range(count)])
    images = np.where(labels[..., None] == 255, 128, COLORS[np.minimum(labels, 4)]).astype(np.uint8)
    elements = tf.data.Dataset.from_tensor_slices((images, labels[..., None].astype(np.int32)))
    return Source(SPEC, elements, lambda dataset: dataset, count)


GEOMETRY_ONLY = Augmentation(brightness=0, contrast=0, saturation=0, hue=0)


def test_training_batches_have_the_crop_size_and_types():
    dataset = make_dataset(_colour_coded_source(), training=True, batch_size=4, crop_size=(32, 32), seed=0)
    images, labels = next(iter(dataset))
    assert images.dtype == tf.float32 and images.shape == (4, 32, 32, 3)
    assert labels.dtype == tf.int32 and labels.shape == (4, 32, 32, 1)
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0


def test_augmented_labels_stay_classes_or_ignore():
    dataset = make_dataset(_colour_coded_source(), training=True, batch_size=2, crop_size=(64, 96), seed=1)
    values = set()
    for _ in range(3):
        for _, labels in dataset:
            values |= set(np.unique(labels.numpy()))
    assert values <= {0, 1, 2, 3, 4, 255}
    assert 255 in values  # small images padded up to the crop, and ignored pixels kept


def test_augmentation_keeps_image_and_label_aligned():
    dataset = make_dataset(
        _colour_coded_source(), training=True, batch_size=2, crop_size=(40, 40), augmentation=GEOMETRY_ONLY, seed=2
    )
    agree, total = 0, 0
    for _ in range(4):
        for images, labels in dataset.as_numpy_iterator():
            nearest = np.argmin(((images[..., None, :] - COLORS.astype(np.float32)) ** 2).sum(-1), axis=-1)
            valid = labels[..., 0] != 255
            agree += (nearest[valid] == labels[..., 0][valid]).sum()
            total += valid.sum()
    assert agree / total > 0.95  # only bilinear blends at block edges disagree; a misalignment gives ~0.2


def test_photometric_jitter_changes_only_the_image():
    plain = make_dataset(
        _colour_coded_source(), training=True, batch_size=6, crop_size=(32, 32), augmentation=GEOMETRY_ONLY, seed=3
    )
    jittered = make_dataset(_colour_coded_source(), training=True, batch_size=6, crop_size=(32, 32), seed=3)
    (plain_images, plain_labels), (jittered_images, jittered_labels) = next(iter(plain)), next(iter(jittered))
    np.testing.assert_array_equal(plain_labels, jittered_labels)
    assert np.abs(plain_images.numpy() - jittered_images.numpy()).mean() > 1.0


def test_seeded_training_pipeline_repeats_itself():
    def batches():
        dataset = make_dataset(_colour_coded_source(), training=True, batch_size=2, crop_size=(32, 32), seed=4)
        return [batch for batch in dataset.as_numpy_iterator()]

    for (a_images, a_labels), (b_images, b_labels) in zip(batches(), batches()):
        np.testing.assert_array_equal(a_images, b_images)
        np.testing.assert_array_equal(a_labels, b_labels)


def test_evaluation_pads_to_a_multiple_of_32_with_ignored_labels():
    images, labels = next(iter(make_dataset(_colour_coded_source(), training=False, batch_size=3)))
    assert images.shape == (3, 64, 64, 3) and labels.shape == (3, 64, 64, 1)
    assert (labels.numpy()[:, 48:] == 255).all() and (images.numpy()[:, 48:] == 0).all()


def test_evaluation_resize_uses_nearest_labels():
    _, labels = next(iter(make_dataset(_colour_coded_source(), training=False, batch_size=6, eval_size=(96, 128))))
    assert labels.shape == (6, 96, 128, 1) and set(np.unique(labels.numpy())) <= {0, 1, 2, 3, 4, 255}


def test_sharding_splits_the_elements_between_workers():
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
        dataset = make_dataset(_colour_coded_source(count=6), training=False, batch_size=1, input_context=context)
        seen.append([labels.numpy().tobytes() for _, labels in dataset])
    assert len(seen[0]) == len(seen[1]) == 3 and not set(seen[0]) & set(seen[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"training": True, "batch_size": 2}, "needs crop_size"),
        ({"training": True, "batch_size": 0, "crop_size": (32, 32)}, "batch_size=0 is not valid"),
        ({"training": True, "batch_size": 2, "crop_size": (32,)}, "--crop_size=32 is not valid"),
    ],
)
def test_bad_pipeline_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(_colour_coded_source(), **kwargs)


def test_class_frequencies_and_median_frequency_weights_match_numpy():
    source = _colour_coded_source(count=6)
    pixels, pixels_of_images_with = class_frequencies(source.load(), 5)
    labels = np.stack([label for _, label in source.load().as_numpy_iterator()])[..., 0]
    expected = np.array([(labels == c).sum() for c in range(5)])
    np.testing.assert_array_equal(pixels, expected)
    valid_per_image = (labels != 255).sum(axis=(1, 2))
    present = np.array([[(image == c).any() for c in range(5)] for image in labels])
    np.testing.assert_array_equal(pixels_of_images_with, (present * valid_per_image[:, None]).sum(0))
    frequency = expected / (present * valid_per_image[:, None]).sum(0)
    np.testing.assert_allclose(
        median_frequency_weights(pixels, pixels_of_images_with), np.median(frequency) / frequency, rtol=1e-6
    )


def test_median_frequency_gives_absent_classes_no_weight():
    assert median_frequency_weights([10, 0, 30], [100, 0, 100]).tolist() == pytest.approx([2.0, 0.0, 2 / 3])


@pytest.mark.slow
def test_convert_to_tfrecord_round_trips_through_the_entry_point(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(5), counts={"train": 5})
    command = [sys.executable, "-m", "fcnseg.convert", "--dataset=camvid", f"--data_dir={tmp_path / 'camvid'}"]
    result = subprocess.run(
        command + ["--split=train", f"--output={tmp_path / 'records'}", "--num_shards=2"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote 5 examples of camvid train to 2 shards" in result.stdout
    source = data.open_source("tfrecord", tmp_path / "records", "train")
    assert source.spec.class_names == data.dataset_spec("camvid").class_names
    original = sorted(
        (i.tobytes(), l.tobytes()) for i, l in data.load("camvid", tmp_path / "camvid").as_numpy_iterator()
    )
    converted = sorted((i.tobytes(), l.tobytes()) for i, l in source.load().as_numpy_iterator())
    assert converted == original
    bad = subprocess.run(command + ["--grouping=4class", f"--output={tmp_path / 'x'}"], capture_output=True, text=True)
    assert bad.returncode != 0
    assert (
        bad.stderr.strip().splitlines()[-1]
        == "error: --grouping does not apply to --dataset=camvid; its options: skip_bad_files."
    )


def test_real_camvid_through_the_training_pipeline():
    source = data.open_source("camvid", CAMVID_DATA, "train")
    dataset = make_dataset(source, training=True, batch_size=2, crop_size=(360, 480), seed=0)
    for images, labels in dataset.take(2).as_numpy_iterator():
        assert images.shape == (2, 360, 480, 3) and labels.shape == (2, 360, 480, 1)
        assert set(np.unique(labels)) <= set(range(11)) | {255}


def test_colour_matrix_saturation_and_hue():
    from fcnseg.data.augment import _color_matrix

    rgb = np.array([200.0, 50.0, 10.0], np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(_color_matrix(tf.constant(1.0), tf.constant(0.0)).numpy(), np.eye(3), atol=1e-5)
    np.testing.assert_allclose(_color_matrix(tf.constant(0.0), tf.constant(0.0)).numpy() @ rgb, [luma] * 3, rtol=1e-4)
    rotated = _color_matrix(tf.constant(1.0), tf.constant(1.0)).numpy() @ rgb
    assert abs(rotated @ np.array([0.299, 0.587, 0.114]) - luma) < 1e-2  # hue keeps brightness
    assert np.abs(rotated - rgb).max() > 20  # and changes the colour


def test_fused_photometric_jitter_shifts_brightness_and_keeps_channel_means_under_contrast():
    from fcnseg.data.augment import photometric

    image = tf.constant(np.random.default_rng(0).uniform(60, 190, (16, 16, 3)), tf.float32)
    seed = tf.constant([1, 2])
    shifted = photometric(image, seed, Augmentation(brightness=40, contrast=0, saturation=0, hue=0)) - image
    np.testing.assert_allclose(shifted.numpy(), shifted.numpy().flat[0], atol=1e-3)  # one shift for every pixel
    assert abs(shifted.numpy().flat[0]) > 0
    contrasted = photometric(image, seed, Augmentation(brightness=0, contrast=0.5, saturation=0, hue=0)).numpy()
    np.testing.assert_allclose(contrasted.mean((0, 1)), image.numpy().mean((0, 1)), rtol=1e-4)
    spread = image.numpy() - image.numpy().mean((0, 1))
    factor = (contrasted - contrasted.mean((0, 1))) / np.where(np.abs(spread) > 5, spread, np.nan)
    factor = factor[np.isfinite(factor)]
    np.testing.assert_allclose(factor, factor.flat[0], rtol=1e-3)  # one contrast factor
    assert 0.5 <= factor.flat[0] <= 1.5 and abs(factor.flat[0] - 1) > 1e-3


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(min_scale=2.0, max_scale=1.0), "--min_scale=2.0 --max_scale=1.0 are not valid"),
        (dict(min_scale=0.0), "--min_scale=0.0 --max_scale=2.0 are not valid"),
        (dict(brightness=-1), "--brightness=-1 is not valid; expected a value of at least 0"),
        (dict(contrast=1.0), "--contrast=1.0 is not valid; expected a value below 1"),
        (dict(saturation=1.5), "--saturation=1.5 is not valid; expected a value below 1"),
        (dict(hue=0.6), "--hue=0.6 is not valid; expected a value at most 0.5"),
    ],
)
def test_bad_augmentation_ranges_name_their_flags(options, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        Augmentation(**options)
