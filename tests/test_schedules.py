"""Learning-rate schedules against hand-computed values, and their use by an optimizer."""
import math

import pytest

from nnkit import optimizers
from nnkit.layers import Dense
from nnkit.optimizers.schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay
from nnkit.params import ParameterStore


def test_exponential_decay():
    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.1 * 0.5 ** 0.5)          # 0.0707106...
    assert schedule(20) == pytest.approx(0.025)
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [stairs(s) for s in (0, 9, 10, 19, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_piecewise_constant_decay_boundaries_are_inclusive():
    schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 100, 101, 200, 201, 10_000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="len\\(values\\)"):
        PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="increase"):
        PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1])


def test_cosine_decay():
    schedule = CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(50) == pytest.approx(0.55)        # 0.9 * 0.5 * (1 + cos(pi/2)) + 0.1
    assert schedule(25) == pytest.approx(0.9 * 0.5 * (1 + math.sqrt(0.5)) + 0.1)
    assert schedule(100) == pytest.approx(0.1)
    assert schedule(1000) == pytest.approx(0.1)       # held at alpha after decay_steps


def test_cosine_decay_with_warmup():
    schedule = CosineDecay(0.0, decay_steps=100, warmup_target=1.0, warmup_steps=10)
    assert [schedule(s) for s in (0, 5, 10)] == pytest.approx([0.0, 0.5, 1.0])
    assert schedule(60) == pytest.approx(0.5)         # half-way through the decay
    assert schedule(110) == pytest.approx(0.0)
    assert schedule(500) == pytest.approx(0.0)


def test_optimizer_calls_the_schedule_with_its_step_number():
    layer = Dense(1, use_bias=False, kernel_initializer="zeros")
    layer.build_for((None, 1))
    store = ParameterStore([layer])
    optimizer = optimizers.SGD(learning_rate=PiecewiseConstantDecay([0, 1], [1.0, 0.1, 0.01]))
    optimizer.build(store)
    expected = 0.0
    for rate in (1.0, 0.1, 0.01, 0.01):
        store.grads[...] = 1.0
        optimizer.apply_gradients(store)
        expected -= rate
        assert float(store.values[0]) == pytest.approx(expected)


def test_schedule_survives_optimizer_config():
    optimizer = optimizers.Adam(learning_rate=CosineDecay(0.01, 50, warmup_target=0.1, warmup_steps=5))
    config = optimizer.get_config()
    assert config["learning_rate"] == {"class_name": "CosineDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 50, "alpha": 0.0, "name": "CosineDecay",
        "warmup_target": 0.1, "warmup_steps": 5}}
    clone = optimizers.Adam(learning_rate=config["learning_rate"])
    assert [clone.learning_rate(s) for s in (0, 3, 30)] == pytest.approx([0.01, 0.064, 0.1 * 0.5 * (1 + math.cos(math.pi * 25 / 50))])
