"""Tests for the procedurally drawn road scenes in `fcnseg.data.synthetic`."""

import numpy as np
import pytest

from fcnseg.data.synthetic import CLASS_NAMES, COLORS, render_scene

NUM_CLASSES = len(CLASS_NAMES)


@pytest.fixture(scope="module")
def scenes():
    """Fifty scenes at 128x256, the size the quickstart trains on."""
    return [render_scene(seed, 128, 256) for seed in range(50)]


def test_class_names_and_colors_match():
    assert NUM_CLASSES == 8
    assert len(COLORS) == NUM_CLASSES
    assert len(set(COLORS)) == NUM_CLASSES
    assert all(len(color) == 3 and all(0 <= channel <= 255 for channel in color) for color in COLORS)


def test_same_seed_gives_the_same_scene():
    image, label = render_scene(3, 96, 128)
    again_image, again_label = render_scene(3, 96, 128)
    np.testing.assert_array_equal(image, again_image)
    np.testing.assert_array_equal(label, again_label)


def test_different_seeds_give_different_scenes():
    images, labels = zip(*(render_scene(seed, 96, 128) for seed in range(5)))
    for i in range(5):
        for j in range(i + 1, 5):
            assert np.mean(labels[i] != labels[j]) > 0.05
            assert not np.array_equal(images[i], images[j])


@pytest.mark.parametrize("height, width", [(64, 64), (128, 256), (96, 128), (32, 32)])
def test_shapes_dtypes_and_label_values(height, width):
    image, label = render_scene(11, height, width)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    assert label.shape == (height, width) and label.dtype == np.uint8
    assert label.max() < NUM_CLASSES


def test_layout_does_not_depend_on_size():
    for seed in range(3):
        _, small = render_scene(seed, 128, 256)
        _, large = render_scene(seed, 256, 512)
        assert np.mean(small == large[::2, ::2]) > 0.95


def test_every_class_is_common(scenes):
    labels = np.stack([label for _, label in scenes])
    assert labels.max() < NUM_CLASSES
    counts = np.stack([np.bincount(label.ravel(), minlength=NUM_CLASSES) for label in labels])
    present = np.mean(counts > 0, axis=0)
    share = np.mean(counts / labels[0].size, axis=0)
    for name, fraction, mean_share in zip(CLASS_NAMES, present, share):
        assert fraction >= 0.8, f"{name} appears in only {fraction:.0%} of the scenes"
        assert mean_share >= 0.01, f"{name} covers only {mean_share:.2%} of the pixels on average"


def test_colour_alone_helps_but_does_not_solve_the_scenes(scenes):
    # A nearest-class-mean classifier on single RGB pixels: well above chance means the
    # classes have their own colours, short of perfect means context is still needed.
    train, test = scenes[:20], scenes[20:40]
    pixels = np.concatenate([image.reshape(-1, 3) for image, _ in train]).astype(np.float32)
    classes = np.concatenate([label.ravel() for _, label in train])
    means = np.stack([pixels[classes == k].mean(axis=0) for k in range(NUM_CLASSES)])
    test_pixels = np.concatenate([image.reshape(-1, 3) for image, _ in test]).astype(np.float32)
    test_classes = np.concatenate([label.ravel() for _, label in test])
    distances = ((test_pixels[:, None, :] - means[None]) ** 2).sum(axis=-1)
    accuracy = np.mean(distances.argmin(axis=1) == test_classes)
    assert 0.6 <= accuracy < 0.99


@pytest.mark.parametrize(
    "height, width, name",
    [(31, 64, "height"), (64, 16, "width"), (64.0, 64, "height"), ("64", 64, "height"), (64, None, "width"),
     (True, 64, "height")],
)
def test_bad_sizes_raise(height, width, name):
    with pytest.raises(ValueError, match=name):
        render_scene(0, height, width)
