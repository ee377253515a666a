"""Procedurally drawn road scenes: the package's embedded default dataset.

`render_scene(seed, height, width)` draws a perspective road scene and its label map
together, so occlusion is always the same in both. Every class has its own colour
range and texture, varied per scene and per object (lighting, colour jitter, sizes,
positions), so that a small network learns the scenes in minutes on a CPU while a
per-pixel colour lookup does not solve them.

The layout lives in coordinates relative to the image size and all random choices are
made in those coordinates before any pixel noise is drawn, so a scene rendered at twice
the size has the same layout.
"""

import functools
import numbers

import cv2
import numpy as np
import tensorflow as tf

from fcnseg.data.source import check_split, mapped_source
from fcnseg.data.specs import DatasetSpec

__all__ = ["CLASS_NAMES", "COLORS", "SPEC", "render_scene", "source", "spec"]

CLASS_NAMES = ("sky", "building", "road", "sidewalk", "lane_marking", "vegetation", "car", "pedestrian")

# Cityscapes colours where Cityscapes has the class ("person" for pedestrian).
COLORS = (
    (70, 130, 180),
    (70, 70, 70),
    (128, 64, 128),
    (244, 35, 232),
    (255, 255, 255),
    (107, 142, 35),
    (0, 0, 142),
    (220, 20, 60),
)

SPEC = DatasetSpec("synthetic", CLASS_NAMES, COLORS)
SPLITS = ("train", "val", "test")
DEFAULT_NUM_IMAGES = {"train": 512, "val": 64, "test": 64}
_SEEDS_PER_SPLIT = 10**6  # splits draw from disjoint seed ranges

_SKY, _BUILDING, _ROAD, _SIDEWALK, _LANE_MARKING, _VEGETATION, _CAR, _PEDESTRIAN = range(len(CLASS_NAMES))

# Per-class texture: the standard deviation of per-pixel grain and the amplitude of
# blotchy low-frequency noise (foliage, worn asphalt), in 0..255 pixel units.
_GRAIN = np.array([2, 5, 7, 5, 5, 9, 4, 4], np.float32)
_BLOTCH = np.array([4, 6, 8, 7, 4, 24, 2, 2], np.float32)

_MIN_SIZE = 32

# cv2 drawing takes fixed-point coordinates with this many fractional bits, which keeps
# shapes at the same relative place whatever the image size.
_SHIFT = 4

# Lane marks nearer the horizon than this would be slivers a pixel or two long at
# 128x256, so they are left out; and none is drawn narrower than this fraction of the
# image width (three pixels at 128x256).
_MIN_LANE_NEARNESS = 0.25
_MIN_LANE_WIDTH = 0.012

_CAR_PAINTS = (
    (170, 25, 30),
    (30, 60, 160),
    (25, 30, 75),
    (215, 170, 30),
    (225, 225, 230),
    (150, 152, 160),
    (35, 35, 40),
    (120, 30, 60),
)
_SHIRTS = (
    (190, 40, 40),
    (40, 70, 170),
    (230, 200, 60),
    (120, 50, 140),
    (235, 235, 235),
    (40, 40, 45),
    (230, 120, 40),
    (60, 150, 150),
)
_TROUSERS = ((40, 50, 90), (30, 30, 35), (150, 130, 90), (90, 90, 95))
_SKIN = ((235, 195, 165), (200, 150, 110), (140, 95, 65), (95, 65, 45))
_HAIR = ((30, 25, 20), (90, 60, 30), (170, 140, 90))


def render_scene(seed, height, width):
    """Draws one road scene and its per-pixel class labels.

    Args:
        seed: int. Seeds `np.random.default_rng`; the same seed and size always give
            the same scene.
        height: int. Image height in pixels, at least 32.
        width: int. Image width in pixels, at least 32.

    Returns:
        `(image, label)`: uint8 RGB `[height, width, 3]` and uint8 class indices
        `[height, width]` into `CLASS_NAMES`, every pixel labelled.
    """
    _check_size("height", height)
    _check_size("width", width)
    height, width = int(height), int(width)
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.uint8)
    label = np.empty((height, width), np.uint8)
    ground = _Ground(
        height,
        width,
        horizon=rng.uniform(0.36, 0.48),
        vanish_x=rng.uniform(0.38, 0.62),
        offset=rng.uniform(-0.3, 0.3),
        half_width=rng.uniform(0.34, 0.5),
    )
    sidewalks = rng.uniform(0.35, 1.0, size=2)
    lanes = int(rng.choice([2, 3, 4], p=[0.4, 0.4, 0.2]))

    _draw_sky(rng, image, label, ground)
    _draw_buildings(rng, image, label, ground)
    _draw_ground(rng, image, label, ground, sidewalks)
    _draw_lane_marks(rng, image, label, ground, lanes)
    _draw_bushes(rng, image, label, ground)
    objects = _trees(rng, ground, sidewalks) + _cars(rng, ground, lanes) + _pedestrians(rng, ground, sidewalks)
    # Painter's algorithm: far objects first, so near ones occlude them.
    for _, draw in sorted(objects, key=lambda item: item[0]):
        draw(image, label)
    return _add_light_and_texture(rng, image, label), label


def _check_size(name, value):
    """Raises ValueError unless `value` is an int of at least `_MIN_SIZE`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < _MIN_SIZE:
        raise ValueError(f"{name}={value!r} is not valid; expected an int of at least {_MIN_SIZE}.")


class _Ground:
    """Maps road coordinates on the flat ground plane to pixels.

    `u` runs across the road, -1 and 1 at its edges; `t` is nearness, 0 at the
    horizon and 1 at the bottom row (inverse distance). Road units also size objects
    standing on the ground, so everything shrinks towards the horizon together.

    Args:
        height: int. Image height in pixels.
        width: int. Image width in pixels.
        horizon: float. Horizon row as a fraction of the height.
        vanish_x: float. Vanishing point column as a fraction of the width.
        offset: float. The camera's sideways offset from the road centre, in road units.
        half_width: float. Half the road width at the bottom row, as a fraction of the width.
    """

    def __init__(self, height, width, horizon, vanish_x, offset, half_width):
        self.height = height
        self.width = width
        self.horizon = horizon
        self.vanish_x = vanish_x
        self.offset = offset
        self.half_width = half_width

    @property
    def horizon_y(self):
        """The horizon row in pixels (a float)."""
        return self.horizon * self.height

    def point(self, u, t):
        """Returns the pixel `(x, y)` of the ground point at road coordinates `(u, t)`."""
        x = self.vanish_x + (u + self.offset) * self.half_width * t
        return self.width * x, self.height * (self.horizon + t * (1.0 - self.horizon))

    def scale(self, t):
        """Returns how many pixels one road unit spans at nearness `t`."""
        return self.half_width * t * self.width

    def nearness_in_view(self, u, t, margin):
        """Returns `t`, reduced if need be so that `u` stays `margin` (of the width) inside the image."""
        room = (1.0 - margin - self.vanish_x) if u + self.offset > 0 else (self.vanish_x - margin)
        spread = abs(u + self.offset) * self.half_width
        return min(t, room / spread) if spread > 0 else t


def _fixed(points):
    """Converts pixel coordinates to cv2's fixed-point int32."""
    return np.round(np.asarray(points, np.float64) * (1 << _SHIFT)).astype(np.int32)


def _fill(image, label, points, color, cls):
    """Fills the polygon `points` (pixel `(x, y)` pairs) in the image and the label."""
    polygon = [_fixed(points).reshape(-1, 2)]
    cv2.fillPoly(image, polygon, color, lineType=cv2.LINE_8, shift=_SHIFT)
    cv2.fillPoly(label, polygon, cls, lineType=cv2.LINE_8, shift=_SHIFT)


def _box(image, label, x0, y0, x1, y1, color, cls):
    """Fills the axis-aligned box from `(x0, y0)` to `(x1, y1)` in the image and the label."""
    _fill(image, label, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color, cls)


def _ellipse(image, label, center, axes, color, cls, start=0, end=360):
    """Fills an upright ellipse (or the sector from `start` to `end` degrees) in the image and the label."""
    center, axes = tuple(_fixed(center).tolist()), tuple(_fixed(axes).tolist())
    cv2.ellipse(image, center, axes, 0, start, end, color, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
    cv2.ellipse(label, center, axes, 0, start, end, cls, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)


def _jitter(rng, color, brightness=0.12, spread=12):
    """Returns `color` made lighter or darker and shifted per channel, as ints for cv2."""
    level = rng.uniform(1 - brightness, 1 + brightness)
    varied = np.asarray(color, np.float64) * level + rng.uniform(-spread, spread, 3)
    return tuple(int(channel) for channel in np.clip(varied, 0, 255))


def _pick(rng, palette):
    """Returns a jittered colour from `palette`."""
    return _jitter(rng, palette[rng.integers(len(palette))])


def _draw_sky(rng, image, label, ground):
    """Fills the image with a blue sky, darker at the top; the ground covers its lower part."""
    top = np.array(_jitter(rng, (65, 115, 185), spread=15), np.float32)
    bottom = np.array(_jitter(rng, (165, 195, 230), spread=12), np.float32)
    rows = np.clip(np.arange(ground.height, dtype=np.float32) / max(ground.horizon_y, 1.0), 0, 1)
    image[:] = np.round(top + (bottom - top) * rows[:, None, None] ** 0.8).astype(np.uint8)
    label[:] = _SKY


def _draw_buildings(rng, image, label, ground):
    """Draws a row of facades standing on the horizon, taller towards the image sides as if nearer."""
    left = rng.uniform(-0.08, 0.0)
    while left < 1.0:
        facade_width = rng.uniform(0.06, 0.2)
        # Gaps between buildings let the sky reach down to the horizon.
        if rng.random() < 0.85:
            middle = left + facade_width / 2
            facade_height = rng.uniform(0.08, 0.2) + 0.3 * abs(middle - ground.vanish_x)
            _draw_facade(rng, image, label, ground, left, facade_width, min(facade_height, 0.9 * ground.horizon))
        left += facade_width


def _draw_facade(rng, image, label, ground, left, facade_width, facade_height):
    """Draws one facade (relative coordinates) in a grey or brown, with a grid of darker windows."""
    grey = rng.uniform(75, 165)
    warmth = rng.uniform(-0.3, 1.0) * 20
    wall = _jitter(rng, (grey + warmth, grey, grey - warmth), brightness=0.05, spread=6)
    glass = tuple(int(channel * rng.uniform(0.5, 0.72)) for channel in wall)
    x0, x1 = left * ground.width, (left + facade_width) * ground.width
    y0, y1 = (ground.horizon - facade_height) * ground.height, ground.horizon_y
    _box(image, label, x0, y0, x1, y1, wall, _BUILDING)
    columns = max(2, round(facade_width / 0.03))
    rows = max(1, round(facade_height / 0.07))
    cell_width, cell_height = (x1 - x0) / columns, (y1 - y0) / (rows + 0.5)
    for row in range(rows):
        for column in range(columns):
            wx, wy = x0 + (column + 0.25) * cell_width, y0 + (row + 0.3) * cell_height
            _box(image, label, wx, wy, wx + 0.5 * cell_width, wy + 0.5 * cell_height, glass, _BUILDING)


def _draw_ground(rng, image, label, ground, sidewalks):
    """Covers everything below the horizon with a grass verge, then the sidewalks and the road."""
    grass = _jitter(rng, (95, 145, 60), spread=15)
    _box(image, label, -1, ground.horizon_y, ground.width + 1, ground.height + 1, grass, _VEGETATION)
    vanishing_point = ground.point(0, 0)
    # Reaching a little past the bottom row keeps rounding from leaving a row of grass.
    bottom = 1.05
    paving = _jitter(rng, (190, 160, 145), spread=10)
    for side, sidewalk in zip((-1, 1), sidewalks):
        outer, inner = ground.point(side * (1 + sidewalk), bottom), ground.point(side, bottom)
        _fill(image, label, [vanishing_point, outer, inner], paving, _SIDEWALK)
    asphalt = _jitter(rng, (92, 92, 98), brightness=0.15, spread=5)
    _fill(image, label, [vanishing_point, ground.point(-1, bottom), ground.point(1, bottom)], asphalt, _ROAD)


def _draw_lane_marks(rng, image, label, ground, lanes):
    """Draws dashed lines between the lanes and, in some scenes, a zebra crossing."""
    paint = _jitter(rng, (235, 235, 225), brightness=0.06, spread=8)
    half_width = rng.uniform(0.035, 0.045)
    # Dashes are evenly spaced in distance (1 / nearness), so they shorten towards the horizon.
    period = rng.uniform(0.7, 1.1)
    dash = period * rng.uniform(0.4, 0.55)
    first = rng.uniform(0.5, 1.0) - period
    for lane in range(1, lanes):
        u = -1 + 2 * lane / lanes
        start = first
        while start < 1 / _MIN_LANE_NEARNESS:
            # Clipped to the bottom row and to where the dashes are still long enough.
            near, far = 1 / max(start, 0.95), max(1 / (start + dash), _MIN_LANE_NEARNESS)
            if near > far:
                _draw_road_paint(image, label, ground, u, half_width, near, far, paint)
            start += period
    if rng.random() < 0.35:
        near = rng.uniform(0.5, 0.8)
        far = 1 / (1 / near + rng.uniform(0.5, 0.7))
        for stripe in np.arange(-0.83, 0.9, 0.28):
            _draw_road_paint(image, label, ground, stripe, 0.07, near, far, paint)


def _draw_road_paint(image, label, ground, u, half_width, near, far, color):
    """Paints a lane marking along the road, centred on `u`, from nearness `far` to `near`.

    The mark is widened where perspective would make it thinner than `_MIN_LANE_WIDTH`.
    """
    min_half_width = _MIN_LANE_WIDTH / 2 / (ground.half_width * np.array([near, far]))
    half_near, half_far = np.maximum(half_width, min_half_width)
    corners = [ground.point(u - half_near, near), ground.point(u + half_near, near), ground.point(u + half_far, far),
               ground.point(u - half_far, far)]
    _fill(image, label, corners, color, _LANE_MARKING)


def _draw_bushes(rng, image, label, ground):
    """Draws distant bushes and tree tops as green domes on the horizon, in front of the buildings."""
    for _ in range(rng.integers(1, 6)):
        center = (rng.uniform(0, 1) * ground.width, ground.horizon_y)
        axes = (rng.uniform(0.03, 0.09) * ground.width, rng.uniform(0.04, 0.12) * ground.height)
        _ellipse(image, label, center, axes, _jitter(rng, (60, 105, 45), spread=15), _VEGETATION, 180, 360)


def _trees(rng, ground, sidewalks):
    """Samples roadside trees on the verges; returns `(nearness, draw)` pairs."""
    trees = []
    for side, sidewalk in zip((-1, 1), sidewalks):
        for _ in range(rng.integers(0, 4)):
            u = side * (1 + sidewalk + rng.uniform(0.1, 0.7))
            t = rng.uniform(0.2, 0.75)
            crown = rng.uniform(0.35, 0.7)
            trunk = rng.uniform(0.6, 1.2)
            leaves = _jitter(rng, (55, 110, 40), spread=18)
            bark = _jitter(rng, (85, 65, 45), spread=10)
            blobs = rng.uniform(-0.55, 0.55, size=(4, 2))
            draw = functools.partial(_draw_tree, ground=ground, u=u, t=t, crown=crown, trunk=trunk, leaves=leaves,
                                     bark=bark, blobs=blobs)
            trees.append((t, draw))
    return trees


def _draw_tree(image, label, ground, u, t, crown, trunk, leaves, bark, blobs):
    """Draws a tree (trunk and a crown of overlapping discs) standing at road coordinates `(u, t)`."""
    x, y = ground.point(u, t)
    scale = ground.scale(t)
    radius = crown * scale
    crown_y = y - (trunk + crown) * scale
    # Cityscapes counts trunks as vegetation too; they are kept thick enough to learn.
    _box(image, label, x - 0.09 * scale, crown_y, x + 0.09 * scale, y, bark, _VEGETATION)
    _ellipse(image, label, (x, crown_y), (radius, radius), leaves, _VEGETATION)
    for dx, dy in blobs:
        center = (x + dx * radius, crown_y + dy * radius)
        _ellipse(image, label, center, (0.6 * radius, 0.6 * radius), leaves, _VEGETATION)


def _cars(rng, ground, lanes):
    """Samples one to four cars in the lanes; returns `(nearness, draw)` pairs."""
    cars = []
    for _ in range(rng.integers(1, 5)):
        u = -1 + (2 * rng.integers(lanes) + 1) / lanes + rng.uniform(-0.1, 0.1)
        t = ground.nearness_in_view(u, rng.uniform(0.2, 0.85), margin=0.06)
        size = rng.uniform(0.42, 0.55)
        shape = (size, size * rng.uniform(0.8, 0.95))
        paint = _pick(rng, _CAR_PAINTS)
        glass = _jitter(rng, (45, 55, 70), spread=8)
        # Seen from behind the lamps are red, head-on (oncoming traffic) pale yellow.
        lamps = _jitter(rng, (210, 30, 30) if rng.random() < 0.7 else (250, 240, 190), spread=10)
        draw = functools.partial(_draw_car, ground=ground, u=u, t=t, shape=shape, paint=paint, glass=glass,
                                 lamps=lamps)
        cars.append((t, draw))
    return cars


def _draw_car(image, label, ground, u, t, shape, paint, glass, lamps):
    """Draws a car seen from behind or ahead, its wheels touching the ground at `(u, t)`.

    Every part, the windows and wheels included, is labelled car, as in Cityscapes.
    """
    x, y = ground.point(u, t)
    w, h = shape[0] * ground.scale(t), shape[1] * ground.scale(t)
    tyre = (22, 22, 24)
    for side in (-1, 1):
        _box(image, label, x + side * 0.45 * w, y - 0.2 * h, x + side * 0.25 * w, y, tyre, _CAR)
    _box(image, label, x - 0.5 * w, y - 0.6 * h, x + 0.5 * w, y - 0.12 * h, paint, _CAR)
    cabin = [(x - 0.46 * w, y - 0.58 * h), (x - 0.34 * w, y - h), (x + 0.34 * w, y - h), (x + 0.46 * w, y - 0.58 * h)]
    _fill(image, label, cabin, paint, _CAR)
    window = [(x - 0.38 * w, y - 0.62 * h), (x - 0.29 * w, y - 0.93 * h), (x + 0.29 * w, y - 0.93 * h),
              (x + 0.38 * w, y - 0.62 * h)]
    _fill(image, label, window, glass, _CAR)
    for side in (-1, 1):
        _box(image, label, x + side * 0.46 * w, y - 0.52 * h, x + side * 0.3 * w, y - 0.42 * h, lamps, _CAR)
    _box(image, label, x - 0.1 * w, y - 0.34 * h, x + 0.1 * w, y - 0.24 * h, (230, 230, 225), _CAR)


def _pedestrians(rng, ground, sidewalks):
    """Samples one to four pedestrians on the sidewalks; returns `(nearness, draw)` pairs."""
    pedestrians = []
    for _ in range(rng.integers(1, 5)):
        side = 1 if rng.random() < 0.5 else -1
        u = side * (1 + sidewalks[(side + 1) // 2] * rng.uniform(0.2, 0.8))
        t = ground.nearness_in_view(u, rng.uniform(0.35, 0.9), margin=0.04)
        size = rng.uniform(0.5, 0.65)
        colors = (_pick(rng, _SHIRTS), _pick(rng, _TROUSERS), _pick(rng, _SKIN), _pick(rng, _HAIR))
        draw = functools.partial(_draw_pedestrian, ground=ground, u=u, t=t, size=size, colors=colors)
        pedestrians.append((t, draw))
    return pedestrians


def _draw_pedestrian(image, label, ground, u, t, size, colors):
    """Draws a standing pedestrian (legs, torso, head) with the feet at `(u, t)`.

    Limbs are drawn as one block each for legs and torso-with-arms: separate limbs would
    be a couple of pixels wide at small sizes.
    """
    shirt, trousers, skin, hair = colors
    x, y = ground.point(u, t)
    h = size * ground.scale(t)
    legs = [(x - 0.13 * h, y - 0.5 * h), (x + 0.13 * h, y - 0.5 * h), (x + 0.15 * h, y), (x + 0.03 * h, y),
            (x, y - 0.28 * h), (x - 0.03 * h, y), (x - 0.15 * h, y)]
    _fill(image, label, legs, trousers, _PEDESTRIAN)
    torso = [(x - 0.14 * h, y - 0.46 * h), (x - 0.17 * h, y - 0.78 * h), (x - 0.1 * h, y - 0.83 * h),
             (x + 0.1 * h, y - 0.83 * h), (x + 0.17 * h, y - 0.78 * h), (x + 0.14 * h, y - 0.46 * h)]
    _fill(image, label, torso, shirt, _PEDESTRIAN)
    head = (x, y - 0.91 * h)
    radius = 0.085 * h
    _ellipse(image, label, head, (radius, radius), skin, _PEDESTRIAN)
    _ellipse(image, label, head, (radius, radius), hair, _PEDESTRIAN, 180, 360)


def _add_light_and_texture(rng, image, label):
    """Returns the image under a random light colour and level, with per-class grain and blotches."""
    # Drawn before the noise, whose amount depends on the image size, so that the light
    # is the same at every size.
    light = rng.uniform(0.78, 1.15) * rng.uniform(0.94, 1.06, size=3).astype(np.float32)
    height, width = label.shape
    coarse = rng.standard_normal((max(height // 6, 2), max(width // 6, 2)), dtype=np.float32)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    grain = rng.standard_normal((height, width, 3), dtype=np.float32)
    textured = image + (blotches * _BLOTCH[label])[..., None] + grain * _GRAIN[label][..., None]
    return np.clip(np.round(textured * light), 0, 255).astype(np.uint8)


def spec(data_dir=None):
    return SPEC


def source(data_dir, split, *, num_images=None, height=128, width=256, seed=0):
    """`num_images` scenes of `height` x `width`; each split draws from its own seeds.

    Args:
        data_dir: must be None: the scenes are drawn, not read.
        split: str. "train", "val" or "test".
        num_images: int or None. Defaults to 512 for train, 64 for val and test.
        height: int. Scene height, at least 32. Defaults to 128.
        width: int. Scene width, at least 32. Defaults to 256.
        seed: int. Selects a different set of scenes. Defaults to 0.
    """
    if data_dir is not None:
        raise ValueError(f"Dataset 'synthetic' draws its scenes and reads no data_dir (got {data_dir!r}).")
    check_split("synthetic", split, SPLITS)
    num_images = DEFAULT_NUM_IMAGES[split] if num_images is None else num_images
    if isinstance(num_images, bool) or not isinstance(num_images, numbers.Integral) or not 1 <= num_images <= _SEEDS_PER_SPLIT:
        raise ValueError(f"num_images={num_images!r} is not valid for synthetic; expected 1 to {_SEEDS_PER_SPLIT}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} is not valid for synthetic; expected an integer of at least 0.")
    render_scene(0, height, width)  # checks the size now rather than inside the pipeline
    first_seed = (seed * len(SPLITS) + SPLITS.index(split)) * _SEEDS_PER_SPLIT

    def render(scene_seed):
        image, label = tf.numpy_function(
            lambda seed: render_scene(int(seed), height, width), [scene_seed], [tf.uint8, tf.uint8], stateful=False
        )
        image.set_shape([height, width, 3])
        return image, tf.reshape(tf.cast(label, tf.int32), [height, width, 1])

    return mapped_source(SPEC, tf.data.Dataset.range(first_seed, first_seed + num_images), render, num_images)
