"""Index labels are read by what the file holds: grey of any bit depth, palette indices, or grey stored as colour.

Each layout that reads index labels (folder, CamVid, Cityscapes, and the converter that reads
them) goes through `fcnseg.data.decode.read_index_label`, so a few cases go through a real
reader and the rest through the function itself.
"""

import struct
import zlib

import cv2
import numpy as np
import pytest
import tensorflow as tf
from fake_layouts import make_camvid, make_folder, write_png
from PIL import Image

from fcnseg import data
from fcnseg.data.decode import read_index_label
from fcnseg.errors import error_line

_EXPECTED_FORMATS = "expected class indices in one grey channel, a palette PNG or a 16-bit grey PNG"


def _png(path, pixels, color_type, bit_depth):
    """Writes `pixels` (`[H, W, channels]`) as a PNG with exactly this header.

    PIL and OpenCV cannot be asked for some headers (16-bit grey+alpha, a damaged colour type).
    """
    pixels = np.asarray(pixels)
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).astype(">u2" if bit_depth == 16 else np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)  # filter type 0 on every row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    return path


def _read(path):
    return read_index_label(tf.constant(str(path))).numpy()


def _error(read):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        read()
    line = error_line(error.value)
    assert "\n" not in line
    return line


def _first_error(dataset):
    def read_all():
        for _ in dataset:
            pass

    return _error(read_all)


def _labels(dataset):
    return [label[..., 0] for _, label in dataset.as_numpy_iterator()]


@pytest.fixture
def folder(tmp_path):
    """A `folder` dataset with three classes; its masks are replaced by each test."""
    make_folder(
        tmp_path, np.random.default_rng(0), ["road", "car", "sky"], [[128, 64, 128], [0, 0, 142], [70, 130, 180]]
    )
    return tmp_path


def _masks(folder):
    return sorted((folder / "train" / "masks").glob("*.png"))


def test_16_bit_grey_reads_exactly(tmp_path):
    values = np.arange(0, 1200, dtype=np.uint16).reshape(30, 40)
    values[0, 0] = 65535
    assert cv2.imwrite(str(tmp_path / "label.png"), values)
    label = _read(tmp_path / "label.png")
    assert label.dtype == np.int32 and label.shape == (30, 40, 1)
    np.testing.assert_array_equal(label[..., 0], values)


def test_16_bit_grey_labels_through_the_folder_layout(folder):
    rng = np.random.default_rng(1)
    written = []
    for mask in _masks(folder):
        labels = rng.choice(np.array([0, 1, 2, 255], np.uint16), (32, 32))
        assert cv2.imwrite(str(mask), labels)
        written.append(labels)
    for label, expected in zip(_labels(data.load("folder", folder, "train")), written):
        np.testing.assert_array_equal(label, expected)


def test_16_bit_value_above_255_names_the_file_and_the_value(tmp_path):
    make_camvid(tmp_path, np.random.default_rng(2), counts={"train": 2})
    label = tmp_path / "trainannot" / "0001TP_000001.png"
    values = np.full((32, 48), 3, np.uint16)
    values[5, 7] = 300
    assert cv2.imwrite(str(label), values)
    assert _first_error(data.load("camvid", tmp_path, "train")) == (
        f"{label}: label value 300 is not valid; expected 0..10, 11 (void) or 255"
    )


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_grey_below_8_bits_reads_the_stored_values(tmp_path, bits):
    values = (np.arange(24).reshape(4, 6) % (2**bits)).astype(np.uint8)
    Image.fromarray(values, "L").save(tmp_path / "label.png", bits=bits)
    assert (tmp_path / "label.png").read_bytes()[24:26] == bytes([bits, 0])  # bit depth, colour type: grey
    np.testing.assert_array_equal(_read(tmp_path / "label.png")[..., 0], values)


def test_palette_label_reads_its_indices_not_its_colours(folder):
    # VOC-style: the colours are for people; the indices are the classes.
    palette = [128, 64, 128, 0, 0, 142, 70, 130, 180] + [0, 0, 0] * 252 + [224, 224, 192]
    rng = np.random.default_rng(3)
    written = []
    for mask in _masks(folder):
        indices = rng.choice(np.array([0, 1, 2, 255], np.uint8), (32, 32))
        image = Image.fromarray(indices, "P")
        image.putpalette(palette)
        image.save(mask)
        assert mask.read_bytes()[25] == 3  # colour type: palette
        written.append(indices)
    for label, expected in zip(_labels(data.load("folder", folder, "train")), written):
        np.testing.assert_array_equal(label, expected)


def test_palette_label_with_fewer_bits_and_transparency(tmp_path):
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    image.save(tmp_path / "label.png", bits=2, transparency=0)
    assert (tmp_path / "label.png").read_bytes()[24:26] == bytes([2, 3])
    np.testing.assert_array_equal(_read(tmp_path / "label.png")[..., 0], indices)


@pytest.mark.parametrize(
    "dtype, channels",
    [(np.uint8, 3), (np.uint8, 4), (np.uint16, 3)],
    ids=["rgb", "rgba", "rgb-16-bit"],
)
def test_grey_stored_as_colour_reads_as_its_grey_values(tmp_path, dtype, channels):
    values = np.arange(12 * 16, dtype=dtype).reshape(12, 16) * (257 if dtype == np.uint16 else 1)
    pixels = np.repeat(values[..., None], channels, axis=-1)
    if channels == 4:
        pixels[..., 3] = 255
    assert cv2.imwrite(str(tmp_path / "label.png"), pixels)
    np.testing.assert_array_equal(_read(tmp_path / "label.png")[..., 0], values)


def test_colour_label_names_the_file_and_what_it_holds(folder):
    mask = _masks(folder)[1]
    # As brightness these would read as valid classes 0 and 1; as colours they are no class index at all.
    labels = np.zeros((32, 32, 3), np.uint8)
    labels[3, 5] = (0, 0, 2)
    labels[10:, :] = (1, 1, 1)
    write_png(mask, labels)
    assert _first_error(data.load("folder", folder, "train")) == (
        f"{mask}: the label holds colours (an RGB PNG whose channels differ, e.g. (0,0,2) at x=5, y=3); "
        f"{_EXPECTED_FORMATS}"
    )


def test_colour_label_in_another_format_is_refused_too(tmp_path):
    assert cv2.imwrite(str(tmp_path / "grey.bmp"), np.full((8, 8), 2, np.uint8))
    np.testing.assert_array_equal(_read(tmp_path / "grey.bmp")[..., 0], np.full((8, 8), 2))
    colours = np.zeros((8, 8, 3), np.uint8)
    colours[1, 2] = (0, 9, 0)  # OpenCV's order is BGR; the message gives RGB
    assert cv2.imwrite(str(tmp_path / "colour.bmp"), colours)
    assert _error(lambda: _read(tmp_path / "colour.bmp")) == (
        f"{tmp_path / 'colour.bmp'}: the label holds colours (a BMP whose channels differ, e.g. (0,9,0) at x=2, y=1); "
        f"{_EXPECTED_FORMATS}"
    )


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_grey_and_alpha_reads_the_grey_channel(tmp_path, bit_depth):
    grey = np.array([[0, 1, 2], [300 if bit_depth == 16 else 200, 4, 5]])
    alpha = np.array([[0, 255, 128], [7, 0, 255]]) * (257 if bit_depth == 16 else 1)
    path = _png(tmp_path / "label.png", np.stack([grey, alpha], axis=-1), color_type=4, bit_depth=bit_depth)
    np.testing.assert_array_equal(_read(path)[..., 0], grey)


def test_grey_and_alpha_through_camvid(tmp_path):
    written = make_camvid(tmp_path, np.random.default_rng(4), counts={"train": 1})
    raw = written["train"][0][1]
    label = tmp_path / "trainannot" / "0001TP_000000.png"
    Image.fromarray(np.stack([raw, np.full_like(raw, 255)], axis=-1), "LA").save(label)
    assert label.read_bytes()[25] == 4  # colour type: grey+alpha
    [loaded] = _labels(data.load("camvid", tmp_path, "train"))
    np.testing.assert_array_equal(loaded, np.where(raw == 11, 255, raw))


def test_damaged_png_header_names_the_file(tmp_path):
    path = _png(tmp_path / "label.png", np.zeros((4, 4, 2), np.uint8), color_type=5, bit_depth=8)
    assert _error(lambda: _read(path)) == (
        f"{path}: the PNG header gives colour type 5 with bit depth 8, which PNG does not allow (the header is damaged)"
    )


def test_labels_keep_their_shape_inside_tf_data(tmp_path):
    assert cv2.imwrite(str(tmp_path / "label.png"), np.zeros((4, 6), np.uint16))
    dataset = tf.data.Dataset.from_tensor_slices([str(tmp_path / "label.png")]).map(read_index_label)
    assert dataset.element_spec == tf.TensorSpec([None, None, 1], tf.int32)
    assert dataset.get_single_element().shape == (4, 6, 1)
