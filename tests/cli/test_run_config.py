"""A run's config: `run_config.json` round trips, and a run folder from before it (flags.txt only) reads the same."""

import dataclasses
import json

import pytest
from absl import flags
from training.runs import TINY

from fcnseg.cli.train_flags import config_from_flags, define_train_flags, flags_text, run_config, upgrade_run_folder
from fcnseg.data.augment import Augmentation
from fcnseg.training import run_dir
from fcnseg.training.config import TrainConfig


def _parsed(*argv):
    values = flags.FlagValues()
    names = define_train_flags(values)
    values(["train", *argv])
    return values, names


def _old_run_folder(tmp_path, *argv):
    """A run folder as training wrote it before run_config.json existed: flags.txt of every train flag."""
    values, names = _parsed(f"--model_dir={tmp_path}", *TINY, *argv)
    (tmp_path / "flags.txt").write_text(flags_text(values, names))
    return config_from_flags(values)


def test_the_json_round_trip_keeps_every_field():
    config = TrainConfig(
        "runs/x",
        model="deeplabv3plus_mobilenetv2",
        model_options={"output_stride": 8},
        dataset_options={"grouping": "4class"},
        crop_size=(64, 96),
        eval_size=(128, 256),
        augmentation=Augmentation(min_scale=0.75, flip=False),
        seed=3,
    )
    assert TrainConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["crop_size"] == [64, 96]


def test_a_json_file_of_an_older_version_takes_the_defaults_of_new_fields():
    values = json.loads(TrainConfig("runs/x", epochs=3).to_json())
    del values["tensorboard_images"]
    assert TrainConfig.from_json(json.dumps(values)) == TrainConfig("runs/x", epochs=3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "runs/x/run_config.json: not a run config"),
        (
            '{"model_dir": "x", "colour": 1}',
            "runs/x/run_config.json: not a run config of this fcnseg version; unknown colour",
        ),
        ("[1, 2]", "not a run config of this fcnseg version"),
        ('{"model_dir": "x", "batch_size": 0}', "--batch_size=0 is not valid"),
    ],
)
def test_a_bad_json_file_is_refused_with_its_name(text, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_json(text, "runs/x/run_config.json")


def test_changes_are_named_by_their_flags_and_resumable_ones_left_out():
    before = TrainConfig("a", model_options={"depth": 2}, dataset_options={"num_images": 8})
    after = dataclasses.replace(
        before,
        model_dir="b",
        epochs=20,
        data_dir="elsewhere",
        strategy="mirrored",
        learning_rate=0.5,
        train_split="val",
        model_options={"depth": 3},
        augmentation=Augmentation(flip=False),
    )
    assert after.changes_from(before) == ["--flip", "--learning_rate", "--model_option=depth", "--split"]
    assert before.changes_from(TrainConfig.from_json(before.to_json())) == []


def test_a_folder_with_run_config_json_reads_it(tmp_path):
    config = TrainConfig(str(tmp_path), crop_size=(96, 96))
    run_dir.write_config(tmp_path, config)
    (tmp_path / "flags.txt").write_text("--crop_size=32,32\n")  # the JSON file, not the flags, is the config
    assert run_config(tmp_path / "best.keras") == config
    assert run_config(tmp_path) == config


def test_a_folder_from_before_run_config_json_reads_its_flags_as_the_train_command_does(tmp_path):
    expected = _old_run_folder(tmp_path, "--eval_size=64,128", "--noflip")
    config = run_config(tmp_path / "best.keras")
    assert config == expected
    assert config.crop_size == (64, 64) and config.eval_size == (64, 128) and not config.augmentation.flip
    assert config.model_options == {"depth": 2, "base_filters": 8} and config.dataset_options == {"num_images": 8}
    assert not (tmp_path / "run_config.json").exists()

    upgrade_run_folder(tmp_path)
    assert run_dir.read_config(tmp_path) == expected


def test_a_folder_of_no_run_has_no_config(tmp_path):
    assert run_config(tmp_path / "best.keras") is None
    upgrade_run_folder(tmp_path)
    assert not (tmp_path / "run_config.json").exists()


def test_flags_that_are_not_a_runs_are_refused_with_the_files_name(tmp_path):
    (tmp_path / "flags.txt").write_text("--model_dir=x\n--colour=red\n")
    with pytest.raises(ValueError, match=f"{tmp_path / 'flags.txt'}: not the flags of a training run"):
        run_config(tmp_path)
