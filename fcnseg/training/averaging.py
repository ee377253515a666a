"""Weight averaging: validate and save an exponential moving average of the weights.

Polyak and Juditsky, "Acceleration of stochastic approximation by averaging" (1992); the
optimizer keeps the average (Keras' `use_ema`, `ema_momentum`), these callbacks decide when the
model holds it. Keras' own `SwapEMAWeights` swaps the trained weights into the optimizer's
averages, so a backup taken meanwhile saves them the wrong way round; and at the end of every
fit Keras writes the averages into the model's trainable weights of the moment, which with
a frozen encoder are fewer than the optimizer's and get the wrong averages. Here the averages
stay in the optimizer, a copy of the trained weights is kept aside while the averages are in
the model, and the end-of-fit overwrite is switched off for the fits these callbacks run in.
"""

import keras


class WeightAveraging:
    """Puts the optimizer's weight averages in the model for validation and for the checkpoints.

    In each epoch: validation runs on the averages; at the epoch's end the averages go in for
    the checkpoints (`best.keras`, `last.keras`), and the trained weights come back before the
    backup, which saves them with the optimizer's state, averages included, so a resumed run
    goes on with both. After `fit` the model holds the trained weights (during it the
    optimizer's `finalize_variable_values` does nothing), so a second fit (`--freeze_encoder_epochs`)
    trains on from them with the same averages.

    Batch-norm statistics are not averaged: they are the moving averages the trained weights
    produced, a close match for the averaged weights when the momentum is high.

    Args:
        model: the compiled model whose optimizer has `use_ema=True` and is built.
    """

    def __init__(self, model):
        self._model = model
        self._trained = None  # the trained weights, kept while the averages are in the model

    def callbacks(self, checkpoints, backup):
        """`checkpoints` and `backup` with the callbacks that swap around them, in order."""
        averages_in = keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: self._keep_trained_weights_at_the_end(True),
            on_train_end=lambda logs: self._keep_trained_weights_at_the_end(False),
            on_test_begin=lambda logs: self._averages_in(),
            on_test_end=lambda logs: self._trained_back(),
            on_epoch_end=lambda epoch, logs: self._averages_in(),
        )
        trained_back = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self._trained_back())
        return [averages_in, *checkpoints, trained_back, backup]

    def _optimizer(self):
        return getattr(self._model.optimizer, "inner_optimizer", self._model.optimizer)

    def _keep_trained_weights_at_the_end(self, keep):
        """Switches Keras' end-of-fit overwrite with the averages off (True) or back on (False)."""
        optimizer = self._optimizer()
        if keep:
            optimizer.finalize_variable_values = lambda variables: None
        else:
            del optimizer.finalize_variable_values  # the class's method again

    def _pairs(self):
        optimizer = self._optimizer()
        return list(zip(optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True))

    def _averages_in(self):
        pairs = self._pairs()
        self._trained = [keras.ops.convert_to_numpy(variable) for variable, _ in pairs]
        for variable, average in pairs:
            variable.assign(average)

    def _trained_back(self):
        for (variable, _), trained in zip(self._pairs(), self._trained):
            variable.assign(trained)
        self._trained = None
