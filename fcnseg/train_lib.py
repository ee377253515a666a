"""A training run: `TrainConfig` in, a trained model and its files in `model_dir` out.

The run builds the input pipeline and the model under a `tf.distribute` strategy and a
dtype policy, and calls `model.fit` with validation every epoch. `model_dir` holds:

- `flags.txt`: the flags of the run (text given by the entry point), reusable as a flagfile;
- `classes.json`: the class names and colours, which evaluation, prediction and export read;
- `best.keras` (best validation mean IoU so far) and `last.keras`;
- `backup/`: the state `BackupAndRestore` resumes from after the run is killed;
- `log.csv`, `tensorboard/`, `class_weights.json` (when weighted), and at the end
  `metrics.json`: the per-class IoU, mean IoU and pixel accuracy of `best.keras` on the
  validation split.
"""

import csv
import dataclasses
import json
import os
from typing import Optional

import keras
import tensorflow as tf

from fcnseg import data, metrics, models
from fcnseg.callbacks import ImagesPerSecond, NonFiniteLossError, StopOnNonFiniteLoss, ValidationImages
from fcnseg.common_flags import flagfile_values
from fcnseg.data.augment import Augmentation
from fcnseg.data.pipeline import make_dataset
from fcnseg.data.specs import CLASSES_FILE
from fcnseg.distribute import STRATEGIES, make_strategy, worker_subdir
from fcnseg.losses import LOSSES, SegmentationLoss
from fcnseg.multi_worker_fit import mend_for_multi_worker
from fcnseg.optimizers import OPTIMIZERS, SCHEDULES, learning_rate_schedule, make_optimizer

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
MONITOR = "val_mean_iou"
# Flags a resumed run may change: how long it trains, where the data is, what it runs on.
RESUMABLE_CHANGES = ("epochs", "data_dir", "model_dir", "strategy", "cpu_devices")


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
        train_split, val_split: str. The splits to train and validate on.
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
        loss: str. "cross_entropy" or "focal".
        focal_gamma, dice_weight: float. See `SegmentationLoss`.
        class_weights: str. "none", "median_frequency" (from the training split) or the
            path of a JSON file: a list of weights, or an object of class name -> weight.
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
        if not self.learning_rate > 0:
            raise ValueError(f"--learning_rate={self.learning_rate} is not valid; expected a positive number.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"--momentum={self.momentum} is not valid; expected a value in [0, 1).")
        for name in ("crop_size", "eval_size"):
            size = getattr(self, name)
            if size is not None and (len(size) != 2 or min(size) < 1):
                raise ValueError(f"--{name}={size} is not valid; expected height,width, two positive integers.")
        if self.freeze_encoder_epochs >= self.epochs:
            raise ValueError(
                f"--freeze_encoder_epochs={self.freeze_encoder_epochs} must be fewer than --epochs={self.epochs}."
            )
        if self.strategy == "tpu" and self.mixed_precision == "mixed_float16":
            raise ValueError(
                "--mixed_precision=mixed_float16 does not apply to --strategy=tpu; TPUs use mixed_bfloat16."
            )
        if self.class_weights not in ("none", "median_frequency") and not os.path.isfile(self.class_weights):
            raise ValueError(
                f"--class_weights={self.class_weights} is not valid; "
                "expected none, median_frequency or an existing JSON file."
            )


def _check_at_least(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"--{name}={value} is not valid; expected a number of at least {minimum}.")


def check_model(config, num_classes):
    """Builds the model once at the crop size, so a bad crop or option fails before any data is read."""
    try:
        model = models.build_model(config.model, num_classes, (*config.crop_size, 3), None, **config.model_options)
    except ValueError as error:
        raise ValueError(
            f"--model={config.model} at --crop_size={config.crop_size[0]},{config.crop_size[1]}: {error}"
        ) from None
    if config.freeze_encoder_epochs and not any(layer.name == "encoder" for layer in model.layers):
        raise ValueError(
            "--freeze_encoder_epochs needs a model with an encoder; "
            f"--model={config.model} with these options has none."
        )


def train(config, flags_text=None, verbose=1):
    """Trains (or resumes, or reports a finished run) as `config` says.

    Args:
        config: TrainConfig.
        flags_text: str or None. The run's flags, one per line, written to `flags.txt`;
            a `model_dir` that holds a run with other flags (but for `RESUMABLE_CHANGES`)
            is refused.
        verbose: int. Keras' verbosity for the chief; other workers are quiet.

    Returns:
        The dict written to `metrics.json`.
    """
    out_dir = os.path.join(config.model_dir, worker_subdir())
    os.makedirs(out_dir, exist_ok=True)
    done = _completed_epochs(out_dir)
    if flags_text is not None and done:
        _check_same_run(os.path.join(out_dir, "flags.txt"), flags_text)
    if done > config.epochs:
        raise ValueError(f"--epochs={config.epochs} is fewer than the {done} epochs already trained in {out_dir}.")
    metrics_path = os.path.join(out_dir, "metrics.json")
    if done == config.epochs and os.path.exists(metrics_path):
        with open(metrics_path) as file:
            return json.load(file)
    # A multi-worker strategy must exist before TensorFlow runs anything.
    strategy = make_strategy(config.strategy)
    spec = data.dataset_spec(config.dataset, config.data_dir, **config.dataset_options)
    check_model(config, spec.num_classes)
    if flags_text is not None:
        with open(os.path.join(out_dir, "flags.txt"), "w") as file:
            file.write(flags_text)
    with open(os.path.join(out_dir, CLASSES_FILE), "w") as file:
        file.write(spec.to_json())
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"--batch_size={config.batch_size} does not split evenly across {strategy.num_replicas_in_sync} replicas."
        )
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if config.mixed_precision == "none" else config.mixed_precision)
    try:
        return _fit(config, spec, strategy, out_dir, done, verbose if not worker_subdir() else 0)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _fit(config, spec, strategy, out_dir, done, verbose):
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    options = config.dataset_options
    train_source = data.open_source(config.dataset, config.data_dir, config.train_split, **options)
    val_source = data.open_source(config.dataset, config.data_dir, config.val_split, **options)
    steps_per_epoch = config.steps_per_epoch or _one_pass(train_source, config)
    class_weights = _class_weights(config, spec, out_dir)
    train_data = make_dataset(
        train_source,
        training=True,
        batch_size=config.batch_size,
        crop_size=config.crop_size,
        augmentation=config.augmentation,
        cache=config.cache,
        seed=config.seed,
    ).repeat()
    val_data = make_dataset(
        val_source, training=False, batch_size=config.batch_size, eval_size=config.eval_size, cache=config.cache
    )

    with strategy.scope():
        model = models.build_model(
            config.model, spec.num_classes, encoder_weights=config.encoder_weights, **config.model_options
        )
        schedule = learning_rate_schedule(
            config.schedule,
            config.learning_rate,
            config.epochs * steps_per_epoch,
            config.warmup_steps,
            config.end_learning_rate,
        )
        optimizer = make_optimizer(config.optimizer, schedule, config.momentum, config.weight_decay)
        loss = SegmentationLoss(spec.num_classes, class_weights, config.loss, config.focal_gamma, config.dice_weight)
        mean_iou = metrics.mean_iou(spec.num_classes)

        def compile_model():
            model.compile(
                optimizer=getattr(model, "optimizer", None) or optimizer,
                loss=loss,
                metrics=[mean_iou, metrics.PixelAccuracy(spec.num_classes)],
                jit_compile=config.jit_compile,
                steps_per_execution=config.steps_per_execution,
            )

        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            mend_for_multi_worker(model)
        compile_model()
        # Built on every variable, so freezing the encoder and thawing it later keep one
        # optimizer state, which is what the backup saves and restores.
        model.optimizer.build(model.trainable_variables)

    if verbose:
        print(
            f"Training {config.model} on {config.dataset} ({spec.num_classes} classes) with "
            f"{strategy.num_replicas_in_sync} replica(s), {steps_per_epoch} steps per epoch, from epoch {done + 1}."
        )
    callbacks = _callbacks(config, spec, out_dir, val_source, done)
    fit = dict(
        x=train_data,
        validation_data=val_data,
        shuffle=False,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    diverged = None
    try:
        if done < config.freeze_encoder_epochs:
            model.get_layer("encoder").trainable = False
            with strategy.scope():
                compile_model()
            model.fit(epochs=config.freeze_encoder_epochs, **fit)
            model.get_layer("encoder").trainable = True
            with strategy.scope():
                compile_model()
        model.fit(epochs=config.epochs, initial_epoch=config.freeze_encoder_epochs, **fit)
    except NonFiniteLossError as error:
        diverged = str(error)  # raised afresh below, once fit's frames (and its input threads) are released
    if diverged:
        last = os.path.join(out_dir, "last.keras")
        kept = (
            f"the last good checkpoints are {last} and {out_dir}/backup"
            if os.path.exists(last)
            else "no epoch had finished"
        )
        raise NonFiniteLossError(f"{diverged} Training stopped; {kept}.")

    model.load_weights(os.path.join(out_dir, "best.keras"))
    scores = model.evaluate(val_data, verbose=verbose, return_dict=True)
    result = {
        "model": config.model,
        "dataset": config.dataset,
        "split": config.val_split,
        "epochs": config.epochs,
        "best_epoch": _best_epoch(out_dir),
        "loss": scores["loss"],
        **metrics.confusion_scores(mean_iou.total_cm.numpy(), spec.class_names),
    }
    with open(os.path.join(out_dir, "metrics.json"), "w") as file:
        json.dump(result, file, indent=2)
    return result


def _one_pass(source, config):
    if source.size is None:
        raise ValueError(f"The size of --dataset={config.dataset} is not known in advance; give --steps_per_epoch.")
    if source.size < config.batch_size:
        raise ValueError(
            f"The {config.train_split} split has {source.size} images, fewer than --batch_size={config.batch_size}."
        )
    return source.size // config.batch_size


def _class_weights(config, spec, out_dir):
    if config.class_weights == "none":
        return None
    if config.class_weights == "median_frequency":
        frequencies = data.class_frequencies(
            data.load(config.dataset, config.data_dir, config.train_split, **config.dataset_options), spec.num_classes
        )
        weights = data.median_frequency_weights(*frequencies).tolist()
    else:
        weights = _read_class_weights(config.class_weights, spec.class_names)
    with open(os.path.join(out_dir, "class_weights.json"), "w") as file:
        json.dump(dict(zip(spec.class_names, weights)), file, indent=2)
    return weights


def _read_class_weights(path, class_names):
    try:
        with open(path) as file:
            values = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--class_weights={path} cannot be read as JSON: {error}") from None
    if isinstance(values, dict):
        missing = [name for name in class_names if name not in values]
        if missing or len(values) != len(class_names):
            raise ValueError(
                f"--class_weights={path} must give a weight to exactly the classes {', '.join(class_names)}."
            )
        values = [values[name] for name in class_names]
    if not isinstance(values, list) or len(values) != len(class_names):
        raise ValueError(f"--class_weights={path} must hold {len(class_names)} weights, one per class.")
    if not all(isinstance(value, (int, float)) and value >= 0 for value in values):
        raise ValueError(f"--class_weights={path} must hold numbers of at least 0.")
    return [float(value) for value in values]


def _callbacks(config, spec, out_dir, val_source, done):
    _truncate_log(out_dir, done)
    callbacks = [ImagesPerSecond(config.batch_size), StopOnNonFiniteLoss()]
    if config.tensorboard_images:
        first = make_dataset(
            val_source, training=False, batch_size=config.tensorboard_images, eval_size=config.eval_size
        )
        images = next(iter(first))[0].numpy()
        callbacks.append(ValidationImages(os.path.join(out_dir, "tensorboard"), images, spec.colors))
    return callbacks + [
        keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False),
        keras.callbacks.CSVLogger(os.path.join(out_dir, "log.csv"), append=True),
        keras.callbacks.ModelCheckpoint(os.path.join(out_dir, "last.keras")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out_dir, "best.keras"),
            monitor=MONITOR,
            mode="max",
            save_best_only=True,
            initial_value_threshold=_best_so_far(out_dir),
        ),
        keras.callbacks.BackupAndRestore(
            os.path.join(out_dir, "backup"), delete_checkpoint=False, double_checkpoint=True
        ),
    ]


def _completed_epochs(out_dir):
    path = os.path.join(out_dir, "backup", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    try:
        with open(path) as file:
            return int(json.load(file)["epoch"])
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"{path} is damaged ({error}); delete {os.path.dirname(path)} to train from the start."
        ) from None


def _log_rows(out_dir):
    path = os.path.join(out_dir, "log.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _truncate_log(out_dir, epochs):
    """Drops rows of epochs after the last backup, which a resumed run trains again."""
    rows = _log_rows(out_dir)
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    with open(os.path.join(out_dir, "log.csv"), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def _best_row(out_dir):
    """The logged epoch with the best validation mean IoU, or None."""
    rows = [row for row in _log_rows(out_dir) if row.get(MONITOR)]
    return max(rows, key=lambda row: float(row[MONITOR])) if rows else None


def _best_so_far(out_dir):
    best = _best_row(out_dir)
    return float(best[MONITOR]) if best and os.path.exists(os.path.join(out_dir, "best.keras")) else None


def _best_epoch(out_dir):
    best = _best_row(out_dir)
    return int(best["epoch"]) + 1 if best else None


def _check_same_run(path, flags_text):
    if not os.path.exists(path):
        return
    with open(path) as file:
        before = flagfile_values(file.read())
    now = flagfile_values(flags_text)
    changed = sorted(
        name for name in set(before) | set(now) if name not in RESUMABLE_CHANGES and before.get(name) != now.get(name)
    )
    if changed:
        raise ValueError(
            f"{os.path.dirname(path) or '.'} holds a run with other flags "
            f"({', '.join('--' + name for name in changed)}); "
            "give a new --model_dir, or the same flags to resume it."
        )
