"""Reading images for inference as training reads them, and writing pictures atomically.

Inference refuses exactly the files training refuses (empty, not a PNG, JPEG, BMP or GIF,
cut short: see `fcnseg.data.decode`), instead of OpenCV's habit of decoding a cut-short
JPEG with its missing part grey.
"""

import cv2
import numpy as np
import tensorflow as tf

from fcnseg import files
from fcnseg.data import decode
from fcnseg.errors import error_line


def read_image(path):
    """The RGB pixels of an image file, uint8 `[height, width, 3]`; ValueError naming the file if it is bad."""
    try:
        return decode.read_image(tf.constant(str(path))).numpy()
    except tf.errors.OpError as error:
        raise ValueError(error_line(error)) from None


def write_image(path, picture):
    """Writes an RGB picture `[height, width, 3]` or a single-channel one `[height, width]` to `path`
    (its suffix chooses the format), atomically; OSError naming the file if it cannot be written."""
    pixels = np.ascontiguousarray(picture[..., ::-1] if picture.ndim == 3 else picture)
    with files.atomic_path(path) as temporary:
        if not cv2.imwrite(str(temporary), pixels):
            raise OSError(f"{path}: could not write the picture.")
    return path
