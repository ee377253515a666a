"""Drawing class masks: a colour per class, the mask blended over its image, and a legend."""

import cv2
import numpy as np


def colorize(mask, colors):
    """The RGB picture of a class-index mask; indices without a colour (such as 255, or -1) are black.

    Args:
        mask: int array `[..., H, W]` of class indices.
        colors: sequence of (r, g, b), one per class.

    Returns:
        uint8 array `[..., H, W, 3]`.
    """
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colors)] = np.asarray(colors, np.uint8)
    mask = np.asarray(mask)
    return palette[np.where((mask < 0) | (mask > 255), 255, mask).astype(np.uint8)]


def overlay(image, mask, colors, alpha=0.5):
    """The image with its coloured mask blended over it: (1 - alpha) * image + alpha * colours.

    Args:
        image: uint8 or float array `[..., H, W, 3]` of RGB pixels in 0..255.
        mask: int array `[..., H, W]`.
        colors: sequence of (r, g, b), one per class.
        alpha: float in [0, 1]. The weight of the mask's colours.

    Returns:
        uint8 array `[..., H, W, 3]`.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha} is not valid; expected a value in [0, 1].")
    blend = (1 - alpha) * np.asarray(image, np.float32) + alpha * colorize(mask, colors).astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def side_by_side(image, mask, colors):
    """The image and its coloured mask next to each other: uint8 `[..., H, 2 * W, 3]`."""
    return np.concatenate([np.asarray(image, np.uint8), colorize(mask, colors)], axis=-2)


def legend(class_names, colors, row_height=24):
    """A picture of each class's colour swatch and name, one class a row, on white: uint8 RGB."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, row_height / 40
    text_width = max(cv2.getTextSize(name, font, scale, 1)[0][0] for name in class_names)
    picture = np.full((row_height * len(class_names) + 8, 2 * row_height + text_width + 16, 3), 255, np.uint8)
    for row, (name, color) in enumerate(zip(class_names, colors)):
        top = 4 + row * row_height
        cv2.rectangle(
            picture, (4, top + 2), (4 + row_height + 8, top + row_height - 3), tuple(int(c) for c in color), -1
        )
        cv2.rectangle(picture, (4, top + 2), (4 + row_height + 8, top + row_height - 3), (0, 0, 0), 1)
        baseline = top + row_height // 2 + int(8 * scale)
        cv2.putText(picture, name, (row_height + 20, baseline), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return picture
