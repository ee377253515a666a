"""`python -m fcnseg.inspect` on files made in tmp_path: every check, every diagnosis and its fix,
the statistics and the pictures."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from fake_layouts import blocks, make_camvid, make_cityscapes_pairs, random_image, write_png

from fcnseg import data
from fcnseg.data import camvid
from fcnseg.inspection import InspectConfig, inspect

pytestmark = pytest.mark.slow


def _inspect(tmp_path, dataset, data_dir, **options):
    return inspect(InspectConfig(dataset, str(tmp_path / "report"), str(data_dir), **options), verbose=0)


def _folder(root, classes, masks, split="train", colors=None):
    """A folder dataset whose masks are the given arrays (index or RGB), one image each."""
    colors = colors or [[40 * i % 256, 90 * i % 256, 160 * i % 256] for i in range(len(classes))]
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps({"classes": classes, "colors": colors}))
    for index, mask in enumerate(masks):
        write_png(root / split / "images" / f"f{index}.png", random_image(np.random.default_rng(index), *mask.shape[:2]))
        write_png(root / split / "masks" / f"f{index}.png", mask)
    return root


def test_every_problem_is_one_line_naming_its_file(tmp_path):
    root = tmp_path / "camvid"
    make_camvid(root, np.random.default_rng(0), counts={"train": 4}, size=(32, 48))
    write_png(root / "train" / "orphan.png", random_image(np.random.default_rng(1), 32, 48))
    write_png(root / "trainannot" / "lonely.png", np.zeros((32, 48), np.uint8))
    write_png(root / "trainannot" / "0001TP_000001.png", np.full((32, 48), 40, np.uint8))  # past the classes
    write_png(root / "trainannot" / "0001TP_000002.png", np.zeros((30, 48), np.uint8))  # another size
    cut = (root / "trainannot" / "0001TP_000003.png").read_bytes()
    (root / "trainannot" / "0001TP_000003.png").write_bytes(cut[: len(cut) // 2])  # cut short
    write_png(root / "train" / "grey.jpg", random_image(np.random.default_rng(2), 64, 64))
    cv2.imwrite(str(root / "trainannot" / "grey.jpg"), blocks(np.random.default_rng(3), [3, 4], 64, 64))

    report = _inspect(tmp_path, "camvid", root, crop_size=(48, 48))
    problems = report["problems"]
    expected = [
        f"{root}/train/orphan.png: image has no label; expected {root}/trainannot/orphan.png",
        f"{root}/trainannot/lonely.png: label has no image",
        f"{root}/trainannot/0001TP_000001.png: label value 40 is not valid; expected 0..10, 11 (void) or 255",
        f"{root}/train/0001TP_000000.png: 32x48 is smaller than --crop_size=48,48",
        f"{root}/trainannot/grey.jpg: a JPEG label; JPEG blurs class values at every edge",
    ]
    for line in expected:
        assert any(problem.startswith(line) for problem in problems), (line, problems)
    assert any(p.startswith(f"{root}/trainannot/0001TP_000002.png: label is ") for p in problems), problems
    assert f"{root}/trainannot/0001TP_000003.png: the PNG file is cut short (no IEND chunk at its end)" in problems
    assert all("\n" not in problem for problem in problems) and len(problems) == 7
    assert report["label_formats"] == {"PNG grey 8-bit": 3, "unreadable": 1, "JPEG grey 8-bit": 1}

    command = [sys.executable, "-m", "fcnseg.inspect", "--dataset=camvid", f"--data_dir={root}"]
    command += [f"--output_dir={tmp_path / 'cli'}", "--samples=2"]
    lenient, strict = (subprocess.run(command + extra, capture_output=True, text=True) for extra in ([], ["--strict"]))
    assert lenient.returncode == 0 and strict.returncode == 1, lenient.stderr + strict.stderr
    assert f"problem: {root}/trainannot/lonely.png: label has no image" in strict.stdout


@pytest.mark.parametrize(
    "case",
    ["binary", "label_ids", "shifted", "palette"],
)
def test_each_diagnosis_names_its_fix_and_the_fix_mends_the_data(tmp_path, case):
    rng = np.random.default_rng(4)
    if case == "binary":
        root = _folder(tmp_path / "data", ["background", "road"], [blocks(rng, [0, 255], 32, 32) for _ in range(3)])
        dataset, expected, fix = "folder", "0/255 binary masks", "--value_map=255:1"
    elif case == "label_ids":
        names = list(data.dataset_spec("cityscapes").class_names)
        masks = [blocks(rng, [7, 8, 11, 21, 23, 26, 0], 32, 32) for _ in range(3)]
        root = _folder(tmp_path / "data", names, masks)
        dataset, expected, fix = "folder", "Cityscapes label ids", "--label_ids_to_train_ids"
    elif case == "shifted":
        root = _folder(tmp_path / "data", ["a", "b", "c"], [blocks(rng, [1, 2, 3], 32, 32) for _ in range(3)])
        dataset, expected, fix = "folder", "class ids shifted by one", "--value_map=1:0,2:1,3:2"
    else:
        root = tmp_path / "data"
        for index in range(3):
            write_png(root / "train" / f"f{index}.png", random_image(rng, 32, 32))
            colors = np.asarray(camvid.SPEC.colors, np.uint8)[blocks(rng, range(11), 32, 32)]
            write_png(root / "trainannot" / f"f{index}.png", colors)
        dataset, expected, fix = "camvid", "colour masks drawn in the camvid palette", "--palette=camvid"

    report = _inspect(tmp_path, dataset, root)
    [diagnosis] = report["diagnoses"]
    assert diagnosis.startswith(expected) and diagnosis.endswith(fix)
    command = diagnosis.partition("fix: ")[2].replace("FIXED", str(tmp_path / "fixed")).split()
    result = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Wrote 3 examples" in result.stdout
    mended = inspect(InspectConfig("folder", str(tmp_path / "again"), str(tmp_path / "fixed")), verbose=0)
    assert mended["problems"] == [] and mended["diagnoses"] == [] and mended["images"] == 3
    assert json.loads((tmp_path / "fixed" / "classes.json").read_text())["mask_format"] == "index"
    again = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True)
    assert again.returncode != 0 and again.stderr.strip().splitlines()[-1].endswith(
        "already exists; the folder layout is written to a new folder only."
    )


def test_statistics_weights_and_pictures_match_the_pipeline(tmp_path):
    options = dict(num_images=6, height=64, width=96)
    report = _inspect(tmp_path, "synthetic", "", dataset_options=options, samples=4, pick="rare")
    assert report["problems"] == [] and report["images"] == 6 and report["image_sizes"] == {"64x96": 6}
    pixels, of_images = data.class_frequencies(data.load("synthetic", None, "train", **options), 8)
    fractions = [c["pixel_fraction"] for c in report["classes"]]
    np.testing.assert_allclose(fractions, pixels / pixels.sum())
    weights = json.loads((tmp_path / "report" / "class_weights.json").read_text())
    np.testing.assert_allclose(list(weights.values()), data.median_frequency_weights(pixels, of_images), rtol=1e-6)
    assert report["never_seen"] == [c["name"] for c in report["classes"] if c["images"] == 0]
    for picture in ("class_frequency.png", "samples.png"):
        assert cv2.imread(str(tmp_path / "report" / picture)) is not None


def test_the_pairs_are_read_as_their_reader_reads_them_and_sliced(tmp_path):
    make_cityscapes_pairs(tmp_path / "pairs", np.random.default_rng(5), count=4)
    report = _inspect(tmp_path, "cityscapes_pairs", tmp_path / "pairs", split="train[:3]", samples=0)
    assert report["images"] == 3 and report["problems"] == [] and report["diagnoses"] == []
    assert list(report["label_formats"]) == ["JPEG RGB"]
    assert report["ignored_fraction"] < 0.2 and not (tmp_path / "report" / "samples.png").exists()


def test_values_the_reader_takes_are_not_diagnosed(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(6), counts={"train": 3})  # 0..10 and 11, void
    report = _inspect(tmp_path, "camvid", tmp_path / "camvid", samples=0)
    assert report["problems"] == [] and report["diagnoses"] == []
