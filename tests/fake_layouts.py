"""Tiny fake datasets written in each dataset's real on-disk layout and naming scheme."""

import json
import pathlib

import cv2
import numpy as np

from fcnseg.data import cityscapes

CAMVID_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camvid"


def write_png(path, array):
    """Writes an RGB (H, W, 3) or single-channel (H, W) uint8 array as PNG."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = array[..., ::-1] if array.ndim == 3 else array  # OpenCV writes BGR
    assert cv2.imwrite(str(path), np.ascontiguousarray(pixels))
    return path


def random_image(rng, height, width):
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def blocks(rng, values, height, width, block=8):
    """A label map of `block`-sized squares, each one of `values`."""
    grid = rng.choice(np.asarray(values, np.uint8), (height // block + 1, width // block + 1))
    return np.kron(grid, np.ones((block, block), np.uint8))[:height, :width]


def make_camvid(root, rng, counts=None, size=(32, 48)):
    """SegNet layout; labels hold 0..10 and 11 (void). Returns {split: [(image, label array)]}."""
    written = {}
    for split, count in (counts or {"train": 3, "val": 2}).items():
        written[split] = []
        for index in range(count):
            image, label = random_image(rng, *size), blocks(rng, range(12), *size)
            name = f"0001TP_{index:06d}.png"
            write_png(root / split / name, image)
            write_png(root / f"{split}annot" / name, label)
            written[split].append((image, label))
    return written


def make_cityscapes(root, rng, split="train", cities=("aachen", "bochum"), per_city=2, size=(32, 64)):
    """leftImg8bit/gtFine layout with label ids 0..33. Returns [(image, label ids)]."""
    written = []
    for city in cities:
        for index in range(per_city):
            stem = f"{city}_{index:06d}_000019"
            image, label_ids = random_image(rng, *size), blocks(rng, range(34), *size)
            write_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", image)
            write_png(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", label_ids)
            write_png(root / "gtFine" / split / city / f"{stem}_gtFine_color.png", random_image(rng, *size))
            written.append((image, label_ids))
    return written


def make_cityscapes_pairs(root, rng, split="train", count=2, quality=75):
    """Kaggle pairs: 256x512 JPEGs, photo left, Cityscapes colours right. Returns [(path, train ids)]."""
    colors, classes = cityscapes.class_colors()
    train_colors = {train_id: color for color, train_id in zip(colors, classes) if train_id != 255}
    written = []
    for index in range(count):
        train_ids = blocks(rng, sorted(train_colors), 256, 256, block=32)
        drawn = np.array([train_colors[i] for i in range(19)], np.uint8)[train_ids]
        photo = random_image(rng, 256, 256)
        path = root / split / f"{index + 1}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(
            str(path), np.concatenate([photo, drawn], axis=1)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        written.append((path, train_ids))
    return written


KITTI_COLORS = {0: (255, 0, 0), 1: (255, 0, 255), 255: (0, 0, 0)}


def make_kitti_road(root, rng, per_category=5, size=(40, 120)):
    """data_road/training with um/umm/uu images, road gt for all and lane gt for um. Returns {name: labels}."""
    training = root / "data_road" / "training"
    written = {}
    palette = np.zeros((256, 3), np.uint8)
    for value, color in KITTI_COLORS.items():
        palette[value] = color
    for category in ("um", "umm", "uu"):
        for index in range(per_category):
            number = f"{index:06d}"
            write_png(training / "image_2" / f"{category}_{number}.png", random_image(rng, *size))
            targets = ("road", "lane") if category == "um" else ("road",)
            for target in targets:
                labels = blocks(rng, [0, 1, 255], *size)
                write_png(training / "gt_image_2" / f"{category}_{target}_{number}.png", palette[labels])
                written[f"{category}_{target}_{number}"] = labels
    write_png(root / "data_road" / "testing" / "image_2" / "um_000000.png", random_image(rng, *size))
    return written


def make_folder(root, rng, classes, colors, mask_format="index", split="train", count=3, size=(32, 32)):
    """images/ and masks/ by stem, with classes.json. Returns [(image, labels)]."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps({"classes": classes, "colors": colors, "mask_format": mask_format}))
    written = []
    for index in range(count):
        image = random_image(rng, *size)
        labels = blocks(rng, list(range(len(classes))) + ([255] if mask_format == "index" else []), *size)
        mask = labels if mask_format == "index" else np.asarray(colors, np.uint8)[labels]
        write_png(root / split / "images" / f"frame_{index}.png", image)
        write_png(root / split / "masks" / f"frame_{index}.png", mask)
        written.append((image, labels))
    return written


def write_video(path, frames, fps, codec="mp4v"):
    """Writes RGB uint8 frames `[n, H, W, 3]` as a video with OpenCV."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), path
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()


def read_video(path):
    """Every frame of a video as RGB (`[n, H, W, 3]`), and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return np.array(frames), fps
