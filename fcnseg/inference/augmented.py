"""Test-time augmentation: a `Segmenter` that averages a model's probabilities over scales and a flip.

Multi-scale and flip evaluation as the segmentation papers report it beside single-scale
(mmsegmentation's "ms+flip"): each batch the model is given is also run resized by every
scale, and mirrored left to right, and the softmax probabilities, brought back to the batch's
size, are averaged. Scales are relative to the size the model runs at: wrapped in the
tiling of `fcnseg.inference.tiling`, that is the `--resize` size (or the recorded frame
size), each `--window`, or the padded image. One scale runs at a time, so memory holds one
scaled batch and the running sum.
"""

import numpy as np

from fcnseg.conventions import SIZE_MULTIPLE
from fcnseg.inference.segmenter import Segmenter
from fcnseg.inference.tiling import resize_bilinear


class AugmentedSegmenter(Segmenter):
    """`segmenter` run at each of `scales`, and mirrored too with `flip`; probabilities averaged.

    Args:
        segmenter: Segmenter. The model.
        scales: tuple of float. Sizes relative to each batch it is given; 1 is the batch as
            it is. Each scaled side is rounded to a multiple of 32.
        flip: bool. Also run every scale mirrored left to right (and mirror the result back).
    """

    def __init__(self, segmenter, scales=(1.0,), flip=False):
        scales = tuple(float(scale) for scale in scales)
        if not scales or any(not 0 < scale <= 4 for scale in scales):
            raise ValueError(f"--tta_scales={_text(scales)} is not valid; expected scales in (0, 4], e.g. 0.75,1,1.25.")
        if segmenter.input_size is not None and scales != (1.0,):
            raise ValueError(
                f"--tta_scales={_text(scales)} needs a model that takes any size; this one takes "
                f"{segmenter.input_size[0]}x{segmenter.input_size[1]} images only (--tta_flip works with it)."
            )
        super().__init__(segmenter.num_classes, segmenter.input_size, segmenter.spec)
        self.segmenter, self.scales, self.flip = segmenter, scales, bool(flip)

    def __call__(self, images):
        images = np.asarray(images)
        size = images.shape[1:3]
        total = np.zeros((*images.shape[:3], self.num_classes), np.float32)
        for scale in self.scales:
            scaled_size = tuple(
                max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE) for side in size
            )
            scaled = images if scaled_size == size else resize_bilinear(images, scaled_size).round().clip(0, 255)
            scaled = scaled.astype(np.uint8)
            for mirrored in (False, True) if self.flip else (False,):
                given = scaled[:, :, ::-1] if mirrored else scaled
                probabilities = self.segmenter(np.ascontiguousarray(given))
                probabilities = probabilities[:, :, ::-1] if mirrored else probabilities
                total += probabilities if scaled_size == size else resize_bilinear(probabilities, size)
        return total / (len(self.scales) * (2 if self.flip else 1))

    def describe(self):
        """E.g. "scales 0.75,1,1.25 and flip"."""
        return f"scales {_text(self.scales)}" + (" and flip" if self.flip else "")


def _text(scales):
    return ",".join(f"{scale:g}" for scale in scales)
