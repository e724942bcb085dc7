"""Property tests: every activation at float32 inputs from the subnormals to float32's largest value.

For each input where the true value (computed here in float64, from the textbook formulas) is representable in
float32, the forward is finite and close to it; likewise the backward against the float64 derivative. The
hypothesis-drawn arrays always carry the edge values too (0, subnormals, +-10, +-5e19, +-float32 max...).
Tolerance: a relative 1e-5 plus an absolute 1e-6 (scaled by |x| near 0 in the forward, where these functions are
linear), plus one subnormal step: float32 intermediates of order 1 (a sigmoid, a tanh, an erf) round to a few ulps
of 1, so a value that is itself much smaller (the GELU at x = -5, the derivative of tanh at 10) is only known to
about 1e-7 absolute. No activation may warn of an overflow on the way but those whose value passes float32's range
(the exponential, the SELU).
"""
import warnings

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from activation_references import REFERENCES
from nnkit import activations, backend, ops

# The same examples on every run (derandomize), so that the suite cannot flake; each test passed 150 random
# examples, twice, when written.
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
F32_MAX = float(numpy.finfo(numpy.float32).max)
SUBNORMAL_STEP = float(numpy.finfo(numpy.float32).smallest_subnormal)
EDGES = numpy.array([0.0, 1e-45, 1e-40, 1.2e-38, 1e-20, 1e-7, 0.5, 1, 3, 5, 6, 10, 20, 50, 88, 89, 100, 1e4, 7e12,
                     1.8e19, 5e19, 1e30, F32_MAX], dtype=numpy.float32)
EDGES = numpy.concatenate([EDGES, -EDGES])
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
INPUTS = hnp.arrays(numpy.float32, st.integers(1, 24), elements=FLOAT32).map(
    lambda drawn: numpy.concatenate([drawn, EDGES]))

ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def _activation_pass(name):
    """``x -> (y, dx for dy = 1)`` for the activation ``name`` on the active backend: the objects of
    ``nnkit.activations``, plus the tanh GELU and the element-wise activations that exist as ops only."""
    if name in ("log_sigmoid", "hard_tanh"):
        op = getattr(ops, name)

        def run(x):
            y, backward = op.function(x)
            return y, backward(backend.xp().ones_like(x))["x"]
        return run
    activation = activations.GELU(approximate=True) if name == "gelu_tanh" else activations.get(name)

    def run(x):
        y = activation.forward(x.copy())
        return y, activation.backward(backend.xp().ones_like(x), x, y)
    return run


def assert_close_where_representable(got, want, x, tolerance, what):
    """``got`` (float32, on the backend) finite and within ``tolerance`` of ``want`` (float64) wherever ``want`` is
    representable in float32."""
    got = numpy.asarray(backend.to_host(got), dtype=numpy.float64)
    representable = numpy.abs(want) <= F32_MAX * (1 - 1e-6)
    not_finite = representable & ~numpy.isfinite(got)
    assert not not_finite.any(), f"{what} is not finite at x={x[not_finite]} (expected {want[not_finite]})"
    with numpy.errstate(invalid="ignore"):  # inf - inf where neither is representable
        off = representable & (numpy.abs(got - want) > tolerance + SUBNORMAL_STEP)
    assert not off.any(), f"{what} at x={x[off]}: {got[off]}, expected {want[off]}"


def test_every_elementwise_activation_has_a_reference():
    names = set(activations.registry.names()) - {"softmax", "log_softmax"}
    assert names - set(ALIASES) <= set(REFERENCES), names - set(REFERENCES) - set(ALIASES)


@pytest.mark.parametrize("name", sorted(set(REFERENCES) | set(ALIASES)))
@PROPERTY
@given(x=INPUTS)
def test_activation_finite_and_exact_at_every_float32(name, backend_name, x):
    function, derivative, kinks = REFERENCES[ALIASES.get(name, name)]
    x64 = x.astype(numpy.float64)
    with numpy.errstate(over="ignore", invalid="ignore"):
        want_y, want_dx = function(x64), derivative(x64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if name in ("exponential", "selu") else "error", RuntimeWarning)
        y, dx = _activation_pass(name)(backend.to_device(x))
    assert y.dtype == dx.dtype == numpy.float32
    assert_close_where_representable(y, want_y, x, 1e-5 * numpy.abs(want_y) + 1e-6 * numpy.minimum(1, numpy.abs(x64)),
                                     f"{name}(x)")
    smooth = ~numpy.isin(x64, kinks)
    assert_close_where_representable(backend.to_host(dx)[smooth], want_dx[smooth], x[smooth],
                                     1e-5 * numpy.abs(want_dx[smooth]) + 1e-6, f"{name}'(x)")


ROWS = hnp.arrays(numpy.float32, st.tuples(st.integers(1, 4), st.integers(1, 8)), elements=FLOAT32)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@PROPERTY
@given(x=ROWS, data=st.data())
def test_softmax_finite_and_exact_at_every_float32(name, backend_name, x, data):
    dy = data.draw(hnp.arrays(numpy.float32, x.shape, elements=st.floats(-1, 1, width=32)))
    x64, dy64 = x.astype(numpy.float64), dy.astype(numpy.float64)
    shifted = x64 - x64.max(axis=-1, keepdims=True)
    softmax = numpy.exp(shifted) / numpy.exp(shifted).sum(axis=-1, keepdims=True)
    if name == "softmax":
        want_y = softmax
        want_dx = softmax * (dy64 - (dy64 * softmax).sum(axis=-1, keepdims=True))
    else:
        want_y = shifted - numpy.log(numpy.exp(shifted).sum(axis=-1, keepdims=True))
        want_dx = dy64 - softmax * dy64.sum(axis=-1, keepdims=True)
    activation = activations.get(name)
    with numpy.errstate(over="ignore"):  # x - max(x) is -inf where it passes float32's range: exp() makes it 0
        y = activation.forward(backend.to_device(x))
        dx = activation.backward(backend.to_device(dy), backend.to_device(x), y)
    assert_close_where_representable(y, want_y, x, 1e-5 * numpy.abs(want_y) + 1e-6, f"{name}(x)")
    assert_close_where_representable(dx, want_dx, x, 1e-5 * numpy.abs(want_dx) + 1e-6, f"{name}'(x)")
