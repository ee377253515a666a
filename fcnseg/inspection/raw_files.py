"""What a dataset's files hold before any reader maps them: readable or not, size, and a label's
storage format and raw values (index values, or colours)."""

import dataclasses
from typing import Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

# Raw label values are counted up to 16 bits; colours are packed as r << 16 | g << 8 | b.
_INDEX_MODES = {"L": "grey 8-bit", "I;16": "grey 16-bit", "I": "grey 16-bit", "P": "palette", "1": "grey 1-bit"}


@dataclasses.dataclass
class RawFile:
    """One image or label file as it is stored.

    Args:
        path: str.
        error: str or None. Why it cannot be read (missing, not an image, cut short).
        size: (height, width) or None.
        label_format: str or None. For labels: e.g. "PNG grey 8-bit", "PNG palette", "PNG RGB",
            "JPEG RGB".
        values: dict int -> int or None. For index labels (and colour ones whose channels are
            equal): pixel count of each raw value.
        colors: dict int -> int or None. For colour labels: pixel count of each packed colour.
    """

    path: str
    error: Optional[str] = None
    size: Optional[tuple] = None
    label_format: Optional[str] = None
    values: Optional[dict] = None
    colors: Optional[dict] = None


def read_image_file(path):
    """The `RawFile` of an image: its header read, so its format and size (the reader decodes it)."""
    try:
        with Image.open(path) as image:
            return RawFile(str(path), size=(image.height, image.width))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        return RawFile(str(path), error=_reason(error))


def read_label_file(path, crop=None, count_colors=True):
    """The `RawFile` of a label: its format and its raw values or colours.

    Args:
        path: str or Path.
        crop: "right_half" to read the label drawn in the right half of the file (the Cityscapes
            pairs), or None.
        count_colors: bool. Count a colour label's colours (a JPEG's are thousands); False
            where the reader reads colours itself and nothing needs them: then a colour file's
            header alone is read (format and size), and the reader decodes it.
    """
    try:
        with Image.open(path) as image:
            file_format, mode = image.format or "image", image.mode
            color_format = f"{file_format} {'RGB' if mode in ('RGB', 'RGBA') else mode}"
            if not count_colors and mode not in _INDEX_MODES:
                width = image.width // 2 if crop == "right_half" else image.width
                return RawFile(str(path), size=(image.height, width), label_format=color_format)
            image.load()
            pixels = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        return RawFile(str(path), error=_reason(error))
    if crop == "right_half":
        pixels = pixels[:, pixels.shape[1] // 2 :]
    size = pixels.shape[:2]
    if mode in _INDEX_MODES:
        return RawFile(str(path), size=size, label_format=f"{file_format} {_INDEX_MODES[mode]}", values=_counts(pixels))
    rgb = pixels[..., :3].astype(np.int64)
    if pixels.ndim == 3 and (rgb == rgb[..., :1]).all():
        return RawFile(str(path), size=size, label_format=f"{color_format} (grey)", values=_counts(rgb[..., 0]))
    packed = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    return RawFile(str(path), size=size, label_format=color_format, colors=_counts(packed))


def pack(color):
    """An (r, g, b) colour as the int `RawFile.colors` keys it by."""
    r, g, b = color
    return int(r) << 16 | int(g) << 8 | int(b)


def unpack(packed):
    return (packed >> 16 & 255, packed >> 8 & 255, packed & 255)


def _counts(array):
    values, counts = np.unique(np.asarray(array).ravel(), return_counts=True)
    return {int(value): int(count) for value, count in zip(values, counts)}


def _reason(error):
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, UnidentifiedImageError):
        return "not an image"
    return text
