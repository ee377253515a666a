"""Knowing a dataset before training on it: `inspect` checks every file the way its reader reads
it, diagnoses common label mistakes from the raw values, and counts what the labels hold.

For datasets of files (camvid, cityscapes, cityscapes_pairs, kitti_road, folder), every pair of
the split is read twice: raw (`raw_files`: readable, size, the label's storage format and raw
values) and through the reader's own decoding, which is what training sees. Problems are each
one line naming the file: images without a label and labels without an image, files that
cannot be read, whatever the reader refuses (sizes that differ, values outside the classes,
colour labels where indices are expected), lossy JPEG labels where indices are expected, and
images smaller than `crop_size`. Datasets without files (tfds:, tfrecord, synthetic) get the
value checks and statistics only.
"""

import collections
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import random
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from fcnseg import data, files
from fcnseg.data import split_expressions
from fcnseg.data.pipeline import median_frequency_weights
from fcnseg.data.source import failure_reason
from fcnseg.errors import error_line
from fcnseg.inspection.diagnosis import diagnose
from fcnseg.inspection.pictures import draw_class_frequency, draw_samples
from fcnseg.inspection.raw_files import read_image_file, read_label_file

PICKS = ("rare", "first", "random")


@dataclasses.dataclass(frozen=True)
class InspectConfig:
    """What to inspect; one field per flag of `python -m fcnseg.inspect`.

    Args:
        dataset, data_dir, split, dataset_options: the data, as for `fcnseg.data.open_source`.
        output_dir: str. Where report.json, class_weights.json and the pictures go.
        crop_size: (height, width) or None. Report images smaller than this.
        samples: int. Images in samples.png (0 for none).
        pick: str. Which: "rare" (richest in rare classes), "first" or "random".
    """

    dataset: str
    output_dir: str
    data_dir: Optional[str] = None
    split: str = "train"
    dataset_options: dict = dataclasses.field(default_factory=dict)
    crop_size: Optional[tuple] = None
    samples: int = 8
    pick: str = "rare"

    def __post_init__(self):
        split_expressions.check(self.split, "--split")
        if self.pick not in PICKS:
            raise ValueError(f"--pick={self.pick} is not valid; expected one of {', '.join(PICKS)}.")
        if self.samples < 0:
            raise ValueError(f"--samples={self.samples} is not valid; expected a number of at least 0.")


def inspect(config, verbose=1):
    """Checks, diagnoses and counts the split; writes the report and pictures to `config.output_dir`.

    Returns:
        The dict written to `report.json`: `problems` (lines), `diagnoses` (lines), `label_formats`,
        per-class `classes` statistics, `ignored_fraction`, `image_sizes`, `aspect_ratios`.
    """
    spec = data.dataset_spec(config.dataset, config.data_dir, **config.dataset_options)
    layouts = data.file_layouts(config.dataset, config.data_dir, config.split, **config.dataset_options)
    if layouts is None:
        scan = _scan_examples(config, spec, verbose)
    else:
        scan = _scan_files(config, spec, layouts, verbose)
    report = _report(config, spec, scan)
    output = pathlib.Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    files.write_text(output / "report.json", json.dumps(report, indent=2))
    weights = {c["name"]: c["median_frequency_weight"] for c in report["classes"]}
    files.write_text(output / "class_weights.json", json.dumps(weights, indent=2))
    fractions = [c["pixel_fraction"] for c in report["classes"]]
    draw_class_frequency(spec.class_names, spec.colors, fractions, output / "class_frequency.png")
    chosen = _pick(scan, report, config)
    if chosen:
        draw_samples(
            [scan.read_sample(index) for index in chosen], spec.class_names, spec.colors, output / "samples.png"
        )
    return report


@dataclasses.dataclass
class _Scan:
    """What the reading of a split found."""

    problems: list
    diagnoses: list
    label_formats: collections.Counter
    pixels: np.ndarray  # per class
    pixels_of_images_with: np.ndarray  # per class: the labelled pixels of the images holding it
    ignored: int
    sizes: collections.Counter
    presence: list  # per image read: each class's share of its labelled pixels
    positions: list  # per image read: its place in the split
    read_sample: callable  # index into `presence` -> (image, label, caption)


def _scan_files(config, spec, layouts, verbose):
    problems, pairs = [], []
    for layout, start, stop in layouts:
        matched, lonely_images, lonely_labels = layout.matched(start, stop)
        problems += [f"{image}: image has no label; expected {layout.label_of(image)}" for image in lonely_images]
        problems += [f"{label}: label has no image" for label in lonely_labels]
        pairs += [(layout, image, label) for image, label in matched]
    raws = _read_raw(pairs, verbose)
    decoded, failures = _decode_all(pairs, verbose)
    values, colors = collections.Counter(), collections.Counter()
    label_formats = collections.Counter()
    for _, label_raw in raws:
        label_formats[label_raw.label_format or "unreadable"] += 1
        values.update(label_raw.values or {})
        colors.update(label_raw.colors or {})
    for position, ((layout, image, label), (image_raw, label_raw)) in enumerate(zip(pairs, raws)):
        if position in failures:
            problems.append(failures[position])
            continue
        if layout.label_format == "index" and label_raw.label_format and label_raw.label_format.startswith("JPEG"):
            problems.append(f"{label}: a JPEG label; JPEG blurs class values at every edge, so store them as PNG")
        if config.crop_size and image_raw.size and any(s < c for s, c in zip(image_raw.size, config.crop_size)):
            problems.append(
                f"{image}: {image_raw.size[0]}x{image_raw.size[1]} is smaller than --crop_size="
                f"{config.crop_size[0]},{config.crop_size[1]} (training pads it with ignored pixels)"
            )
    command = (
        f"python -m fcnseg.convert --dataset={config.dataset} --data_dir={config.data_dir} --split={config.split} "
        "--output=FIXED --output_format=folder"
    )
    diagnoses = diagnose(dict(values), dict(colors), spec, layouts[0][0], command)
    stats = _statistics(spec, decoded)

    def read_sample(index):
        position = decoded[index][0]
        layout, image, label = pairs[position]
        pixels, labels = layout.decode(str(image)) if label is None else layout.decode(str(image), str(label))
        return pixels.numpy(), labels.numpy()[..., 0], pathlib.Path(image).name

    return _Scan(problems, diagnoses, label_formats, *stats, read_sample)


def _read_raw(pairs, verbose):
    """(image RawFile, label RawFile) of every pair, read in threads."""

    def read(pair):
        layout, image, label = pair
        count_colors = layout.label_format == "index"  # colours are diagnosed where indices were expected
        if label is None:  # the label is drawn in the image file
            raw = read_label_file(image, crop="right_half", count_colors=count_colors)
            return raw, raw
        return read_image_file(image), read_label_file(label, count_colors=count_colors)

    progress = keras.utils.Progbar(len(pairs), unit_name="file", verbose=verbose)
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for result in pool.map(read, pairs):
            results.append(result)
            progress.add(1)
    return results


def _decode_all(pairs, verbose):
    """Every pair through its reader's decoding: ([(position, label array), ...], {position: error line})."""
    by_layout = collections.defaultdict(list)
    for position, (layout, image, label) in enumerate(pairs):
        by_layout[id(layout)].append((position, layout, image, label))
    decoded, failures = [], {}
    progress = keras.utils.Progbar(len(pairs), unit_name="pair", verbose=verbose)
    for group in by_layout.values():
        layout = group[0][1]
        positions = [position for position, *_ in group]
        images = [str(image) for _, _, image, _ in group]
        if layout.label_of is None:
            elements = tf.data.Dataset.from_tensor_slices((positions, images))
            read = lambda position, image: (position, layout.decode(image)[1])  # noqa: E731
        else:
            labels = [str(label) for *_, label in group]
            elements = tf.data.Dataset.from_tensor_slices((positions, images, labels))
            read = lambda position, image, label: (position, layout.decode(image, label)[1])  # noqa: E731
        dataset = elements.map(read, tf.data.AUTOTUNE).ignore_errors().prefetch(tf.data.AUTOTUNE)
        good = set()
        for position, label in dataset.as_numpy_iterator():
            good.add(int(position))
            decoded.append((int(position), label[..., 0]))
            progress.add(1)
        for position, _, image, label in group:
            if position not in good:
                failures[position] = failure_reason(layout.decode, image, label)
                progress.add(1)
    decoded.sort(key=lambda item: item[0])
    return decoded, failures


def _scan_examples(config, spec, verbose):
    source = data.open_source(config.dataset, config.data_dir, config.split, **config.dataset_options)
    decoded, problems = [], []
    progress = keras.utils.Progbar(source.size, unit_name="example", verbose=verbose)
    examples = source.load().as_numpy_iterator()
    while True:
        try:
            image, label = next(examples)
        except StopIteration:
            break
        except (tf.errors.OpError, ValueError) as error:
            problems.append(f"{config.dataset} {config.split}, example {len(decoded) + 1}: {error_line(error)}")
            break  # a pipeline that failed cannot go on
        decoded.append((len(decoded), label[..., 0]))
        progress.add(1)

    def read_sample(index):
        image, label = next(source.load().skip(index).take(1).as_numpy_iterator())
        return image, label[..., 0], f"example {index + 1}"

    stats = _statistics(spec, decoded)
    return _Scan(problems, [], collections.Counter(), *stats, read_sample)


def _statistics(spec, decoded):
    """Per-class pixels, pixels of the images holding each class, ignored pixels, sizes, presence."""
    classes = spec.num_classes
    pixels = np.zeros(classes, np.int64)
    pixels_of_images_with = np.zeros(classes, np.int64)
    ignored, sizes, presence, positions = 0, collections.Counter(), [], []
    for position, label in decoded:
        counts = np.bincount(label.ravel().clip(0, classes), minlength=classes + 1)
        labelled = counts[:classes].sum()
        pixels += counts[:classes]
        pixels_of_images_with += np.where(counts[:classes] > 0, labelled, 0)
        ignored += int(counts[classes])
        sizes[f"{label.shape[0]}x{label.shape[1]}"] += 1
        presence.append(counts[:classes] / max(labelled, 1))
        positions.append(position)
    return pixels, pixels_of_images_with, ignored, sizes, presence, positions


def _report(config, spec, scan):
    total = int(scan.pixels.sum()) + scan.ignored
    labelled = max(int(scan.pixels.sum()), 1)
    weights = median_frequency_weights(scan.pixels, scan.pixels_of_images_with)
    images_with = np.sum(np.asarray(scan.presence) > 0, axis=0) if scan.presence else np.zeros(spec.num_classes, int)
    aspects = collections.Counter()
    for size, count in scan.sizes.items():
        height, width = (int(side) for side in size.split("x"))
        aspects[f"{width / height:.2f}"] += count
    return {
        "dataset": config.dataset,
        "split": config.split,
        "images": len(scan.presence),
        "problems": scan.problems,
        "diagnoses": scan.diagnoses,
        "label_formats": dict(scan.label_formats),
        "classes": [
            {
                "name": name,
                "pixel_fraction": float(scan.pixels[c] / labelled),
                "images": int(images_with[c]),
                "median_frequency_weight": float(weights[c]),
            }
            for c, name in enumerate(spec.class_names)
        ],
        "never_seen": [name for c, name in enumerate(spec.class_names) if scan.pixels[c] == 0],
        "ignored_fraction": scan.ignored / total if total else 0.0,
        "image_sizes": dict(scan.sizes.most_common()),
        "aspect_ratios": dict(aspects.most_common()),
    }


def _pick(scan, report, config):
    count = min(config.samples, len(scan.presence))
    if not count:
        return []
    if config.pick == "first":
        return list(range(count))
    if config.pick == "random":
        return sorted(random.Random(0).sample(range(len(scan.presence)), count))
    # Rare: the most pixels of rare classes, each class's share weighted by its median-frequency weight.
    weights = np.array([c["median_frequency_weight"] for c in report["classes"]])
    scores = [float(shares @ weights) for shares in scan.presence]
    return sorted(range(len(scores)), key=lambda index: -scores[index])[:count]


def format_report(report):
    """The report as text: problems, diagnoses, then a table of the classes."""
    lines = [f"{report['dataset']} {report['split']}: {report['images']} images read"]
    lines += [f"problem: {line}" for line in report["problems"]]
    lines += [f"diagnosis: {line}" for line in report["diagnoses"]]
    if report["label_formats"]:
        lines.append("label files: " + ", ".join(f"{name} ({n})" for name, n in report["label_formats"].items()))
    width = max(len(c["name"]) for c in report["classes"])
    lines.append(f"{'class':<{width}}  {'pixels':>9}  {'images':>7}  {'weight':>7}")
    for c in report["classes"]:
        share, weight = 100 * c["pixel_fraction"], c["median_frequency_weight"]
        lines.append(f"{c['name']:<{width}}  {share:>8.3f}%  {c['images']:>7}  {weight:>7.3f}")
    lines.append(f"ignored: {100 * report['ignored_fraction']:.2f}% of pixels")
    if report["never_seen"]:
        lines.append(f"never seen: {', '.join(report['never_seen'])}")
    sizes = ", ".join(f"{size} ({n})" for size, n in list(report["image_sizes"].items())[:5])
    lines.append(f"sizes: {sizes}; aspect ratios: {', '.join(report['aspect_ratios'])}")
    return "\n".join(lines)
