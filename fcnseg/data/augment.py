"""Random augmentation applied to an image and its labels together.

Labels are only ever resized with nearest neighbour, and padding gives them the ignore
label, so no loss or metric sees a made-up class. Randomness comes from stateless ops
seeded per example, so a seeded pipeline yields the same crops every run.
"""

import dataclasses
import math

import tensorflow as tf

from fcnseg.data.specs import IGNORE_LABEL


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes made to each training example.

    Args:
        min_scale: float. Smallest random rescaling of the image. Defaults to 0.5.
        max_scale: float. Largest random rescaling. Defaults to 2.0.
        flip: bool. Mirror left-right half of the time. Defaults to True.
        brightness: float. Largest brightness shift, in pixel values 0..255. Defaults to 25.
        contrast: float. Contrast factor drawn from [1 - contrast, 1 + contrast]. Defaults to 0.2.
        saturation: float. Saturation factor drawn from [1 - saturation, 1 + saturation]. Defaults to 0.2.
        hue: float. Largest hue rotation, as a fraction of the colour wheel. Defaults to 0.05.
    """

    min_scale: float = 0.5
    max_scale: float = 2.0
    flip: bool = True
    brightness: float = 25.0
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.05

    def __post_init__(self):
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(
                f"--min_scale={self.min_scale} --max_scale={self.max_scale} are not valid; expected "
                "0 < --min_scale <= --max_scale."
            )
        for name in ("brightness", "contrast", "saturation", "hue"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name}={getattr(self, name)} is not valid; expected a value of at least 0.")
        for name, limit, below in (("contrast", 1, True), ("saturation", 1, True), ("hue", 0.5, False)):
            value = getattr(self, name)
            if value >= limit if below else value > limit:
                bound = f"below {limit}" if below else f"at most {limit}"
                raise ValueError(f"--{name}={value} is not valid; expected a value {bound}.")


def random_crop(image, label, seed, crop_size, augmentation):
    """Rescales by a random factor and crops `crop_size` at a random place, padding labels with 255.

    The crop window is chosen in the original image and only it is resized, which costs
    the same at every scale.

    Args:
        image: uint8 or float `[H, W, 3]`.
        label: int32 `[H, W, 1]`.
        seed: int32 `[2]`. Stateless seed of this example.
        crop_size: (height, width) of the result.
        augmentation: Augmentation.

    Returns:
        (image float32 [h, w, 3] in 0..255, label int32 [h, w, 1]).
    """
    scale_seed, y_seed, x_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    crop = tf.constant(crop_size, tf.float32)
    scale = tf.random.stateless_uniform([], scale_seed, augmentation.min_scale, augmentation.max_scale)
    window = tf.cast(tf.math.ceil(crop / scale), tf.int32)
    image, label = _pad_to_at_least(image, label, window)
    room = tf.shape(image)[:2] - window + 1
    top = tf.random.stateless_uniform([], y_seed, 0, room[0], tf.int32)
    left = tf.random.stateless_uniform([], x_seed, 0, room[1], tf.int32)
    image = image[top : top + window[0], left : left + window[1]]
    label = label[top : top + window[0], left : left + window[1]]
    image = tf.image.resize(tf.cast(image, tf.float32), crop_size, "bilinear")
    label = tf.image.resize(label, crop_size, "nearest")
    if augmentation.flip:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    return tf.ensure_shape(image, [*crop_size, 3]), tf.ensure_shape(label, [*crop_size, 1])


def _pad_to_at_least(image, label, size):
    missing = tf.maximum(size - tf.shape(image)[:2], 0)
    paddings = [[missing[0] // 2, missing[0] - missing[0] // 2], [missing[1] // 2, missing[1] - missing[1] // 2], [0, 0]]
    return tf.pad(image, paddings), tf.pad(label, paddings, constant_values=IGNORE_LABEL)


def photometric(image, seed, augmentation):
    """Random brightness, contrast, saturation and hue on a float image in 0..255.

    Saturation blends each pixel with its luma and hue rotates its chroma in YIQ space
    (a linear stand-in for a shift of HSV hue), so both are one 3x3 colour matrix `M`.
    Brightness adds `b` and contrast scales each channel's distance to its mean `m` by
    `c`, so all four together are one affine map per image,
    `M (c x + (1 - c) m + b) = c M x + M ((1 - c) m + b)`: one pass over the pixels
    after the channel means, instead of one per adjustment.
    """
    brightness_seed, contrast_seed, saturation_seed, hue_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    a = augmentation
    if not (a.brightness or a.contrast or a.saturation or a.hue):
        return image
    brightness = tf.random.stateless_uniform([], brightness_seed, -a.brightness, a.brightness)
    contrast = tf.random.stateless_uniform([], contrast_seed, 1 - a.contrast, 1 + a.contrast)
    saturation = tf.random.stateless_uniform([], saturation_seed, 1 - a.saturation, 1 + a.saturation)
    angle = tf.random.stateless_uniform([], hue_seed, -a.hue, a.hue) * 2 * math.pi
    color = _color_matrix(saturation, angle)
    offset = (1 - contrast) * tf.reduce_mean(image, axis=[0, 1]) + brightness
    image = tf.einsum("hwc,dc->hwd", image, contrast * color) + tf.linalg.matvec(color, offset)
    return tf.clip_by_value(image, 0.0, 255.0)


_LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _color_matrix(saturation, angle):
    """The 3x3 matrix that scales saturation by `saturation` and rotates hue by `angle` radians."""
    luma = tf.constant([_LUMA] * 3)
    saturate = saturation * tf.eye(3) + (1 - saturation) * luma
    to_yiq = tf.constant(_RGB_TO_YIQ)
    cos, sin = tf.cos(angle), tf.sin(angle)
    rotate = tf.stack([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    return tf.linalg.inv(to_yiq) @ rotate @ to_yiq @ saturate


def augment(image, label, seed, crop_size, augmentation):
    """Random scale, crop and flip of image and label together, then photometric jitter of the image."""
    geometry_seed, color_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image, label = random_crop(image, label, geometry_seed, crop_size, augmentation)
    return photometric(image, color_seed, augmentation), label
