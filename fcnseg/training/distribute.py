"""Choosing the `tf.distribute` strategy of a run, and which worker writes its outputs."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices):
    """Splits the CPU into `num_devices` logical devices, so `mirrored` can run without GPUs.

    Must be called before TensorFlow starts its runtime (before any tensor is made).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as error:
        raise RuntimeError(
            f"Cannot split the CPU into {num_devices} devices once TensorFlow has started: {error}"
        ) from None


def make_strategy(name):
    """The strategy called `name`.

    - "auto": `MirroredStrategy` over all GPUs when there are several, else the default
      strategy (one GPU if present, else the CPU).
    - "one_device": the first GPU, else the CPU.
    - "mirrored": all local GPUs, else all logical CPU devices (see `split_cpu`).
    - "multi_worker": `MultiWorkerMirroredStrategy`; the cluster comes from `TF_CONFIG`.
    - "tpu": `TPUStrategy` on the TPU found by `TPUClusterResolver`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; valid strategies: {', '.join(STRATEGIES)}.")
    if name == "multi_worker":  # before anything starts TensorFlow's runtime, listing devices included
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable describing the cluster.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if name == "auto":
        return tf.distribute.MirroredStrategy(gpus) if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(gpus or [device.name for device in tf.config.list_logical_devices("CPU")])
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def worker_subdir():
    """The folder, relative to the run's, where this worker writes: "" for the chief.

    In a multi-worker cluster every worker must save (saving is collective), but only the
    chief ("chief", or "worker" 0 when there is no chief) writes the run's own files;
    the others write under `workers/<type>_<index>`.
    """
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    task_type, index = task.get("type"), task.get("index", 0)
    has_chief = "chief" in config.get("cluster", {})
    if task_type is None or task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief):
        return ""
    return os.path.join("workers", f"{task_type}_{index}")
