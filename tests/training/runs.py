"""Running `python -m fcnseg.train` on tiny synthetic data, in a subprocess as a user would."""

import os
import subprocess
import sys

# A two-level U-Net on 64x64 crops of eight synthetic scenes: a few seconds an epoch.
TINY = [
    "--model=unet",
    "--model_option=depth=2",
    "--model_option=base_filters=8",
    "--crop_size=64,64",
    "--batch_size=4",
    "--steps_per_epoch=3",
    "--dataset_option=num_images=8",
    "--optimizer=adam",
    "--learning_rate=0.01",
    "--seed=1",
    "--tensorboard_images=1",
]

# The same kind of tiny run as `TrainConfig` fields, for in-process tests; the model is theirs.
TINY_CONFIG = dict(
    dataset_options={"num_images": 8, "height": 64, "width": 64},
    crop_size=(64, 64),
    batch_size=4,
    epochs=1,
    steps_per_epoch=2,
    optimizer="adam",
    learning_rate=0.01,
    seed=3,
)


def train_command(model_dir, *flags, tiny=True):
    return [sys.executable, "-m", "fcnseg.train", f"--model_dir={model_dir}", *(TINY if tiny else []), *flags]


def environment(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def run_train(model_dir, *flags, tiny=True, timeout=600, **env):
    """Runs a training to the end; returns the CompletedProcess (stdout and stderr as text).

    `tiny` adds the `TINY` flags before `flags`.
    """
    command = train_command(model_dir, *flags, tiny=tiny)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment(**env))
