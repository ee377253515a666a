"""Split expressions (`train[:90%]`, `train[-300:]`, `train+val`) for every reader, in its file order."""

import re
import subprocess
import sys

import numpy as np
import pytest
from fake_layouts import make_camvid, make_cityscapes, make_cityscapes_pairs, make_folder, make_kitti_road, write_png

from fcnseg import data
from fcnseg.data import split_expressions
from fcnseg.data.source import list_images
from fcnseg.inference.evaluation import EvalConfig
from fcnseg.training.config import TrainConfig


def _examples(source):
    return [(image.tobytes(), label.tobytes()) for image, label in source.load().as_numpy_iterator()]


def test_numbered_files_are_listed_in_numeric_order(tmp_path):
    for name in ("10.png", "2.png", "1.png", "100.png", "b2.png", "a10.png", "a9.png"):
        write_png(tmp_path / name, np.zeros((2, 2), np.uint8))
    assert [path.name for path in list_images(tmp_path)] == [
        "1.png",
        "2.png",
        "10.png",
        "100.png",
        "a9.png",
        "a10.png",
        "b2.png",
    ]


def test_pairs_slices_follow_the_numbering(tmp_path):
    make_cityscapes_pairs(tmp_path, np.random.default_rng(0), count=12)
    first = data.open_source("cityscapes_pairs", tmp_path, "train[:25%]")
    last = data.open_source("cityscapes_pairs", tmp_path, "train[-3:]")
    rest = data.open_source("cityscapes_pairs", tmp_path, "train[:-3]")
    names = lambda source: [path.decode().rpartition("/")[2] for path in source.elements.as_numpy_iterator()]
    assert names(first) == ["1.jpg", "2.jpg", "3.jpg"]
    assert names(last) == ["10.jpg", "11.jpg", "12.jpg"]
    assert (rest.size, names(rest)[-1]) == (9, "9.jpg")
    assert first.parts == (("train[0:3]", 3),)


@pytest.mark.parametrize(
    "expression, sizes",
    [
        # TFDS rounds a percent boundary to the closest example: 3.3 -> 3, 6.7 -> 7.
        ("train[:33%]+train[33%:67%]+train[67%:]", [3, 4, 3]),
        ("train[-4:]+val", [4, 10]),
        ("val[1:2]+train[2:3]", [1, 1]),
    ],
)
def test_parts_join_in_order_without_overlap(expression, sizes):
    options = dict(num_images=10, height=32, width=32)
    source = data.open_source("synthetic", None, expression, **options)
    assert [size for _, size in source.parts] == sizes and source.size == sum(sizes)
    expected = []
    for part in expression.split("+"):
        name, _, bounds = part.partition("[")
        whole = _examples(data.open_source("synthetic", None, name, **options))
        expected += whole if not bounds else _slice(whole, bounds[:-1])
    assert _examples(source) == expected


def _slice(examples, bounds):
    def index(text):
        if not text:
            return None
        return round(float(text[:-1]) * len(examples) / 100) if text.endswith("%") else int(text)

    start, _, stop = bounds.partition(":")
    return examples[index(start) : index(stop)]


def test_synthetic_val_in_an_expression_keeps_its_own_scenes():
    joined = _examples(data.open_source("synthetic", None, "train[:2]+val[:2]", num_images=4, height=32, width=32))
    val = _examples(data.open_source("synthetic", None, "val", num_images=4, height=32, width=32))
    assert joined[2:] == val[:2] and joined[:2] != val[:2]


@pytest.mark.parametrize("dataset", ["camvid", "cityscapes", "kitti_road", "folder"])
def test_every_file_reader_joins_train_and_val(tmp_path, dataset):
    rng = np.random.default_rng(1)
    if dataset == "camvid":
        make_camvid(tmp_path, rng, counts={"train": 3, "val": 2})
    elif dataset == "cityscapes":
        make_cityscapes(tmp_path, rng, "train")
        make_cityscapes(tmp_path, rng, "val", cities=("frankfurt",))
    elif dataset == "kitti_road":
        make_kitti_road(tmp_path, rng, per_category=2)
    else:
        for split in ("train", "val"):
            make_folder(tmp_path, rng, ["a", "b"], [[0, 0, 0], [255, 255, 255]], split=split, count=2)
    train, val = (data.open_source(dataset, tmp_path, split) for split in ("train", "val"))
    joined = data.open_source(dataset, tmp_path, "train+val")
    assert joined.size == train.size + val.size
    assert _examples(joined) == _examples(train) + _examples(val)
    assert _examples(data.open_source(dataset, tmp_path, "train[1:]+val[:1]")) == (
        _examples(train)[1:] + _examples(val)[:1]
    )


def test_tfrecord_slices_follow_the_order_the_records_were_written_in(tmp_path):
    make_camvid(tmp_path / "camvid", np.random.default_rng(2), counts={"train": 7})
    command = [sys.executable, "-m", "fcnseg.convert", "--dataset=camvid", f"--data_dir={tmp_path / 'camvid'}"]
    result = subprocess.run(
        command + ["--split=train[1:]", "--output_split=train", f"--output={tmp_path / 'records'}", "--num_shards=3"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Converting camvid split train[1:]: 6 examples = train[1:7] (6)" in result.stdout
    assert "Wrote 6 examples of camvid train[1:] as split train to 3 shards" in result.stdout
    camvid = _examples(data.open_source("camvid", tmp_path / "camvid", "train"))
    records = data.open_source("tfrecord", tmp_path / "records", "train")
    assert _examples(records) == camvid[1:]
    assert _examples(data.open_source("tfrecord", tmp_path / "records", "train[2:5]")) == camvid[3:6]
    assert records.size is None and records.count() == 6  # counted from the records, none decoded
    assert _examples(data.open_source("tfrecord", tmp_path / "records", "train[-2:]")) == camvid[5:7]
    unnamed = subprocess.run(
        command + ["--split=train[1:]", f"--output={tmp_path / 'x'}"], capture_output=True, text=True
    )
    assert unnamed.returncode != 0
    assert (
        unnamed.stderr.strip()
        .splitlines()[-1]
        .startswith("error: --split=train[1:] is an expression; name the split it is written as with --output_split")
    )


@pytest.mark.parametrize(
    "make_config, flag",
    [
        (lambda split: TrainConfig(model_dir="run", model="unet", val_split=split), "--val_split"),
        (lambda split: TrainConfig(model_dir="run", model="unet", train_split=split), "--split"),
        (lambda split: EvalConfig(model="m.keras", dataset="camvid", split=split), "--split"),
    ],
)
@pytest.mark.parametrize("expression", ["train[:90]%", "train[", "train[a:b]"])
def test_a_bad_expression_is_refused_naming_its_flag(make_config, flag, expression):
    with pytest.raises(ValueError, match=rf"^{flag}='{re.escape(expression)}' is not a valid split"):
        make_config(expression)


def test_only_the_validation_split_may_be_empty():
    assert TrainConfig(model_dir="run", model="unet", val_split="").val_split == ""  # trains without validation
    with pytest.raises(ValueError, match="^--split='' is not a valid split"):
        TrainConfig(model_dir="run", model="unet", train_split="")
    with pytest.raises(ValueError, match="^--split='' is not a valid split"):
        EvalConfig(model="m.keras", dataset="camvid", split="")


def test_an_expression_that_selects_nothing_or_shards_is_refused():
    with pytest.raises(ValueError, match=r"split expression 'train\[5:2\]' holds no examples \(sizes: train 8\)"):
        data.open_source("synthetic", None, "train[5:2]", num_images=8)
    with pytest.raises(ValueError, match="slices by shard are for tfds: datasets only"):
        data.open_source("synthetic", None, "train[1shard]", num_images=8)
    with pytest.raises(ValueError, match="has no split 'tain'; valid splits: train, val, test"):
        data.open_source("synthetic", None, "tain[:5]", num_images=8)


def test_describe_counts_each_part():
    source = data.open_source("synthetic", None, "train[:90%]+val", num_images=10)
    assert split_expressions.describe(source, "train[:90%]+val") == (
        "train[:90%]+val: 19 examples = train[0:9] (9) + val[0:10] (10)"
    )
    assert split_expressions.describe(data.open_source("synthetic", None, "val"), "val") == "val: 64 examples"


def test_pairs_without_a_val_folder_say_how_to_hold_out_train(tmp_path):
    make_cityscapes_pairs(tmp_path, np.random.default_rng(0), count=2)
    with pytest.raises(FileNotFoundError, match=r"val folder not found; hold out a block of train instead: "):
        data.open_source("cityscapes_pairs", tmp_path, "val")
