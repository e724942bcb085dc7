"""Optimizers and learning-rate schedules refuse bad hyper-parameters at construction, naming the class, the
argument and the value (a table: every argument of every optimizer and schedule, with each kind of bad value)."""
import math

import numpy
import pytest

from nnkit import optimizers
from nnkit.optimizers import schedules

NAN, INF = math.nan, math.inf
NOT_A_NUMBER = ["0.01", None, True, [0.1]]  # a ValueError; a TypeError for the learning rate
OPTIONAL = {"clipnorm", "clipvalue", "global_clipnorm", "warmup_target"}  # None: not set
NEGATIVE_OR_NOT_FINITE = [-1e-3, NAN, INF, -INF]  # ValueError

UNIT_OPEN = [-0.1, 1.0, 1.5, NAN]  # for [0, 1)
UNIT_CLOSED = [-0.1, 1.0001, NAN, INF]  # for [0, 1]
POSITIVE = [0, 0.0, -1e-7, NAN, INF]  # for > 0
NON_NEGATIVE = NEGATIVE_OR_NOT_FINITE

OPTIMIZER_CASES = {
    "SGD": {"learning_rate": NON_NEGATIVE, "momentum": UNIT_CLOSED, "clipnorm": POSITIVE, "clipvalue": POSITIVE,
            "global_clipnorm": POSITIVE},
    "Adam": {"learning_rate": NON_NEGATIVE, "beta_1": UNIT_OPEN, "beta_2": UNIT_OPEN, "epsilon": POSITIVE,
             "clipnorm": POSITIVE},
    "AdamW": {"learning_rate": NON_NEGATIVE, "weight_decay": NON_NEGATIVE, "beta_1": UNIT_OPEN, "beta_2": UNIT_OPEN,
              "epsilon": POSITIVE, "global_clipnorm": POSITIVE},
    "Adagrad": {"learning_rate": NON_NEGATIVE, "initial_accumulator_value": NON_NEGATIVE, "epsilon": POSITIVE,
                "clipvalue": POSITIVE},
    "RMSprop": {"learning_rate": NON_NEGATIVE, "rho": UNIT_OPEN, "momentum": UNIT_CLOSED, "epsilon": POSITIVE},
}
SCHEDULE_CASES = {
    "ExponentialDecay": ({"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
                         {"initial_learning_rate": NON_NEGATIVE, "decay_steps": POSITIVE, "decay_rate": POSITIVE}),
    "CosineDecay": ({"initial_learning_rate": 0.1, "decay_steps": 10, "warmup_target": 0.2, "warmup_steps": 3},
                    {"initial_learning_rate": NON_NEGATIVE, "decay_steps": POSITIVE, "alpha": UNIT_CLOSED,
                     "warmup_target": NON_NEGATIVE, "warmup_steps": NON_NEGATIVE}),
}


def _cases(table):
    for owner, arguments in table.items():
        for argument, bad_values in arguments.items():
            for value in bad_values:
                yield pytest.param(owner, argument, value, ValueError, id=f"{owner}-{argument}={value!r}")
            for value in NOT_A_NUMBER:
                if value is None and argument in OPTIONAL:
                    continue
                kind = TypeError if argument == "learning_rate" else ValueError
                yield pytest.param(owner, argument, value, kind, id=f"{owner}-{argument}={value!r}")


def _assert_names(error, owner, argument, value):
    message = str(error.value)
    assert owner in message and argument in message and repr(value) in message, message


@pytest.mark.parametrize("owner, argument, value, kind", list(_cases(OPTIMIZER_CASES)))
def test_optimizer_refuses_bad_hyper_parameter(owner, argument, value, kind):
    with pytest.raises(kind) as error:
        getattr(optimizers, owner)(**{argument: value})
    _assert_names(error, owner, argument, value)


@pytest.mark.parametrize("owner, argument, value, kind",
                         list(_cases({name: arguments for name, (_, arguments) in SCHEDULE_CASES.items()})))
def test_schedule_refuses_bad_argument(owner, argument, value, kind):
    good, _ = SCHEDULE_CASES[owner]
    with pytest.raises(kind) as error:
        getattr(schedules, owner)(**{**good, argument: value})
    _assert_names(error, owner, argument, value)


@pytest.mark.parametrize("boundaries, values", [
    ([10, NAN], [1.0, 0.5, 0.1]), ([10, "20"], [1.0, 0.5, 0.1]), ([10, 20], [1.0, -0.5, 0.1]),
    ([10, 20], [1.0, INF, 0.1]), ([10, 20], [1.0, "0.5", 0.1]), ([20, 10], [1.0, 0.5, 0.1])])
def test_piecewise_constant_decay_refuses_bad_boundaries_and_values(boundaries, values):
    with pytest.raises(ValueError, match="PiecewiseConstantDecay"):
        schedules.PiecewiseConstantDecay(boundaries, values)


def test_string_learning_rate_is_a_type_error_naming_the_alternatives():
    with pytest.raises(TypeError, match=r"Adam: expected a number, a LearningRateSchedule or a callable .* "
                                        r"Received: learning_rate='1e-3'"):
        optimizers.Adam(learning_rate="1e-3")


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(learning_rate=0.0, momentum=1.0),  # Keras' bounds are inclusive there
    lambda: optimizers.SGD(learning_rate=numpy.float32(0.5), momentum=numpy.float64(0.9), clipnorm=numpy.int64(2)),
    lambda: optimizers.Adam(learning_rate=1, beta_1=0, beta_2=0.0, epsilon=1e-30),
    lambda: optimizers.AdamW(weight_decay=0),
    lambda: optimizers.Adagrad(initial_accumulator_value=0.0),
    lambda: optimizers.RMSprop(rho=0.0, momentum=1.0, centered=True),
    lambda: optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5)),
    lambda: optimizers.Adam(learning_rate=lambda step: 0.1),
    lambda: optimizers.Adam(learning_rate=schedules.serialize(schedules.CosineDecay(0.1, 100, alpha=1.0))),
])
def test_edge_values_that_keras_allows_are_accepted(make):
    assert isinstance(make(), optimizers.Optimizer)


def test_checked_values_keep_their_meaning():
    optimizer = optimizers.Adam(learning_rate=numpy.float32(0.5), beta_1=numpy.float64(0.8))
    assert optimizer.learning_rate == 0.5 and optimizer.beta_1 == 0.8
    assert type(optimizer.get_config()["learning_rate"]) is float  # JSON-ready, whatever came in
