"""Deep supervision: training a model's auxiliary heads beside its main head.

BiSeNetV2's booster heads and DDRNet's auxiliary head add a loss on intermediate features
during training only (Lee et al., "Deeply-Supervised Nets", AISTATS 2015; Zhao et al.,
"Pyramid Scene Parsing Network", CVPR 2017, for segmentation). `DeepSupervision` trains
such a network and otherwise behaves as its main head alone.
"""

import keras


class DeepSupervision(keras.Model):
    """Trains a network on the weighted sum of its heads' losses; predicts with the main head.

    A training call returns every head's logits: the compiled loss applied to each head,
    times its weight, is added to the main head's loss (with the model's regularisation
    losses). Everything else sees the main head only: the compiled metrics, `evaluate`,
    `predict`, a call with `training=False`, and `inference_model`, the functional model
    that the run saves as its `.keras` files.

    Args:
        network: keras.Model. Outputs: the main logits, then each auxiliary head's logits.
        weights: sequence of float. One loss weight per auxiliary head.
    """

    def __init__(self, network, weights, **kwargs):
        super().__init__(name=network.name, **kwargs)
        if len(network.outputs) != len(weights) + 1:
            raise ValueError(
                f"{network.name} has {len(network.outputs) - 1} auxiliary heads but {len(weights)} weights were given."
            )
        self.network = network
        self.inference_model = keras.Model(network.inputs, network.outputs[0], name=network.name)
        self.auxiliary_weights = tuple(float(weight) for weight in weights)
        self.built = True  # its layers are those of the built `network`

    def call(self, images, training=False):
        if training:
            return self.network(images, training=True)
        return self.inference_model(images, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, (list, tuple)):
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        main, *auxiliary = y_pred
        total = super().compute_loss(x, y, main, sample_weight, training)
        for weight, logits in zip(self.auxiliary_weights, auxiliary):
            total = total + weight * self.loss(y, logits, sample_weight)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight)


def inference_model(model):
    """The model to save, evaluate and export: the main head of a `DeepSupervision`, else `model`."""
    return model.inference_model if isinstance(model, DeepSupervision) else model
