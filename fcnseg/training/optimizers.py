"""Optimizers and learning-rate schedules of the training recipes."""

import keras
from keras import ops

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "polynomial", "cosine")


@keras.saving.register_keras_serializable("fcnseg")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from near 0 to `after(0)` over `warmup_steps` steps, then follows `after`.

    Goyal et al., "Accurate, Large Minibatch SGD", 2017.

    Args:
        after: LearningRateSchedule or float. The schedule from the end of the warm-up on,
            counted from 0 at that point.
        warmup_steps: int. The length of the warm-up.
    """

    def __init__(self, after, warmup_steps):
        self.after = after
        self.warmup_steps = warmup_steps

    def _after(self, step):
        return self.after(step) if callable(self.after) else ops.convert_to_tensor(self.after, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self._after(0.0) * (step + 1) / self.warmup_steps
        return ops.where(step < self.warmup_steps, warm, self._after(ops.maximum(step - self.warmup_steps, 0.0)))

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        after = config["after"]
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        return cls(after, config["warmup_steps"])


def learning_rate_schedule(name, learning_rate, total_steps, warmup_steps=0, end_learning_rate=0.0, power=0.9):
    """A learning rate or schedule over `total_steps` optimizer steps.

    Args:
        name: str. "constant"; "polynomial", (lr - end) * (1 - step / steps)**power + end
            with end = `end_learning_rate` (DeepLab's "poly" policy); or "cosine", half a
            cosine down to `end_learning_rate` (Loshchilov and Hutter, SGDR, ICLR 2017).
        learning_rate: float. The peak rate.
        total_steps: int. Steps of the whole run, warm-up included.
        warmup_steps: int. Steps of linear warm-up before the schedule starts.
        end_learning_rate: float. The final rate of "polynomial" and "cosine".
        power: float. The exponent of "polynomial".
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}.")
    decay_steps = max(total_steps - warmup_steps, 1)
    if name == "constant":
        schedule = learning_rate
    elif name == "polynomial":
        schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, decay_steps, end_learning_rate, power)
    else:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, end_learning_rate / learning_rate)
    return LinearWarmup(schedule, warmup_steps) if warmup_steps else schedule


def make_optimizer(name, learning_rate, momentum=0.9, weight_decay=0.0, ema=None):
    """An optimizer with decoupled weight decay on kernels only (not biases or norm scales).

    Keras applies weight decay as `w -= lr * weight_decay * w`, outside the momentum: for
    AdamW that is Loshchilov and Hutter's decoupled decay. An L2 penalty `wd` of Caffe or
    TF-slim (the FCN and DeepLab papers) goes through SGD's momentum and shrinks weights by
    about `lr * wd / (1 - momentum)` a step, so the recipes give `wd / (1 - momentum)`.

    Args:
        name: str. "sgd" (with momentum), "adam" or "adamw".
        learning_rate: float or LearningRateSchedule.
        momentum: float. SGD's momentum.
        weight_decay: float. 0 for none.
        ema: float or None. The momentum of an exponential moving average of the weights that
            the optimizer keeps (Keras' `use_ema`); None for none.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}.")
    decay = weight_decay or None
    average = {"use_ema": True, "ema_momentum": ema} if ema is not None else {}
    if name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum, weight_decay=decay, **average)
    elif name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate, weight_decay=decay, **average)
    else:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **average)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
