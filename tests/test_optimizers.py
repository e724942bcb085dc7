"""Optimizers against hand-computed first and second steps of Keras' published update rules.

The expected numbers come from the formulas written out below in plain Python floats (one parameter at a
time), never from nnkit. The parameters live in a real ParameterStore: a Dense(1) on 2 inputs gives a
kernel view (2 values) and a bias view (1 value), so per-variable clipping sees two variables.
"""
import math

import numpy
import pytest

from nnkit import backend, optimizers
from nnkit.layers import Dense
from nnkit.params import ParameterStore

P0 = [1.0, -2.0, 0.5]
G1 = [0.1, -0.3, 2.0]
G2 = [-0.2, 0.4, 1.0]


def _store(params):
    backend.set_floatx("float64")
    layer = Dense(1)
    layer.build_for((None, 2))
    store = ParameterStore([layer])
    store.values[...] = backend.xp().asarray(params)
    return store


def _run(optimizer, gradients, params=P0):
    """Apply each gradient in turn; returns the parameters after every step (as lists)."""
    store = _store(params)
    optimizer.build(store)
    after = []
    for g in gradients:
        store.grads[...] = backend.xp().asarray(g)
        optimizer.apply_gradients(store)
        after.append(backend.to_host(store.values).tolist())
    return after


def _assert_steps(actual, expected):
    for got, want in zip(actual, expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# ---- the published rules, one scalar at a time --------------------------------------------------------
def sgd_rule(p, grads, lr, momentum=0.0, nesterov=False):
    out, velocity = [], 0.0
    for g in grads:
        if momentum == 0:
            p = p - lr * g
        else:
            velocity = momentum * velocity - lr * g
            p = p + (momentum * velocity - lr * g if nesterov else velocity)
        out.append(p)
    return out


def adam_rule(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7, weight_decay=0.0):
    out, m, v = [], 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        p = p - lr * weight_decay * p
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p = p - alpha * m / (math.sqrt(v) + eps)
        out.append(p)
    return out


def adagrad_rule(p, grads, lr, initial=0.1, eps=1e-7):
    out, accumulator = [], initial
    for g in grads:
        accumulator = accumulator + g * g
        p = p - lr * g / math.sqrt(accumulator + eps)
        out.append(p)
    return out


def rmsprop_rule(p, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    out, v, mg, u = [], 0.0, 0.0, 0.0
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        if centered:
            mg = rho * mg + (1 - rho) * g
        increment = lr * g / math.sqrt(v - mg * mg + eps)
        if momentum:
            u = momentum * u + increment
            p = p - u
        else:
            p = p - increment
        out.append(p)
    return out


def _expected(rule, **kwargs):
    per_parameter = [rule(p, [g1, g2], **kwargs) for p, g1, g2 in zip(P0, G1, G2)]
    return [[steps[i] for steps in per_parameter] for i in range(2)]


CASES = [
    (lambda: optimizers.SGD(learning_rate=0.1), sgd_rule, dict(lr=0.1)),
    (lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9), sgd_rule, dict(lr=0.1, momentum=0.9)),
    (lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True), sgd_rule,
     dict(lr=0.1, momentum=0.9, nesterov=True)),
    (lambda: optimizers.Adam(learning_rate=0.01), adam_rule, dict(lr=0.01)),
    (lambda: optimizers.Adam(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-3), adam_rule,
     dict(lr=0.01, b1=0.5, b2=0.9, eps=1e-3)),
    (lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.1), adam_rule, dict(lr=0.01, weight_decay=0.1)),
    (lambda: optimizers.Adagrad(learning_rate=0.1), adagrad_rule, dict(lr=0.1)),
    (lambda: optimizers.RMSprop(learning_rate=0.01), rmsprop_rule, dict(lr=0.01)),
    (lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.5), rmsprop_rule, dict(lr=0.01, momentum=0.5)),
    (lambda: optimizers.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True), rmsprop_rule,
     dict(lr=0.01, rho=0.8, momentum=0.5, centered=True)),
]
IDS = ["sgd", "sgd-momentum", "sgd-nesterov", "adam", "adam-custom", "adamw", "adagrad", "rmsprop",
       "rmsprop-momentum", "rmsprop-centered-momentum"]


@pytest.mark.parametrize("make, rule, kwargs", CASES, ids=IDS)
def test_first_and_second_step_follow_published_rule(make, rule, kwargs, backend_name):
    _assert_steps(_run(make(), [G1, G2]), _expected(rule, **kwargs))


def test_adam_first_step_written_out(backend_name):
    """Step 1 of Adam, by hand: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is
    alpha * 0.1 g / (sqrt(0.001) |g| + eps) = lr * g / (|g| + eps / sqrt(0.001)), about lr * sign(g)."""
    lr, g = 0.01, 0.1
    step = lr * g / (abs(g) + 1e-7 / math.sqrt(0.001))
    assert step == pytest.approx(0.00999968378, rel=1e-9)
    (after,) = _run(optimizers.Adam(learning_rate=lr), [[g, g, g]])
    numpy.testing.assert_allclose(after, [p - step for p in P0], rtol=1e-12)


def test_sgd_momentum_second_step_written_out(backend_name):
    # v1 = -lr g1 = -0.01; p1 = 1 - 0.01 = 0.99; v2 = 0.9 * -0.01 - 0.1 * -0.2 = 0.011; p2 = 0.99 + 0.011 = 1.001
    first, second = _run(optimizers.SGD(learning_rate=0.1, momentum=0.9), [G1, G2])
    assert first[0] == pytest.approx(0.99, rel=1e-12)
    assert second[0] == pytest.approx(1.001, rel=1e-12)


def test_keras_default_hyper_parameters():
    assert optimizers.SGD().learning_rate == 0.01
    adam = optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert optimizers.AdamW().weight_decay == 0.004
    rmsprop = optimizers.RMSprop()
    assert (rmsprop.learning_rate, rmsprop.rho, rmsprop.momentum, rmsprop.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    adagrad = optimizers.Adagrad()
    assert (adagrad.learning_rate, adagrad.initial_accumulator_value, adagrad.epsilon) == (0.001, 0.1, 1e-7)


# ---- clipping -----------------------------------------------------------------------------------------
def test_clipvalue(backend_name):
    (after,) = _run(optimizers.SGD(learning_rate=1.0, clipvalue=0.25), [G1])
    # clipped gradients: 0.1, -0.25, 0.25
    numpy.testing.assert_allclose(after, [1.0 - 0.1, -2.0 + 0.25, 0.5 - 0.25], rtol=1e-12)


def test_clipnorm_is_per_variable(backend_name):
    # kernel = (0.1, -0.3), norm 0.3162 <= 1: unchanged; bias = (2.0,), norm 2 > 1: scaled to 1.0
    (after,) = _run(optimizers.SGD(learning_rate=1.0, clipnorm=1.0), [G1])
    numpy.testing.assert_allclose(after, [1.0 - 0.1, -2.0 + 0.3, 0.5 - 1.0], rtol=1e-12)


def test_global_clipnorm_scales_all_together(backend_name):
    norm = math.sqrt(0.1 ** 2 + 0.3 ** 2 + 2.0 ** 2)
    scale = 1.0 / norm
    (after,) = _run(optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0), [G1])
    numpy.testing.assert_allclose(after, [p - g * scale for p, g in zip(P0, G1)], rtol=1e-12)
    (unchanged,) = _run(optimizers.SGD(learning_rate=1.0, global_clipnorm=10.0), [G1])
    numpy.testing.assert_allclose(unchanged, [p - g for p, g in zip(P0, G1)], rtol=1e-12)


def test_clipping_applies_before_adam_moments(backend_name):
    clipped = [0.1, -0.25, 0.25]
    (after,) = _run(optimizers.Adam(learning_rate=0.01, clipvalue=0.25), [G1])
    numpy.testing.assert_allclose(after, [adam_rule(p, [g], lr=0.01)[0] for p, g in zip(P0, clipped)], rtol=1e-12)


def test_only_one_clip_allowed():
    with pytest.raises(ValueError, match="Only one of clipnorm, clipvalue and global_clipnorm"):
        optimizers.SGD(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="> 0 for `clipnorm`. Received: clipnorm=0"):
        optimizers.SGD(clipnorm=0)


def test_bad_hyper_parameters_are_clear():
    with pytest.raises(ValueError, match="learning_rate=-1"):
        optimizers.Adam(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum=1.5"):
        optimizers.SGD(momentum=1.5)


# ---- registry, schedules, state -------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [("sgd", optimizers.SGD), ("adam", optimizers.Adam),
                                       ("adamw", optimizers.AdamW), ("adagrad", optimizers.Adagrad),
                                       ("rmsprop", optimizers.RMSprop), ("Adam", optimizers.Adam),
                                       ("RMSprop", optimizers.RMSprop), ("AdamW", optimizers.AdamW)])
def test_string_names(name, cls):
    assert type(optimizers.get(name)) is cls


def test_unknown_optimizer_lists_known_names():
    with pytest.raises(ValueError) as error:
        optimizers.get("adamax_plus")
    for name in ("adagrad", "adam", "adamw", "rmsprop", "sgd"):
        assert name in str(error.value)


def test_learning_rate_schedule_called_with_step(backend_name):
    seen = []

    def schedule(step):
        seen.append(step)
        return 0.1 / (1 + step)

    after = _run(optimizers.SGD(learning_rate=schedule), [G1, G2])
    assert seen == [0, 1]
    numpy.testing.assert_allclose(after[1], [p - 0.1 * g1 - 0.05 * g2 for p, g1, g2 in zip(P0, G1, G2)],
                                  rtol=1e-12)


def test_slots_match_flat_buffer_and_rebuild_resets(backend_name):
    optimizer = optimizers.Adam()
    store = _store(P0)
    optimizer.build(store)
    assert [slot.shape for slot in optimizer.variables()] == [(3,), (3,)]
    store.grads[...] = backend.xp().asarray(G1)
    optimizer.apply_gradients(store)
    assert optimizer.iterations == 1
    optimizer.build(store)
    assert optimizer.iterations == 0
    assert not backend.to_host(optimizer.slots["m"]).any()
