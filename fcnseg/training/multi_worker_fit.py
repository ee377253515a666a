"""Two mends that let Keras 3's `model.fit` run under `tf.distribute.MultiWorkerMirroredStrategy`.

Keras 3.15's TensorFlow trainer fails under a multi-worker strategy before the first step
(keras-team/keras#20585, open):

1. `fit` builds the model's state from a first batch that it averages across replicas with
   `strategy.reduce`, which cannot reduce a batch of images across workers. The batch
   is only used for its shapes and dtypes, so the model is built from the dataset's
   element spec instead.
2. The step averages each scalar metric across replicas with `strategy.reduce("MEAN",
   value, axis=0)`; a scalar has no axis 0. It is averaged with `axis=None`.

Both apply only under a multi-worker strategy and change nothing else. Remove this
module once Keras fixes the issue.
"""

import types

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

_keras_reduce_per_replica = tf_trainer.reduce_per_replica


def _reduce_per_replica(values, strategy, reduction):
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and reduction in ("auto", "mean"):
        return tf.nest.map_structure(
            lambda value: (
                strategy.reduce("MEAN", value, axis=None)
                if isinstance(value, tf.distribute.DistributedValues)
                else value
            ),
            values,
        )
    return _keras_reduce_per_replica(values, strategy, reduction)


def _build_from_element_spec(model, iterator=None, data_batch=None):
    if iterator is not None:
        data_batch = iterator.data_adapter.get_tf_dataset().element_spec
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)


def mend_for_multi_worker(model):
    """Lets `model.fit` and `model.evaluate` run under `MultiWorkerMirroredStrategy`."""
    tf_trainer.reduce_per_replica = _reduce_per_replica
    model._maybe_symbolic_build = types.MethodType(_build_from_element_spec, model)
