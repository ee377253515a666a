"""Predicting masks for an image, a folder of images or a video, and drawing them.

Views, chosen by `PredictConfig.views`:

- `overlay`: the coloured mask blended over the image (`alpha` is the mask's weight);
- `color`: the mask in the classes' colours;
- `side_by_side`: the image and the coloured mask next to each other;
- `index`: the class indices as a single-channel PNG (images only);
- `label_ids`: Cityscapes label ids as a single-channel PNG, `<output>/label_ids/a/b.png` for
  `a/b.jpg`, for cityscapesscripts' evaluator (images only, models of Cityscapes' 19 classes:
  `fcnseg.inference.label_ids`).

An image `a/b.jpg` of the input folder gives `<output>/a/b_<view>.<png|jpg>`; a video
`v.mp4` gives `<output>/v_<view>.mp4` with every frame, at the input's frame rate and
size (twice the width for `side_by_side`). `legend.png` shows the classes' colours.
"""

import contextlib
import dataclasses
import itertools
import pathlib
import time
from typing import Optional

import cv2
import keras
import numpy as np

from fcnseg import files
from fcnseg.data.source import IMAGE_SUFFIXES, list_images
from fcnseg.data.specs import DatasetSpec
from fcnseg.inference.image_files import read_image, write_image
from fcnseg.inference.augmented import AugmentedSegmenter
from fcnseg.inference.label_ids import check_cityscapes_classes, write_label_ids
from fcnseg.inference.segmenter import load_segmenter
from fcnseg.inference.tiling import Tiling, describe_default, masks, same_size_batches
from fcnseg.overlay import colorize, legend, overlay, side_by_side

VIEWS = ("overlay", "color", "side_by_side", "index", "label_ids")
_IMAGE_ONLY_VIEWS = ("index", "label_ids")
IMAGE_FORMATS = ("png", "jpg")
# Video containers and the OpenCV codec each is written with.
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """What to predict and how to draw it; one field per flag of `python -m fcnseg.predict`.

    Args:
        model: str. A saved model (see `load_segmenter`).
        input: str. An image file, a folder of images (searched recursively) or a video file.
        output: str. The folder the pictures or videos are written to.
        spec: DatasetSpec or None. The class names and colours; None takes the
            `classes.json` beside the model.
        views: tuple of `VIEWS`.
        legend: bool. Also write `legend.png`.
        alpha: float in [0, 1]. The weight of the colours in `overlay`.
        image_format: "png" or "jpg", for the drawn views of images (`index` is always PNG).
        batch_size: int. Images, frames or windows run through the model at a time.
        tiling: Tiling or None. How images of other sizes than the model's meet it; None
            takes the model's own (`fcnseg.inference.tiling.model_tiling`).
        tta_scales, tta_flip: test-time augmentation (`AugmentedSegmenter`); () and False for none.
    """

    model: str
    input: str
    output: str
    spec: Optional[DatasetSpec] = None
    views: tuple = ("overlay",)
    legend: bool = True
    alpha: float = 0.5
    image_format: str = "png"
    batch_size: int = 8
    tiling: Optional[Tiling] = None
    tta_scales: tuple = ()
    tta_flip: bool = False

    def __post_init__(self):
        unknown = [view for view in self.views if view not in VIEWS]
        if unknown or not self.views:
            raise ValueError(f"--views={','.join(self.views)} is not valid; expected some of {', '.join(VIEWS)}.")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"--alpha={self.alpha} is not valid; expected a value in [0, 1].")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"--image_format={self.image_format} is not valid; expected png or jpg.")
        if self.batch_size < 1:
            raise ValueError(f"--batch_size={self.batch_size} is not valid; expected a positive integer.")


def predict(config, verbose=1):
    """Predicts and draws the input's masks as `config` says.

    Returns:
        A dict: `kind` ("images" or "video"), `count` (images or frames), `seconds`, and
        `paths` (the files written).
    """
    source = pathlib.Path(config.input)
    if not source.exists():
        raise FileNotFoundError(f"{source}: input not found; expected an image, a folder of images or a video.")
    segmenter = load_segmenter(config.model)
    if config.tta_scales or config.tta_flip:
        segmenter = AugmentedSegmenter(segmenter, config.tta_scales or (1.0,), config.tta_flip)
    spec = config.spec or segmenter.spec
    if spec is None:
        raise ValueError(
            f"{config.model}: no classes.json beside the model; give --dataset (and --data_dir) for its classes' "
            "names and colours."
        )
    segmenter.check_classes(spec, config.model, f"the class list of {spec.name}")
    if "label_ids" in config.views:
        check_cityscapes_classes(spec, "--views=label_ids")
    if verbose and config.tiling is None and describe_default(segmenter):
        print(describe_default(segmenter), flush=True)
    output = pathlib.Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if source.is_file() and source.suffix.lower() in VIDEO_CODECS:
        kind, count, paths = "video", *_predict_video(segmenter, spec, source, output, config, verbose)
    else:
        kind, count, paths = "images", *_predict_images(segmenter, spec, source, output, config, verbose)
    if config.legend:
        paths.append(write_image(output / "legend.png", legend(spec.class_names, spec.colors)))
    return {"kind": kind, "count": count, "seconds": time.perf_counter() - start, "paths": paths}


def _predict_images(segmenter, spec, source, output, config, verbose):
    if source.is_dir():
        files = list_images(source, "**/*")
        if not files:
            raise ValueError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder.")
        names = [file.relative_to(source).with_suffix("") for file in files]
        if len(set(names)) < len(names):
            twins = sorted(str(file) for file in files if names.count(file.relative_to(source).with_suffix("")) > 1)
            raise ValueError(f"{twins[0]} and {twins[1]} would write the same pictures; rename one of them.")
    else:
        files, names = [source], [pathlib.Path(source.stem)]
    progress = keras.utils.Progbar(len(files), unit_name="image", verbose=verbose)
    items = ((read_image(file), name) for file, name in zip(files, names))
    paths, done = [], 0
    for images, batch_names in same_size_batches(items, config.batch_size):
        predicted = masks(segmenter, images, config.tiling, config.batch_size)
        for image, mask, name in zip(images, predicted, batch_names):
            for view in config.views:
                if view == "label_ids":
                    paths.append(write_label_ids(output, name.as_posix(), mask))
                    continue
                suffix = "png" if view == "index" else config.image_format
                path = output / name.parent / f"{name.name}_{view}.{suffix}"
                paths.append(write_image(path, draw(view, image, mask, spec.colors, config.alpha)))
        done += len(images)
        progress.update(done)
    return done, paths


def _predict_video(segmenter, spec, source, output, config, verbose):
    image_only = [view for view in config.views if view in _IMAGE_ONLY_VIEWS]
    if image_only:
        raise ValueError(
            f"--views={image_only[0]} applies to images only; for a video choose overlay, color or side_by_side."
        )
    capture = cv2.VideoCapture(str(source))
    try:
        frames = _frames(capture, source)
        first = next(frames, None)
        if first is None:
            raise ValueError(f"{source}: not a readable video (no frame could be decoded).")
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        paths = {view: output / f"{source.stem}_{view}{source.suffix.lower()}" for view in config.views}
        with contextlib.ExitStack() as stack:
            temporaries = {view: stack.enter_context(files.atomic_path(path)) for view, path in paths.items()}
            writers = {view: _video_writer(temporaries[view], source, fps, first.shape, view) for view in paths}
            stack.callback(lambda: [writer.release() for writer in writers.values()])
            progress = keras.utils.Progbar(total, unit_name="frame", verbose=verbose)
            done = 0
            frames_with_first = ((frame, None) for frame in itertools.chain([first], frames))
            for images, _ in same_size_batches(frames_with_first, config.batch_size):
                predicted = masks(segmenter, images, config.tiling, config.batch_size)
                for image, mask in zip(images, predicted):
                    for view, writer in writers.items():
                        writer.write(
                            np.ascontiguousarray(draw(view, image, mask, spec.colors, config.alpha)[..., ::-1])
                        )
                done += len(images)
                progress.update(done)
            if total is not None and done < total:
                raise ValueError(f"{source}: cut short: only {done} of its {total} frames could be decoded.")
            for view, writer in writers.items():
                writer.release()
                _check_video(temporaries[view], paths[view], done)
    finally:
        capture.release()
    return done, list(paths.values())


def _video_writer(path, source, fps, frame_shape, view):
    height, width = frame_shape[:2]
    size = (2 * width if view == "side_by_side" else width, height)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_CODECS[source.suffix.lower()]), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write this video.")
    return writer


def _check_video(path, final, frames):
    """Fails unless the video OpenCV wrote holds `frames` frames: its writer reports no errors (a full disk)."""
    capture = cv2.VideoCapture(str(path))
    written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    readable = capture.isOpened() and capture.read()[0]
    capture.release()
    if written != frames or not readable:
        raise OSError(
            f"{final}: the video could not be written ({written} of {frames} frames readable; is the disk full?)."
        )


def draw(view, image, mask, colors, alpha):
    """One view (see the module's docstring) of an image and its mask."""
    if view == "overlay":
        return overlay(image, mask, colors, alpha)
    if view == "color":
        return colorize(mask, colors)
    if view == "side_by_side":
        return side_by_side(image, mask, colors)
    return mask.astype(np.uint8)


def _frames(capture, source):
    """The video's frames as RGB, every one, failing on a frame size change."""
    size = None
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        if size is not None and frame.shape != size:
            raise ValueError(
                f"{source}: frame size changes from {size[1]}x{size[0]} to {frame.shape[1]}x{frame.shape[0]}."
            )
        size = frame.shape
        yield frame[..., ::-1]
