"""A training run: `TrainConfig` in, a trained model and its files (see `run_dir`) in `model_dir` out.

The run builds the input pipeline and the model under a `tf.distribute` strategy and a
dtype policy, and calls `model.fit` with validation every epoch.
"""

import json
import os

import keras
import tensorflow as tf

from fcnseg import data, files, metrics, models
from fcnseg.data import split_expressions
from fcnseg.data.pipeline import make_dataset
from fcnseg.models.layers import all_layers
from fcnseg.training import run_dir
from fcnseg.training.averaging import WeightAveraging
from fcnseg.training.callbacks import (
    AtomicModelCheckpoint,
    EpochLog,
    ImagesPerSecond,
    NonFiniteLossError,
    StopOnNonFiniteLoss,
    ValidationImages,
)
from fcnseg.training.class_weights import COMPUTED, class_weights
from fcnseg.training.config import check_model
from fcnseg.training.deep_supervision import DeepSupervision, inference_model
from fcnseg.training.distillation import Distillation, load_teacher
from fcnseg.training.distribute import make_strategy, worker_subdir
from fcnseg.training.losses import SegmentationLoss
from fcnseg.training.multi_worker_fit import mend_for_multi_worker
from fcnseg.training.optimizers import learning_rate_schedule, make_optimizer


def train(config, flags_text=None, verbose=1):
    """Trains (or resumes, or reports a finished run) as `config` says.

    Args:
        config: TrainConfig.
        flags_text: str or None. The command's flags, one per line, written to `flags.txt`.
            A `model_dir` that holds a run of another config (but for
            `config.RESUMABLE_CHANGES`) is refused.
        verbose: int. Keras' verbosity for the chief; other workers are quiet.

    Returns:
        The dict written to `metrics.json`.
    """
    named = ("none", *COMPUTED)
    if config.class_weights not in named and not os.path.isfile(config.class_weights):
        raise ValueError(
            f"--class_weights={config.class_weights} is not valid; expected {', '.join(named)} or an existing "
            "JSON file."
        )
    out_dir = os.path.normpath(os.path.join(config.model_dir, worker_subdir()))
    os.makedirs(out_dir, exist_ok=True)
    with run_dir.lock(out_dir):
        return _train(config, flags_text, out_dir, verbose)


def _train(config, flags_text, out_dir, verbose):
    done = run_dir.completed_epochs(out_dir)
    if done:
        run_dir.check_same_run(out_dir, config)
    if done > config.epochs:
        raise ValueError(f"--epochs={config.epochs} is fewer than the {done} epochs already trained in {out_dir}.")
    metrics_path = os.path.join(out_dir, run_dir.METRICS_FILE)
    if done == config.epochs and os.path.exists(metrics_path):
        with open(metrics_path) as file:
            return json.load(file)
    # A multi-worker strategy must exist before TensorFlow runs anything.
    strategy = make_strategy(config.strategy)
    spec = data.dataset_spec(config.dataset, config.data_dir, **config.dataset_options)
    check_model(config, spec.num_classes)
    with strategy.scope():
        teacher = None if config.teacher is None else load_teacher(config.teacher, spec.num_classes, config.crop_size)
    run_dir.write_run_files(out_dir, config, spec, flags_text)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"--batch_size={config.batch_size} does not split evenly across {strategy.num_replicas_in_sync} replicas."
        )
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if config.mixed_precision == "none" else config.mixed_precision)
    try:
        return _fit(config, spec, strategy, teacher, out_dir, done, verbose if not worker_subdir() else 0)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _fit(config, spec, strategy, teacher, out_dir, done, verbose):
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    options = config.dataset_options
    train_source = data.open_source(config.dataset, config.data_dir, config.train_split, **options)
    val_source = None
    if config.val_split:
        val_source = data.open_source(config.dataset, config.data_dir, config.val_split, **options)
    steps_per_epoch = config.steps_per_epoch or _one_pass(train_source, config)
    weights = class_weights(config, spec, out_dir)
    train_data = make_dataset(
        train_source,
        training=True,
        batch_size=config.batch_size,
        crop_size=config.crop_size,
        augmentation=config.augmentation,
        cache=config.cache,
        seed=config.seed,
    ).repeat()
    val_data = None
    if val_source is not None:
        val_data = make_dataset(
            val_source, training=False, batch_size=config.batch_size, eval_size=config.eval_size, cache=config.cache
        )

    with strategy.scope():
        model = _build_model(config, spec.num_classes, teacher)
        schedule = learning_rate_schedule(
            config.schedule,
            config.learning_rate,
            config.epochs * steps_per_epoch,
            config.warmup_steps,
            config.end_learning_rate,
        )
        optimizer = make_optimizer(config.optimizer, schedule, config.momentum, config.weight_decay, config.ema)
        loss = SegmentationLoss(
            spec.num_classes,
            weights,
            config.loss,
            config.focal_gamma,
            config.dice_weight,
            ohem_threshold=config.ohem_threshold,
            ohem_min_kept=config.ohem_min_kept,
        )
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
        print(f"Training split {split_expressions.describe(train_source, config.train_split)}")
        if val_source is None:
            print("No validation split (--val_split is empty): best.keras is the last epoch.", flush=True)
        else:
            print(f"Validation split {split_expressions.describe(val_source, config.val_split)}", flush=True)
    callbacks = _callbacks(config, spec, model, out_dir, val_source, done)
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
            inference_model(model).get_layer("encoder").trainable = False
            with strategy.scope():
                compile_model()
            model.fit(epochs=config.freeze_encoder_epochs, **fit)
            inference_model(model).get_layer("encoder").trainable = True
            with strategy.scope():
                compile_model()
        model.fit(epochs=config.epochs, initial_epoch=config.freeze_encoder_epochs, **fit)
    except NonFiniteLossError as error:
        diverged = str(error)  # raised afresh below, once fit's frames (and its input threads) are released
    if diverged:
        last = os.path.join(out_dir, run_dir.LAST_MODEL)
        kept = (
            f"the last good checkpoints are {last} and {os.path.join(out_dir, run_dir.BACKUP_DIR)}"
            if os.path.exists(last)
            else "no epoch had finished"
        )
        raise NonFiniteLossError(f"{diverged} Training stopped; {kept}.")

    if val_source is None:
        return _write_metrics(out_dir, _unvalidated_result(config, out_dir))
    inference_model(model).load_weights(os.path.join(out_dir, run_dir.BEST_MODEL))
    scores = model.evaluate(val_data, verbose=verbose, return_dict=True)
    result = {
        "model": config.model,
        "dataset": config.dataset,
        "split": config.val_split,
        "epochs": config.epochs,
        "best_epoch": run_dir.best_epoch(out_dir),
        "loss": scores["loss"],
        **metrics.confusion_scores(mean_iou.total_cm.numpy(), spec.class_names),
    }
    return _write_metrics(out_dir, result)


def _unvalidated_result(config, out_dir):
    """The metrics of a run without validation: what it trained, and its last epoch's training logs."""
    last = run_dir.last_log_row(out_dir)
    return {
        "model": config.model,
        "dataset": config.dataset,
        "split": None,
        "validation": "none: --val_split was empty, so best.keras is the last epoch",
        "epochs": config.epochs,
        "best_epoch": config.epochs,
        "train_loss": float(last["loss"]),
        "train_mean_iou_on_crops": float(last["mean_iou"]),
    }


def _write_metrics(out_dir, result):
    files.write_text(os.path.join(out_dir, run_dir.METRICS_FILE), json.dumps(result, indent=2))
    return result


def _build_model(config, num_classes, teacher):
    """The model to train: with its auxiliary heads under `DeepSupervision` where it has any and
    `config.auxiliary_weight` is not 0, under `Distillation` of `teacher` (the loaded
    `config.teacher`, or None); with `config.batch_norm_momentum` where set."""
    paper_weights = models.auxiliary_loss_weights(config.model)
    weights = paper_weights if config.auxiliary_weight is None else [config.auxiliary_weight] * len(paper_weights)
    network = models.build_model(
        config.model,
        num_classes,
        encoder_weights=config.encoder_weights,
        auxiliary_heads=any(weights),
        **config.model_options,
    )
    if config.batch_norm_momentum is not None:
        for layer in all_layers(network):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = config.batch_norm_momentum
    if teacher is not None:
        heads = weights if any(weights) else []
        return Distillation(network, heads, teacher, config.distillation_temperature, config.distillation_weight)
    return DeepSupervision(network, weights) if any(weights) else network


def _one_pass(source, config):
    if source.size is None:
        raise ValueError(f"The size of --dataset={config.dataset} is not known in advance; give --steps_per_epoch.")
    if source.size < config.batch_size:
        raise ValueError(
            f"The {config.train_split} split has {source.size} images, fewer than --batch_size={config.batch_size}."
        )
    return source.size // config.batch_size


def _callbacks(config, spec, model, out_dir, val_source, done):
    run_dir.truncate_log(out_dir, done)
    callbacks = [ImagesPerSecond(config.batch_size), StopOnNonFiniteLoss()]
    if config.tensorboard_images and val_source is not None:
        first = make_dataset(
            val_source, training=False, batch_size=config.tensorboard_images, eval_size=config.eval_size
        )
        images = next(iter(first))[0].numpy()
        callbacks.append(ValidationImages(os.path.join(out_dir, "tensorboard"), images, spec.colors))
    callbacks += [
        keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False),
        EpochLog(out_dir),
    ]
    backup = keras.callbacks.BackupAndRestore(
        os.path.join(out_dir, run_dir.BACKUP_DIR), delete_checkpoint=False, double_checkpoint=True
    )
    checkpoints = [
        AtomicModelCheckpoint(os.path.join(out_dir, run_dir.LAST_MODEL)),
        _best_checkpoint(out_dir, val_source),
    ]
    if config.ema is None:
        return callbacks + checkpoints + [backup]
    return callbacks + WeightAveraging(model).callbacks(checkpoints, backup)


def _best_checkpoint(out_dir, val_source):
    """`best.keras`: the best epoch by validation mean IoU, or the last one without validation."""
    path = os.path.join(out_dir, run_dir.BEST_MODEL)
    if val_source is None:
        return AtomicModelCheckpoint(path)
    return AtomicModelCheckpoint(
        path,
        monitor=run_dir.MONITOR,
        mode="max",
        save_best_only=True,
        initial_value_threshold=run_dir.best_so_far(out_dir),
    )
