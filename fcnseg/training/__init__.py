"""Training: `TrainConfig` (config), `train` (run), the run folder's files (run_dir), and the
loss, optimizers, callbacks and `tf.distribute` strategies a run uses."""

from fcnseg.training.config import TrainConfig
from fcnseg.training.run import train

__all__ = ["TrainConfig", "train"]
