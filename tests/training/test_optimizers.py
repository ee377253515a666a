"""Learning-rate schedules and the weight decay of the optimizers."""

import keras
import numpy as np
import pytest

from fcnseg.training.optimizers import LinearWarmup, learning_rate_schedule, make_optimizer


def _rates(schedule, steps):
    return np.array([float(schedule(step)) if callable(schedule) else schedule for step in steps])


def test_polynomial_decay_follows_deeplab_poly():
    schedule = learning_rate_schedule("polynomial", 0.01, total_steps=100, power=0.9)
    steps = np.array([0, 10, 50, 99])
    np.testing.assert_allclose(_rates(schedule, steps), 0.01 * (1 - steps / 100) ** 0.9, rtol=1e-5)


def test_cosine_decay_ends_at_the_end_rate():
    schedule = learning_rate_schedule("cosine", 0.1, total_steps=100, end_learning_rate=0.001)
    rates = _rates(schedule, [0, 50, 100])
    np.testing.assert_allclose(rates, [0.1, 0.001 + 0.5 * 0.099, 0.001], rtol=1e-5)


def test_warmup_rises_linearly_then_hands_over():
    schedule = learning_rate_schedule("polynomial", 0.01, total_steps=110, warmup_steps=10, power=1.0)
    rates = _rates(schedule, [0, 4, 9, 10, 60])
    np.testing.assert_allclose(rates, [0.001, 0.005, 0.01, 0.01, 0.005], rtol=1e-5)
    constant = learning_rate_schedule("constant", 0.02, total_steps=50, warmup_steps=4)
    np.testing.assert_allclose(_rates(constant, [0, 3, 4, 40]), [0.005, 0.02, 0.02, 0.02], rtol=1e-6)


def test_warmup_serialises_with_the_optimizer():
    optimizer = make_optimizer("sgd", learning_rate_schedule("cosine", 0.1, 100, warmup_steps=5))
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again._learning_rate, LinearWarmup)
    assert float(again._learning_rate(3)) == pytest.approx(float(optimizer._learning_rate(3)))


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_weight_decay_shrinks_kernels_but_not_biases(name):
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    layer.kernel.assign(np.ones((2, 3), np.float32))
    layer.bias.assign(np.ones(3, np.float32))
    optimizer = make_optimizer(name, 0.1, weight_decay=0.5)
    optimizer.apply([np.zeros((2, 3), np.float32), np.zeros(3, np.float32)], [layer.kernel, layer.bias])
    np.testing.assert_allclose(layer.kernel.numpy(), 0.95, rtol=1e-6)
    np.testing.assert_array_equal(layer.bias.numpy(), 1.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_optimizer("rmsprop", 0.1), "Unknown optimizer 'rmsprop'"),
        (lambda: learning_rate_schedule("step", 0.1, 10), "Unknown learning-rate schedule 'step'"),
    ],
)
def test_unknown_names_fail_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()
