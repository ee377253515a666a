"""The table of all 2^24 colours gives each colour the class a distance to every reference colour gives."""

import numpy as np
import tensorflow as tf

from fcnseg.data import cityscapes, cityscapes_pairs
from fcnseg.data.decode import IGNORE_LABEL, map_label_colors


def _nearest_by_distance(rgb, colors, classes, tolerance):
    """The direct computation the table replaces: the nearest reference colour, or ignored if too far."""
    distances = ((rgb[..., None, :].astype(np.int64) - np.asarray(colors)[None, None]) ** 2).sum(-1)
    nearest = distances.argmin(-1)
    far = np.take_along_axis(distances, nearest[..., None], -1)[..., 0] > tolerance**2
    return np.where(far, IGNORE_LABEL, np.asarray(classes)[nearest])


def test_the_colour_table_agrees_with_the_distance_to_every_colour_on_every_pixel():
    colors, classes = cityscapes.class_colors(None)
    rng = np.random.default_rng(0)
    tolerance = cityscapes_pairs.COLOR_TOLERANCE
    # Random colours (mostly far from all: ignored), and reference colours with JPEG-like noise
    # (mostly near one), so both branches and the ties between near colours are checked.
    noisy = np.asarray(colors)[rng.integers(len(colors), size=(128, 64))] + rng.integers(-40, 41, size=(128, 64, 3))
    rgb = np.concatenate([rng.integers(0, 256, size=(128, 64, 3)), np.clip(noisy, 0, 255)]).astype(np.uint8)
    mapped = map_label_colors(tf.constant(rgb), colors, classes, tf.constant("x.png"), tolerance, True)
    expected = _nearest_by_distance(rgb, colors, classes, tolerance)
    np.testing.assert_array_equal(mapped.numpy()[..., 0], expected)
    assert (expected == IGNORE_LABEL).mean() > 0.1 and (expected != IGNORE_LABEL).mean() > 0.4
