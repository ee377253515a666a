"""In-graph reading of image and label files, with checks that name the file at fault.

TensorFlow's decoders fail with messages that do not say which file was bad, so every
file is checked before it is decoded (empty, not an image, cut short) and every pair
after (sizes differ, label values out of range). A failed check raises
`tf.errors.InvalidArgumentError` whose message holds one line naming the file;
`fcnseg.errors.error_line` extracts it.
"""

import tensorflow as tf

from fcnseg.data.specs import IGNORE_LABEL

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8"
_OTHER_SIGNATURES = (b"BM", b"GIF8")  # BMP and GIF: no end marker to check


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
    """Reads a single-channel label file holding class indices as uint8 `[height, width, 1]`."""
    label = tf.io.decode_image(read_encoded(path), channels=1, expand_animations=False)
    label.set_shape([None, None, 1])
    return label


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


def map_label_colors(rgb, colors, classes, label_path, tolerance, unknown_is_ignored):
    """Maps each pixel of a colour-coded label to the class of the nearest colour.

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
    pixels = tf.cast(rgb, tf.float32)[:, :, None, :]
    distances = tf.reduce_sum(tf.square(pixels - tf.constant(colors, tf.float32)), axis=-1)
    nearest = tf.argmin(distances, axis=-1, output_type=tf.int32)
    labels = tf.gather(tf.constant(classes, tf.int32), nearest)
    far = tf.reduce_min(distances, axis=-1) > tolerance**2
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
