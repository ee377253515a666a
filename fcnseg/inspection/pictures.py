"""The pictures of an inspection: how often each class occurs, and a grid of labelled samples."""

import cv2
import numpy as np

from fcnseg import files
from fcnseg.overlay import legend, overlay

_SAMPLE_HEIGHT = 160
_COLUMNS = 4


def draw_class_frequency(class_names, colors, fractions, path):
    """A bar chart, log scale, of each class's share of the labelled pixels, in the classes' colours."""
    import matplotlib  # noqa: PLC0415 - only the pictures need it

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    figure, axes = pyplot.subplots(figsize=(max(6, 0.45 * len(class_names) + 2), 4), dpi=120)
    shown = [max(fraction, 1e-7) for fraction in fractions]  # a class never seen still gets a sliver
    axes.bar(range(len(class_names)), shown, color=[np.asarray(c) / 255 for c in colors], edgecolor="black")
    axes.set_yscale("log")
    axes.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("share of labelled pixels")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    with files.atomic_path(path) as temporary:
        figure.savefig(temporary)
    pyplot.close(figure)


def draw_samples(examples, class_names, colors, path):
    """A grid of images with their labels blended over them, and the legend below; `examples`
    is a list of (image uint8 [H, W, 3], label int [H, W], caption)."""
    tiles = []
    for image, label, caption in examples:
        drawn = overlay(image, label, colors, alpha=0.6)
        width = round(drawn.shape[1] * _SAMPLE_HEIGHT / drawn.shape[0])
        tile = cv2.resize(drawn, (width, _SAMPLE_HEIGHT), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, caption, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    width = max(tile.shape[1] for tile in tiles)
    tiles = [np.pad(tile, [(0, 0), (0, width - tile.shape[1]), (0, 0)], constant_values=255) for tile in tiles]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % _COLUMNS)
    rows = [np.concatenate(tiles[i : i + _COLUMNS], axis=1) for i in range(0, len(tiles), _COLUMNS)]
    grid = np.concatenate(rows, axis=0)
    key = legend(class_names, colors)
    canvas = np.full((grid.shape[0] + key.shape[0], max(grid.shape[1], key.shape[1]), 3), 255, np.uint8)
    canvas[: grid.shape[0], : grid.shape[1]] = grid
    canvas[grid.shape[0] :, : key.shape[1]] = key
    with files.atomic_path(path) as temporary:
        if not cv2.imwrite(str(temporary), canvas[..., ::-1]):
            raise OSError(f"{path}: could not be written.")
