"""Drawing class masks: a colour per class, and the mask blended over its image."""

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
