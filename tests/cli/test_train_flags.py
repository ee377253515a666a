"""Flags of `python -m fcnseg.train`: recipes parse, bad values fail before any work with one line."""

import dataclasses
import pathlib

import pytest
from absl.testing import flagsaver
from commands import run_together
from training.runs import environment, train_command

from fcnseg import train

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(path.name for path in CONFIGS.glob("*.flags"))


def _config(*argv):
    with flagsaver.flagsaver():
        train.FLAGS.unparse_flags()
        train.FLAGS(["train", "--model_dir=unused", *argv])
        return train.config_from_flags(train.FLAGS)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_gives_a_valid_config(recipe, monkeypatch):
    monkeypatch.chdir(CONFIGS.parent)
    config = _config(f"--flagfile=configs/{recipe}")
    assert config.epochs >= 1 and config.crop_size[0] % 32 == 0 and config.crop_size[1] % 32 == 0


def test_the_trainval_recipe_is_its_twin_on_train_and_val_for_the_same_steps(monkeypatch):
    monkeypatch.chdir(CONFIGS.parent)
    twin = _config("--flagfile=configs/ddrnet23_slim_camvid.flags")
    final = _config("--flagfile=configs/ddrnet23_slim_camvid_trainval.flags")
    differing = {field.name for field in dataclasses.fields(twin) if getattr(twin, field.name) != getattr(final, field.name)}
    assert differing == {"model_dir", "train_split", "val_split", "steps_per_epoch"}
    assert (final.train_split, final.val_split) == ("train+val", "")
    # The twin's epochs are one pass over CamVid train's 367 frames; the final fit takes as many steps.
    assert twin.steps_per_epoch is None and final.steps_per_epoch == 367 // twin.batch_size


def test_recipes_cover_the_projects_the_package_replaces():
    expected = {
        "quickstart.flags",
        "fcn8s_vgg16_cityscapes.flags",
        "fcn8s_vgg16_cityscapes_4class.flags",
        "fcn8s_vgg16_kitti_road.flags",
        "unet_cityscapes_pairs.flags",
        "fcn8s_vgg16_cityscapes_pairs.flags",
        "fcn8s_resnet50_cityscapes_pairs.flags",
        "deeplabv3plus_cityscapes.flags",
    }
    assert expected <= set(RECIPES)
    assert any("camvid" in name for name in RECIPES)


def test_command_line_overrides_the_flagfile(monkeypatch):
    monkeypatch.chdir(CONFIGS.parent)
    config = _config("--flagfile=configs/quickstart.flags", "--epochs=3", "--crop_size=64,128")
    assert (config.epochs, config.crop_size, config.model) == (3, (64, 128), "unet")
    assert config.model_options == {"depth": 3, "base_filters": 16}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--crop_size=64"], "--crop_size=64 is not valid"),
        (["--crop_size=a,b"], "--crop_size=a,b is not valid"),
        (["--batch_size=0"], "--batch_size=0 is not valid"),
        (["--learning_rate=-1"], "--learning_rate=-1.0 is not valid"),
        (["--momentum=1"], "--momentum=1.0 is not valid"),
        (["--model_option=widht=3"], "--model_option widht does not apply to --model=unet"),
        (["--model_option=depth"], "--model_option='depth' is not valid; expected key=value"),
        (["--grouping=4class"], "--grouping does not apply to --dataset=synthetic"),
        (["--freeze_encoder_epochs=10", "--epochs=10"], "--freeze_encoder_epochs=10 must be fewer than --epochs=10"),
        (["--strategy=tpu", "--mixed_precision=mixed_float16"], "TPUs use mixed_bfloat16"),
    ],
)
def test_bad_flags_name_the_flag(argv, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        _config(*argv)


BAD_RUNS = [
    (["--model=segformer"], "flag --model=segformer: value should be one of"),
    (["--dataset=camvid", "--crop_size=64,64"], "No data_dir given: pass the CamVid folder"),
    (["--dataset=camvid", "--crop_size=64,64", "--data_dir=/no/such/folder"], "/no/such/folder"),
    (["--crop_size=96,90"], "--model=unet at --crop_size=96,90: Input width 90"),
    (["--freeze_encoder_epochs=1", "--epochs=2"], "--freeze_encoder_epochs needs a model with an encoder"),
    (
        ["--model=fcn8s_resnet50", "--model_option=width_multiplier=0.5", "--encoder_weights=imagenet"],
        "--model_option=width_multiplier=0.5 needs --encoder_weights=none",
    ),
    (["--strategy=multi_worker"], "needs the TF_CONFIG environment variable"),
    (["--class_weights=missing.json"], "--class_weights=missing.json is not valid"),
    (
        ["--strategy=mirrored", "--cpu_devices=2", "--batch_size=3"],
        "--batch_size=3 does not split evenly across 2 replicas",
    ),
    (["--split=training"], "Dataset 'synthetic' has no split 'training'; valid splits: train, val, test."),
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """The results of every `BAD_RUNS` command, run at once."""
    folder = tmp_path_factory.mktemp("bad_runs")
    # Without TINY where a run names CamVid, or a model that TINY's U-Net options do not fit.
    commands = [
        train_command(
            folder / str(index),
            *flags,
            tiny="--dataset=camvid" not in flags and not any(flag.startswith("--model_option=") for flag in flags),
        )
        for index, (flags, _) in enumerate(BAD_RUNS)
    ]
    return run_together(commands, env=environment())


@pytest.mark.parametrize("index", range(len(BAD_RUNS)), ids=[" ".join(flags) for flags, _ in BAD_RUNS])
def test_bad_runs_end_with_one_line_before_training(bad_runs, index):
    message = BAD_RUNS[index][1]
    result = bad_runs[index]
    stdout, stderr = result.stdout, result.stderr
    assert result.returncode != 0
    last_line = stderr.strip().splitlines()[-1]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert message in stderr, stderr[-2000:]
    assert "Epoch 1/" not in stdout
    assert last_line.startswith(("error:", "FATAL Flags parsing error", "Pass --helpshort")), last_line
