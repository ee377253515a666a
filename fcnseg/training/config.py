"""The configuration of a training run, `TrainConfig`: every setting, each checked here once.

A run writes its config to `run_config.json` (`to_json`), which resuming, evaluation and
export read back (`from_json`).
"""

import dataclasses
import json
from typing import Optional

from fcnseg import models
from fcnseg.conventions import check_size
from fcnseg.data import split_expressions
from fcnseg.data.augment import Augmentation
from fcnseg.training.distribute import STRATEGIES
from fcnseg.training.losses import LOSSES
from fcnseg.training.optimizers import OPTIMIZERS, SCHEDULES

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
# Settings a resumed run may change: how long it trains, where the data is, what it runs on.
RESUMABLE_CHANGES = ("epochs", "data_dir", "model_dir", "strategy")
# Config fields named otherwise on the command line of `python -m fcnseg.train`.
_FLAG_NAMES = {"train_split": "split", "model_options": "model_option", "dataset_options": "dataset_option"}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs. Field names are the flags of `python -m fcnseg.train`.

    Args:
        model_dir: str. Where the run's files go; the same folder resumes the run.
        model: str. A name from `fcnseg.list_models()`.
        model_options: dict. The model's own options.
        encoder_weights: str or None. None, "imagenet" or a weights file.
        dataset: str. A name from `fcnseg.data.list_datasets()` or `tfds:<name>`.
        data_dir: str or None. The dataset's folder.
        dataset_options: dict. The dataset's own options.
        train_split, val_split: str. The splits to train and validate on (split expressions);
            an empty `val_split` trains without validation: `best.keras` is the last epoch.
        crop_size: (height, width). Training crops; divisible by the model's factor.
        eval_size: (height, width) or None. Validation resize; None is full resolution.
        batch_size: int. The global batch, split across replicas.
        epochs: int. Epochs in all, counting those of a resumed run.
        steps_per_epoch: int or None. None is one pass over the training split.
        optimizer: str. "sgd", "adam" or "adamw".
        learning_rate, momentum, weight_decay: float.
        schedule: str. "constant", "polynomial" or "cosine".
        warmup_steps: int. Linear warm-up steps.
        end_learning_rate: float. The last rate of "polynomial" and "cosine".
        loss: str. "cross_entropy", "focal" or "ohem_cross_entropy".
        focal_gamma, dice_weight: float. See `SegmentationLoss`.
        ohem_threshold, ohem_min_kept: float, int. See `SegmentationLoss`; only with
            `loss="ohem_cross_entropy"`.
        batch_norm_momentum: float or None. Sets the momentum of every batch norm layer of
            the model for this run; None keeps each layer's own.
        auxiliary_weight: float or None. The loss weight of every auxiliary head of the
            model (`fcnseg.models.auxiliary_loss_weights`); None takes the paper's
            weights, 0 trains without the heads.
        teacher: str or None. A trained model file (`.keras`) of the same classes to distil
            from (`fcnseg.training.distillation`); None trains without one.
        distillation_temperature, distillation_weight: float. The softening temperature and
            the loss weight of the distillation term; only with `teacher`.
        ema: float or None. Keep an exponential moving average of the trainable weights with
            this momentum (the optimizer's `use_ema`), validate and save it; None for none.
        class_weights: str. "none", "median_frequency" (from the training split),
            "sqrt_median_frequency" (its square root) or the path of a JSON file: a list of
            weights, or an object of class name -> weight.
        freeze_encoder_epochs: int. Epochs at the start with the encoder frozen.
        mixed_precision: str. "none", "mixed_float16" or "mixed_bfloat16".
        jit_compile: bool. Compile the train step with XLA.
        steps_per_execution: int. Train steps per call into the graph.
        strategy: str. See `fcnseg.distribute.make_strategy`.
        augmentation: Augmentation. Random changes to training examples.
        cache: bool. Keep decoded examples in memory after the first epoch.
        seed: int or None. Makes weights, shuffling and augmentation repeatable.
        tensorboard_images: int. Validation images drawn with predictions in TensorBoard.
    """

    model_dir: str
    model: str = "unet"
    model_options: dict = dataclasses.field(default_factory=dict)
    encoder_weights: Optional[str] = None
    dataset: str = "synthetic"
    data_dir: Optional[str] = None
    dataset_options: dict = dataclasses.field(default_factory=dict)
    train_split: str = "train"
    val_split: str = "val"
    crop_size: tuple = (512, 512)
    eval_size: Optional[tuple] = None
    batch_size: int = 8
    epochs: int = 10
    steps_per_epoch: Optional[int] = None
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    end_learning_rate: float = 0.0
    loss: str = "cross_entropy"
    focal_gamma: float = 2.0
    dice_weight: float = 0.0
    ohem_threshold: float = 0.7
    ohem_min_kept: int = 100_000
    auxiliary_weight: Optional[float] = None
    batch_norm_momentum: Optional[float] = None
    teacher: Optional[str] = None
    distillation_temperature: float = 1.0
    distillation_weight: float = 1.0
    ema: Optional[float] = None
    class_weights: str = "none"
    freeze_encoder_epochs: int = 0
    mixed_precision: str = "none"
    jit_compile: bool = False
    steps_per_execution: int = 1
    strategy: str = "auto"
    augmentation: Augmentation = Augmentation()
    cache: bool = False
    seed: Optional[int] = None
    tensorboard_images: int = 3

    def to_json(self):
        """The config as JSON text, which `from_json` reads back."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text, source="the run config"):
        """The config of `to_json`'s text; fields it lacks take their defaults.

        Args:
            text: str.
            source: str. Where the text comes from (a file name), for errors.
        """
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: not a run config ({error}).") from None
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known) if isinstance(values, dict) else ["(not an object)"]
        if unknown:
            raise ValueError(f"{source}: not a run config of this fcnseg version; unknown {', '.join(unknown)}.")
        if "augmentation" in values:
            values["augmentation"] = Augmentation(**values["augmentation"])
        for name in ("crop_size", "eval_size"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    def changes_from(self, other):
        """The flags whose values differ from `other`'s, but for `RESUMABLE_CHANGES`, e.g. ["--learning_rate"]."""
        mine, theirs = _flag_values(self), _flag_values(other)
        return sorted(
            f"--{name}"
            for name in set(mine) | set(theirs)
            if name not in RESUMABLE_CHANGES and mine.get(name) != theirs.get(name)
        )

    def __post_init__(self):
        choices = {
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
            "loss": LOSSES,
            "mixed_precision": MIXED_PRECISION,
            "strategy": STRATEGIES,
            "model": models.list_models(),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"--{name}={getattr(self, name)} is not valid; expected one of {', '.join(valid)}.")
        unknown = sorted(set(self.model_options) - set(models.model_options(self.model)))
        if unknown:
            valid = ", ".join(models.model_options(self.model)) or "none"
            raise ValueError(
                f"--model_option {', '.join(unknown)} does not apply to --model={self.model}; its options: {valid}."
            )
        split_expressions.check(self.train_split, "--split")
        if self.val_split:
            split_expressions.check(self.val_split, "--val_split")
        for name in ("batch_size", "epochs", "steps_per_execution"):
            _check_at_least(name, getattr(self, name), 1)
        for name in (
            "warmup_steps",
            "freeze_encoder_epochs",
            "weight_decay",
            "focal_gamma",
            "dice_weight",
            "end_learning_rate",
        ):
            _check_at_least(name, getattr(self, name), 0)
        if self.steps_per_epoch is not None:
            _check_at_least("steps_per_epoch", self.steps_per_epoch, 1)
        if self.auxiliary_weight is not None:
            _check_at_least("auxiliary_weight", self.auxiliary_weight, 0)
        _check_at_least("ohem_min_kept", self.ohem_min_kept, 1)
        if self.batch_norm_momentum is not None and not 0 <= self.batch_norm_momentum < 1:
            raise ValueError(
                f"--batch_norm_momentum={self.batch_norm_momentum} is not valid; expected a value in [0, 1)."
            )
        if not self.distillation_temperature > 0:
            raise ValueError(
                f"--distillation_temperature={self.distillation_temperature} is not valid; expected a positive number."
            )
        _check_at_least("distillation_weight", self.distillation_weight, 0)
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"--ema={self.ema} is not valid; expected a momentum in (0, 1), e.g. 0.999.")
        if not 0 < self.ohem_threshold <= 1:
            raise ValueError(f"--ohem_threshold={self.ohem_threshold} is not valid; expected a value in (0, 1].")
        defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name in ("ohem_threshold", "ohem_min_kept"):
            if self.loss != "ohem_cross_entropy" and getattr(self, name) != defaults[name]:
                raise ValueError(f"--{name} applies to --loss=ohem_cross_entropy only, not --loss={self.loss}.")
        for name in ("distillation_temperature", "distillation_weight"):
            if self.teacher is None and getattr(self, name) != defaults[name]:
                raise ValueError(f"--{name} applies only with --teacher.")
        if not self.learning_rate > 0:
            raise ValueError(f"--learning_rate={self.learning_rate} is not valid; expected a positive number.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"--momentum={self.momentum} is not valid; expected a value in [0, 1).")
        for name in ("crop_size", "eval_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_size(name, getattr(self, name)))
        if self.freeze_encoder_epochs >= self.epochs:
            raise ValueError(
                f"--freeze_encoder_epochs={self.freeze_encoder_epochs} must be fewer than --epochs={self.epochs}."
            )
        if self.strategy == "tpu" and self.mixed_precision == "mixed_float16":
            raise ValueError(
                "--mixed_precision=mixed_float16 does not apply to --strategy=tpu; TPUs use mixed_bfloat16."
            )


def _check_at_least(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"--{name}={value} is not valid; expected a number of at least {minimum}.")


def check_model(config, num_classes):
    """Builds the model at the crop size and the validation size, so a size or option the run
    cannot take fails before any data is read (the run loads its teacher as early)."""
    width_multiplier = config.model_options.get("width_multiplier", 1.0)
    if width_multiplier != 1.0 and config.encoder_weights is not None:
        raise ValueError(
            f"--model_option=width_multiplier={width_multiplier} needs --encoder_weights=none: "
            "pretrained weights exist only at width 1."
        )
    sizes = {"crop_size": config.crop_size, "eval_size": config.eval_size}
    for name, size in sizes.items():
        if size is None:
            continue
        try:
            model = models.build_model(config.model, num_classes, (*size, 3), None, **config.model_options)
        except ValueError as error:
            raise ValueError(f"--model={config.model} at --{name}={size[0]},{size[1]}: {error}") from None
    if config.auxiliary_weight is not None and not models.auxiliary_loss_weights(config.model):
        raise ValueError(
            f"--auxiliary_weight={config.auxiliary_weight}: --model={config.model} has no auxiliary heads; "
            f"models with them: {', '.join(models.models_with_auxiliary_heads())}."
        )
    if config.freeze_encoder_epochs and not any(layer.name == "encoder" for layer in model.layers):
        raise ValueError(
            "--freeze_encoder_epochs needs a model with an encoder; "
            f"--model={config.model} with these options has none."
        )


def _flag_values(config):
    """The config's values by flag name, JSON-normalised (tuples as lists), with one entry per
    augmentation setting and per model or dataset option."""
    values = json.loads(config.to_json())
    flat = {}
    for name, value in values.items():
        if name == "augmentation":
            flat.update(value)
        elif name in ("model_options", "dataset_options"):
            flat.update({f"{_FLAG_NAMES[name]}={key}": option for key, option in value.items()})
        else:
            flat[_FLAG_NAMES.get(name, name)] = value
    return flat
