"""`segment` on images of any size: padding, sliding windows, resizing and tiles of large images give the known masks."""

import numpy as np
import pytest
from known_models import nearest_color, nearest_color_model, save

from fcnseg.data import camvid
from fcnseg.inference import tiling
from fcnseg.inference.segmenter import load_segmenter
from fcnseg.inference.tiling import Tiling, segment

COLORS = camvid.SPEC.colors


@pytest.fixture(scope="module")
def any_size(tmp_path_factory):
    return load_segmenter(save(nearest_color_model(COLORS), tmp_path_factory.mktemp("m") / "any_size.keras"))


@pytest.fixture(scope="module")
def fixed_size(tmp_path_factory):
    model = nearest_color_model(COLORS, input_shape=(32, 32, 3))
    return load_segmenter(save(model, tmp_path_factory.mktemp("m") / "fixed.keras"))


def _images(height, width, count=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("tiling", [Tiling(), Tiling(window=(32, 64), overlap=0.5), Tiling(window=(64, 64))])
def test_padding_and_windows_give_every_pixel_its_class(any_size, tiling):
    images = _images(45, 70)
    probabilities = segment(any_size, images, tiling, batch_size=3)
    assert probabilities.shape == (2, 45, 70, len(COLORS))
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(-1), nearest_color(images, COLORS))


@pytest.mark.parametrize("size", [(50, 70), (20, 20), (32, 32)])
def test_a_fixed_size_model_slides_over_images_of_any_size(fixed_size, size):
    assert fixed_size.input_size == (32, 32) and fixed_size.num_classes == len(COLORS)
    images = _images(*size)
    np.testing.assert_array_equal(segment(fixed_size, images).argmax(-1), nearest_color(images, COLORS))


def test_resizing_returns_probabilities_at_the_image_size(any_size, fixed_size):
    images = np.zeros((1, 50, 70, 3), np.uint8)
    images[:, :25] = COLORS[3]
    images[:, 25:] = COLORS[8]
    for segmenter in (any_size, fixed_size):
        masks = segment(segmenter, images, Tiling(resize=(32, 32))).argmax(-1)
        assert masks.shape == (1, 50, 70)
        assert (masks[:, :20] == 3).all() and (masks[:, 30:] == 8).all()


def test_resizing_feeds_a_fixed_size_model_its_size(tmp_path):
    odd = load_segmenter(save(nearest_color_model(COLORS, input_shape=(36, 50, 3)), tmp_path / "odd.keras"))
    classes = np.random.default_rng(3).integers(0, len(COLORS), (1, 36, 50))
    images = np.asarray(COLORS, np.uint8)[classes]  # palette colours: no near ties between classes
    bigger = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)  # 72x100, every pixel doubled
    masks = segment(odd, bigger, Tiling(resize=(36, 50))).argmax(-1)
    assert masks.shape == (1, 72, 100)
    # Resizing back puts 9/16 of each doubled pixel's weight on its own class.
    np.testing.assert_array_equal(masks[:, 1:-1:2, 1:-1:2], classes[:, :-1, :-1])


def test_sizes_the_model_cannot_take_are_refused(any_size, fixed_size):
    images = _images(40, 40, count=1)
    with pytest.raises(ValueError, match="^--window=40,40 is not valid; expected a multiple of 32 on each side"):
        segment(any_size, images, Tiling(window=(40, 40)))
    with pytest.raises(ValueError, match="^--window=64,64 does not fit the model: it takes 32x32 images only"):
        segment(fixed_size, images, Tiling(window=(64, 64)))
    with pytest.raises(ValueError, match="^--resize=64,64 does not fit the model: it takes 32x32 images only"):
        segment(fixed_size, images, Tiling(resize=(64, 64)))
    with pytest.raises(ValueError, match="--resize and --window exclude each other"):
        Tiling(resize=(32, 32), window=(32, 32))


@pytest.mark.parametrize("segmenter_name", ["any_size", "fixed_size"])
def test_large_images_are_segmented_in_tiles_of_bounded_size_with_the_same_masks(
    request, monkeypatch, caplog, segmenter_name
):
    monkeypatch.setattr(tiling, "LARGE_IMAGE_PIXELS", 64 * 64)
    monkeypatch.setattr(tiling, "_TILE", 64)
    monkeypatch.setattr(tiling, "_MARGIN", 8)
    segmenter = request.getfixturevalue(segmenter_name)
    sizes = []
    recording = type(segmenter).__call__

    def record(self, batch):
        sizes.append(batch.shape[1] * batch.shape[2])
        return recording(self, batch)

    monkeypatch.setattr(type(segmenter), "__call__", record)
    images = _images(150, 200)
    np.testing.assert_array_equal(tiling.masks(segmenter, images), nearest_color(images, COLORS))
    assert max(sizes) <= 96 * 96  # a 64x64 tile with 8 pixels of context, padded to 32
    assert "200x150 images are larger than 4096 pixels: segmenting them in 64x64 tiles" in caplog.text
    sizes.clear()
    np.testing.assert_array_equal(tiling.masks(segmenter, _images(32, 64)), nearest_color(_images(32, 64), COLORS))
    assert len(sizes) == 1  # small images: in one call (the whole batch, or its windows)
