"""In-graph reading of image and label files, with checks that name the file at fault.

TensorFlow's decoders fail with messages that do not say which file was bad, so every
file is checked before it is decoded (empty, not an image, cut short) and every pair
after (sizes differ, label values out of range). Index labels are decoded by what the
file holds (grey of any bit depth, palette indices, or colour that is grey in fact);
colour labels that are not grey are refused rather than read as brightness. A failed check raises
`tf.errors.InvalidArgumentError` whose message holds one line naming the file;
`fcnseg.errors.error_line` extracts it.
"""

import functools
import io

import numpy as np
import tensorflow as tf
from PIL import Image

from fcnseg.data.specs import IGNORE_LABEL

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8"
_OTHER_SIGNATURES = (b"BM", b"GIF8")  # BMP and GIF: no end marker to check
# A PNG's IHDR chunk comes first, so its bit depth and colour type (the next byte) sit at fixed offsets.
_PNG_BIT_DEPTH_OFFSET = 24
_PNG_GREY, _PNG_RGB, _PNG_PALETTE, _PNG_GREY_ALPHA, _PNG_RGBA = 0, 2, 3, 4, 6
# (colour type, bit depth) pairs the PNG specification allows.
_PNG_HEADERS = [(_PNG_GREY, depth) for depth in (1, 2, 4, 8, 16)] + [
    *((_PNG_PALETTE, depth) for depth in (1, 2, 4, 8)),
    *((color_type, depth) for color_type in (_PNG_RGB, _PNG_GREY_ALPHA, _PNG_RGBA) for depth in (8, 16)),
]
_LABEL_FORMATS = "expected class indices in one grey channel, a palette PNG or a 16-bit grey PNG"


def fail_if(condition, *message_parts):
    """Raises, naming the problem, when the scalar `condition` holds; returns a dependency."""

    def fail():
        parts = [tf.convert_to_tensor(part) for part in message_parts]
        message = tf.strings.join([part if part.dtype == tf.string else tf.strings.as_string(part) for part in parts])
        return tf.debugging.Assert(False, [message], summarize=1)

    return tf.cond(condition, fail, tf.no_op)


def read_encoded(path):
    """Reads an image file's bytes, failing on files that are empty, not images, or cut short."""
    data = tf.io.read_file(path)
    size = tf.strings.length(data)
    is_png, is_jpeg, *is_other = [
        tf.equal(tf.strings.substr(data, 0, len(signature)), signature)
        for signature in (_PNG_SIGNATURE, _JPEG_SIGNATURE, *_OTHER_SIGNATURES)
    ]
    png_complete = tf.equal(tf.strings.substr(data, tf.maximum(size - 8, 0), 4), b"IEND")
    checks = [
        fail_if(tf.equal(size, 0), path, ": the file is empty"),
        fail_if(
            tf.logical_and(size > 0, tf.logical_not(tf.reduce_any([is_png, is_jpeg, *is_other]))),
            path,
            ": not a PNG, JPEG, BMP or GIF image",
        ),
        fail_if(is_png & tf.logical_not(png_complete), path, ": the PNG file is cut short (no IEND chunk at its end)"),
        fail_if(
            is_jpeg & tf.logical_not(_jpeg_complete(data, size)), path, ": the JPEG file is cut short (no end marker)"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(data)


def _jpeg_complete(data, size):
    # Some writers pad after the end-of-image marker, so look for it near the end, not only at it.
    tail = tf.io.decode_raw(tf.strings.substr(data, tf.maximum(size - 64, 0), 64), tf.uint8)
    return tf.reduce_any(tf.logical_and(tf.equal(tail[:-1], 0xFF), tf.equal(tail[1:], 0xD9)))


def read_image(path):
    """Reads an RGB image file (PNG, JPEG, BMP, GIF) as uint8 `[height, width, 3]`."""
    image = tf.io.decode_image(read_encoded(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def read_index_label(path):
    """Reads a label file holding class indices, by what the file holds.

    PNG labels are decoded by their header: grey of 1 to 16 bits (and grey+alpha, whose
    alpha is dropped) as the stored values, palette PNGs (VOC-style) as their palette
    indices, and RGB or RGBA only where the three colour channels are equal everywhere
    (grey stored as colour). JPEG, BMP and GIF labels follow the same rule as RGB. Colour
    labels whose channels differ fail with one line naming the file, since their colours
    are not class indices.

    Args:
        path: string tensor. The label file.

    Returns:
        int32 `[height, width, 1]` raw label values (up to 65535 for 16-bit PNGs).
    """
    data = read_encoded(path)
    is_png = tf.equal(tf.strings.substr(data, 0, len(_PNG_SIGNATURE)), _PNG_SIGNATURE)
    # Padded so that a file too short for a header, which read_encoded refuses, cannot fail here first.
    head = tf.strings.join([tf.strings.substr(data, 0, _PNG_BIT_DEPTH_OFFSET + 2), b"\0" * (_PNG_BIT_DEPTH_OFFSET + 2)])
    header = tf.cast(tf.io.decode_raw(tf.strings.substr(head, _PNG_BIT_DEPTH_OFFSET, 2), tf.uint8), tf.int32)
    bit_depth, color_type = header[0], header[1]
    known = tf.reduce_any(tf.reduce_all(tf.equal(tf.constant(_PNG_HEADERS), [color_type, bit_depth]), axis=1))
    check = fail_if(
        is_png & tf.logical_not(known),
        path,
        ": the PNG header gives colour type ",
        color_type,
        " with bit depth ",
        bit_depth,
        ", which PNG does not allow (the header is damaged)",
    )
    with tf.control_dependencies([check]):
        label = tf.cond(
            is_png,
            lambda: _png_label(data, bit_depth, color_type, path),
            lambda: _grey_of_color(
                tf.io.decode_image(data, channels=3, expand_animations=False), path, _format_name(data)
            ),
        )
    label.set_shape([None, None, 1])
    return label


def _png_label(data, bit_depth, color_type, path):
    """Decodes a PNG label by its header's `color_type` and `bit_depth` (int32 scalars)."""

    def decode(channels):
        return tf.cond(
            tf.equal(bit_depth, 16),
            lambda: tf.cast(tf.io.decode_png(data, channels=channels, dtype=tf.uint16), tf.int32),
            lambda: tf.cast(tf.io.decode_png(data, channels=channels), tf.int32),
        )

    def grey():
        # decode_png stretches 1, 2 and 4-bit grey to 0..255 (1 -> 255 at 1 bit); divide back to what is stored.
        stretch = 255 // (tf.bitwise.left_shift(1, tf.clip_by_value(bit_depth, 1, 8)) - 1)
        return decode(channels=1) // tf.where(tf.equal(bit_depth, 16), 1, stretch)

    def palette():
        # decode_png expands a palette to its colours, but the indices are the labels: PIL reads those.
        indices, problem = tf.numpy_function(_palette_indices, [data], [tf.int32, tf.string], stateful=False)
        check = fail_if(tf.strings.length(problem) > 0, path, ": the palette PNG could not be decoded (", problem, ")")
        with tf.control_dependencies([check]):
            return tf.identity(indices)

    branches = {
        _PNG_GREY: grey,
        _PNG_GREY_ALPHA: grey,  # channels=1 drops the alpha, which says nothing about the class
        _PNG_PALETTE: palette,
        _PNG_RGB: lambda: _grey_of_color(decode(channels=3), path, "an RGB PNG"),
        _PNG_RGBA: lambda: _grey_of_color(decode(channels=3), path, "an RGBA PNG"),
    }
    # Other colour types never get here: read_index_label's header check fails first.
    return tf.switch_case(color_type, [branches.get(index, grey) for index in range(_PNG_RGBA + 1)])


def _palette_indices(data):
    """A palette PNG's indices as int32 `[height, width, 1]`, and why they could not be read (empty if read)."""
    nothing = np.zeros((0, 0, 1), np.int32)
    if isinstance(data, np.ndarray):  # run eagerly, numpy_function passes bytes in a 0-d object array
        data = data.item()
    stream = io.BytesIO(data)
    try:
        with Image.open(stream) as image:
            if image.mode != "P":
                return nothing, f"PIL reads it as mode {image.mode}, not P".encode()
            return np.asarray(image, np.int32)[:, :, None], b""
    except (OSError, ValueError, SyntaxError) as error:  # what PIL raises for damaged files
        # PIL names the stream it read; the caller names the file instead.
        return nothing, f"PIL: {str(error).replace(repr(stream), 'the data')}".encode()


def _format_name(data):
    """What `data` is, for messages: "a JPEG", "a BMP" or "a GIF" (the formats read_encoded lets through besides PNG)."""
    signature_names = [(_JPEG_SIGNATURE, "a JPEG"), (_OTHER_SIGNATURES[0], "a BMP"), (_OTHER_SIGNATURES[1], "a GIF")]
    name = tf.constant("an image")
    for signature, signature_name in signature_names:
        name = tf.where(tf.equal(tf.strings.substr(data, 0, len(signature)), signature), signature_name, name)
    return name


def _grey_of_color(rgb, path, name):
    """The first channel of `rgb` (`[height, width, 3]`), failing, naming the file, where the channels differ."""
    rgb = tf.cast(rgb, tf.int32)
    differs = tf.reduce_any(tf.not_equal(rgb, rgb[:, :, :1]), axis=-1)
    any_differs = tf.reduce_any(differs)

    def first_color():
        y, x = tf.unstack(tf.where(differs)[0])
        color = tf.strings.reduce_join(tf.strings.as_string(rgb[y, x]), separator=",")
        return tf.strings.join(["(", color, ") at x=", tf.strings.as_string(x), ", y=", tf.strings.as_string(y)])

    example = tf.cond(any_differs, first_color, lambda: tf.constant(""))
    check = fail_if(
        any_differs,
        path,
        ": the label holds colours (",
        name,
        " whose channels differ, e.g. ",
        example,
        f"); {_LABEL_FORMATS}",
    )
    with tf.control_dependencies([check]):
        return tf.identity(rgb[:, :, :1])


def index_table(num_classes, ignored=(IGNORE_LABEL,)):
    """A 256-long table for `map_label_values`: 0..num_classes-1 kept, `ignored` values to 255, the rest invalid."""
    return [i if i < num_classes else IGNORE_LABEL if i in ignored else -1 for i in range(256)]


def map_label_values(raw, table, label_path, valid_values):
    """Maps raw label values through `table` (a list, -1 for invalid), failing on invalid values.

    Args:
        raw: integer `[height, width, 1]` raw label values; values outside 0..255 are invalid.
        table: list of int, 256 long. Raw value -> class index, 255 (ignore) or -1 (invalid).
        label_path: string tensor. The label's file, for the error message.
        valid_values: str. What valid values are, for the error message.

    Returns:
        int32 `[height, width, 1]` labels.
    """
    raw = tf.cast(raw, tf.int32)
    in_table = tf.logical_and(raw >= 0, raw < len(table))
    mapped = tf.where(in_table, tf.gather(tf.constant(table, tf.int32), tf.clip_by_value(raw, 0, len(table) - 1)), -1)
    invalid = mapped < 0
    first_invalid = tf.cond(tf.reduce_any(invalid), lambda: tf.boolean_mask(raw, invalid)[0], lambda: tf.constant(-1))
    check = fail_if(
        tf.reduce_any(invalid), label_path, ": label value ", first_invalid, f" is not valid; expected {valid_values}"
    )
    with tf.control_dependencies([check]):
        return tf.identity(mapped)


# A colour table's mark for colours beyond the tolerance of every reference colour.
_FAR = 254


@functools.lru_cache(maxsize=4)
def color_table(colors, classes, tolerance):
    """The class of every 24-bit colour: uint8 `[2**24]`, indexed by `r << 16 | g << 8 | b`.

    Each colour takes the class of its nearest reference colour (Euclidean RGB distance; of
    equally near ones, the first), or `_FAR` if that is farther than `tolerance`. Built once
    per process (about a second): JPEG labels then cost a lookup per pixel, not a distance to
    every reference colour.

    Args: `colors` and `classes` as tuples, `tolerance` as for `map_label_colors`.
    """
    if any(value == _FAR for value in classes):
        raise ValueError(f"Class value {_FAR} is reserved for colours far from every reference colour.")
    reference = np.asarray(colors, np.int32)
    values = np.asarray(classes, np.uint8)
    channel = np.arange(256, dtype=np.int32)[:, None]
    red, green, blue = ((channel - reference[None, :, c]) ** 2 for c in range(3))
    table = np.empty(1 << 24, np.uint8)
    for r in range(256):
        distances = red[r] + green[:, None, :] + blue[None, :, :]  # [green, blue, reference]
        nearest = distances.argmin(-1)
        closest = np.take_along_axis(distances, nearest[..., None], -1)[..., 0]
        table[r << 16 : (r + 1) << 16] = np.where(closest > tolerance**2, _FAR, values[nearest]).ravel()
    return table


def map_label_colors(rgb, colors, classes, label_path, tolerance, unknown_is_ignored):
    """Maps each pixel of a colour-coded label to the class of the nearest colour (`color_table`).

    Args:
        rgb: uint8 `[height, width, 3]` colour-coded label.
        colors: list of (r, g, b). Reference colours.
        classes: list of int. The class (or 255) of each reference colour.
        label_path: string tensor. The label's file, for the error message.
        tolerance: float. The largest Euclidean RGB distance to the nearest colour that
            still counts as that colour (JPEG noise).
        unknown_is_ignored: bool. Pixels farther from every colour become 255 if True;
            if False they are an error naming the file.

    Returns:
        int32 `[height, width, 1]` labels.
    """
    table = color_table(tuple(tuple(int(c) for c in color) for color in colors), tuple(classes), float(tolerance))
    channels = tf.cast(rgb, tf.int32)
    packed = channels[..., 0] * 65536 + channels[..., 1] * 256 + channels[..., 2]
    labels = tf.cast(tf.gather(tf.constant(table), packed), tf.int32)
    far = labels == _FAR
    if unknown_is_ignored:
        return tf.where(far, IGNORE_LABEL, labels)[..., None]
    first_far = tf.cond(
        tf.reduce_any(far),
        lambda: tf.strings.reduce_join(tf.strings.as_string(tf.boolean_mask(rgb, far)[0]), separator=","),
        lambda: tf.constant(""),
    )
    check = fail_if(tf.reduce_any(far), label_path, ": colour (", first_far, ") is not in the class colours")
    with tf.control_dependencies([check]):
        return tf.identity(labels[..., None])


def check_same_size(image, label, image_path, label_path):
    """Fails, naming both files, when an image and its label differ in height or width."""
    image_size, label_size = tf.shape(image)[:2], tf.shape(label)[:2]
    check = fail_if(
        tf.reduce_any(image_size != label_size),
        label_path,
        ": label is ",
        _size_string(label_size),
        " but its image ",
        image_path,
        " is ",
        _size_string(image_size),
    )
    with tf.control_dependencies([check]):
        return tf.identity(image), tf.identity(label)


def _size_string(size):
    return tf.strings.join([tf.strings.as_string(size[1]), "x", tf.strings.as_string(size[0])])


def index_pair_decoder(table, valid_values):
    """Returns `decode_pair(image_path, label_path)` for labels stored as class indices.

    Args: `table` and `valid_values` as for `map_label_values`.
    """

    def decode_pair(image_path, label_path):
        image = read_image(image_path)
        label = map_label_values(read_index_label(label_path), table, label_path, valid_values)
        return check_same_size(image, label, image_path, label_path)

    return decode_pair


def color_pair_decoder(colors, classes, tolerance, unknown_is_ignored):
    """Returns `decode_pair(image_path, label_path)` for colour-coded labels.

    Args: as for `map_label_colors`.
    """

    def decode_pair(image_path, label_path):
        image = read_image(image_path)
        label = map_label_colors(read_image(label_path), colors, classes, label_path, tolerance, unknown_is_ignored)
        return check_same_size(image, label, image_path, label_path)

    return decode_pair
