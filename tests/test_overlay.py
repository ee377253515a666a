"""Colour masks and overlays."""

import numpy as np
import pytest

from fcnseg.overlay import colorize, overlay

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_colorize_paints_each_class_and_leaves_255_black():
    mask = np.array([[0, 1], [2, 255], [-1, 3]])
    np.testing.assert_array_equal(
        colorize(mask, COLORS), [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]]
    )


def test_overlay_blends_image_and_colours():
    image = np.full((2, 2, 3), 100, np.uint8)
    blended = overlay(image, np.zeros((2, 2), int), COLORS, alpha=0.25)
    np.testing.assert_array_equal(blended[0, 0], [round(0.75 * 100 + 0.25 * 255), 75, 75])
    with pytest.raises(ValueError, match="alpha=1.5"):
        overlay(image, np.zeros((2, 2), int), COLORS, alpha=1.5)
