"""Property tests: every loss at extreme predictions and targets (float32, from subnormals to float32's largest value
where the loss's domain allows), its value and gradient against float64 references written here.

Where the float64 value (gradient element) is representable in float32, nnkit's is finite and close to it. Domains:
binary logits span all of float32; the losses that average unbounded values (of a difference ``e = y_pred -
y_true``, a margin, logsumexp(z) - z_k of softmax logits z) take inputs up to float32's max / 64 (Poisson's rates,
whose values reach 89 times them, up to max / 4096), so that ``e`` and the sum of the values of a batch stay
representable (a mean is a sum first, in float32, as in Keras); probabilities span [0, 1] with 0, 1, the clip bounds
and subnormals; the cosine's inputs stay below 1e18. The tests at the end go beyond those domains where a loss
must still be finite (log-cosh of a huge error, the cosine of huge predictions, soft-target cross-entropy of logits
further apart than float32's max).

Where the sum of the values, or an element's own slope, is already beyond float32 (before the mean brings it back),
that value or gradient element is not checked: float32 evaluates it first, as Keras does.

Tolerance: a relative 1e-5 plus an absolute 1e-6 times the inputs' magnitude for the value (one float32 rounding of
an input moves the loss that much: ``max(z, 0) - z t`` cancels), and plus 1e-6 times the terms that cancel in a
gradient element over the number averaged (1 for most: a softmax or sigmoid of order 1 rounds to a few ulps of 1),
plus float32's smallest normal number (an intermediate below it keeps fewer digits).
"""
import math

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from nnkit import backend, losses

# The same examples on every run (derandomize), so that the suite cannot flake; each test passed 150 random
# examples, twice, when written.
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
F32 = numpy.float32
F32_MAX = float(numpy.finfo(F32).max)
SMALLEST_NORMAL = float(numpy.finfo(F32).smallest_normal)  # below it, float32 has fewer digits
EPS = float(F32(1e-7))  # the losses' clip bounds, as float32 compares with them
ONE_MINUS_EPS = float(F32(1 - 1e-7))

SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 5))
ANY = st.floats(width=32, allow_nan=False, allow_infinity=False)
BOUNDED = st.floats(-F32_MAX / 64, F32_MAX / 64, width=32)
SQUARABLE = st.floats(float(F32(-1e18)), float(F32(1e18)), width=32)
PROBABILITY = st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 1.0, EPS, ONE_MINUS_EPS, 1e-45, 1e-38]))
RATE = st.floats(0, F32_MAX / 4096, width=32)  # t * log(p) is up to 89 t
SIGN = st.sampled_from([-1.0, 1.0])


def _sigmoid(z):
    e = numpy.exp(-numpy.abs(z))
    return numpy.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softmax_and_lse(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    total = numpy.exp(shifted).sum(axis=-1, keepdims=True)
    return numpy.exp(shifted) / total, z.max(axis=-1, keepdims=True) + numpy.log(total)


def _soft_targets(draw, shape):
    """Rows of non-negative float32 weights summing to 1 (one-hot rows among them)."""
    raw = draw(hnp.arrays(F32, shape, elements=st.one_of(st.just(0.0), st.floats(0, 1, width=32))))
    raw[:, 0] += raw.sum(axis=-1) == 0
    return (raw / raw.sum(axis=-1, keepdims=True)).astype(F32)


# Each case: (make the loss, draw (y_true, y_pred) as float32, float64 reference (t, p) -> (value, gradient)).
def _elementwise(values_and_slopes):
    """A reference for a loss that is the mean of element-wise values: ``(mean, slopes / size, scale / size)``."""
    return _averaged(values_and_slopes, lambda values: values.size)


def _rowwise(values_and_grads):
    """A reference for a loss that is the mean over rows of row values: ``(mean, grads / rows, scale / rows)``."""
    return _averaged(values_and_grads, len)


def _averaged(values_and_slopes, count):
    """``(t, p) -> (value, gradient, gradient scale)`` from ``values_and_slopes(t, p) -> (values, slopes[, scale])``:
    the value is inf when the values' sum is beyond float32, a gradient element inf where its own slope is (float32
    evaluates them before averaging; what is inf is not checked). ``scale`` is the size of the terms that
    cancel in each slope (default 1): float32 leaves ~1e-7 of it."""
    def reference(t, p):
        values, slopes, *scale = values_and_slopes(t, p)
        n = count(values)
        value = values.mean() if numpy.abs(values).sum() <= F32_MAX else numpy.inf
        return (value, numpy.where(numpy.abs(slopes) <= F32_MAX, slopes / n, numpy.inf),
                (scale[0] if scale else 1) / n)
    return reference


def _draw_pair(true_elements, pred_elements):
    @st.composite
    def pair(draw):
        shape = draw(SHAPES)
        return (draw(hnp.arrays(F32, shape, elements=true_elements)),
                draw(hnp.arrays(F32, shape, elements=pred_elements)))
    return pair()


@st.composite
def _distributions_and(draw, pred_elements):
    shape = draw(SHAPES)
    return _soft_targets(draw, shape), draw(hnp.arrays(F32, shape, elements=pred_elements))


@st.composite
def _labels_and_logits(draw):
    n, k = draw(SHAPES)
    return (draw(hnp.arrays(numpy.int64, (n,), elements=st.integers(0, k - 1))),
            draw(hnp.arrays(F32, (n, k), elements=BOUNDED)))


def _bce_probabilities(t, p):
    clipped = numpy.clip(p, EPS, ONE_MINUS_EPS)
    inside = (p > EPS) & (p < ONE_MINUS_EPS)
    return (-(t * numpy.log(clipped) + (1 - t) * numpy.log(1 - clipped)),
            ((1 - t) / (1 - clipped) - t / clipped) * inside)


def _cce_probabilities(t, p):
    total = p.sum(axis=-1, keepdims=True)
    q = p / total
    clipped = numpy.clip(q, EPS, ONE_MINUS_EPS)
    dq = -t / clipped * ((q > EPS) & (q < ONE_MINUS_EPS))
    grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total
    # q is computed, so float32 may put it on the other side of a clip bound (where the slope jumps) than float64:
    # a row with a q within a few float32 ulps of a bound is not checked.
    on_edge = ((numpy.abs(q - EPS) <= 4e-7 * EPS) | (numpy.abs(q - ONE_MINUS_EPS) <= 4e-7)).any(axis=-1, keepdims=True)
    return (-(t * numpy.log(clipped)).sum(axis=-1), numpy.where(on_edge, numpy.inf, grad),
            (numpy.abs(dq) + numpy.abs(dq * q).sum(axis=-1, keepdims=True)) / total)


def _cce_logits(t, z):
    softmax, lse = _softmax_and_lse(z)
    return (t * (lse - z)).sum(axis=-1), softmax - t


def _sparse_logits(labels, z):
    onehot = (numpy.arange(z.shape[-1]) == labels[:, None]) * 1.0
    return _cce_logits(onehot, z)


def _kld(t, p):
    clipped_t, clipped_p = numpy.clip(t, EPS, 1), numpy.clip(p, EPS, 1)
    return ((clipped_t * numpy.log(clipped_t / clipped_p)).sum(axis=-1),
            -clipped_t / clipped_p * ((p >= EPS) & (p <= 1)))


def _msle(t, p):
    q = numpy.maximum(p, EPS) + 1
    d = numpy.log(q) - numpy.log(numpy.maximum(t, EPS) + 1)
    return d * d, 2 * d / q * (p > EPS)


def _log_cosh(t, p):
    e = p - t
    return numpy.abs(e) + numpy.log1p(numpy.exp(-2 * numpy.abs(e))) - math.log(2), numpy.tanh(e)


def _cosine(t, p):
    """Keras' ``-sum(l2_normalize(t) * l2_normalize(p))``, ``l2_normalize(x) = x / max(||x||, 1e-7)``; the norms taken
    of rows scaled by their largest magnitude first, so that no square overflows or underflows."""
    def norm(x):
        scale = numpy.maximum(numpy.abs(x).max(axis=-1, keepdims=True), 1e-300)
        return numpy.sqrt(((x / scale) ** 2).sum(axis=-1, keepdims=True)) * scale
    t_norm, p_norm = norm(t), norm(p)
    tn, pn = t / numpy.maximum(t_norm, EPS), p / numpy.maximum(p_norm, EPS)
    cosine = (tn * pn).sum(axis=-1, keepdims=True)
    grad = numpy.where(p_norm > EPS, (tn - pn * cosine) / numpy.maximum(p_norm, EPS), tn / EPS)
    return -cosine[:, 0], -grad, (numpy.abs(tn) + numpy.abs(pn * cosine)) / numpy.maximum(p_norm, EPS)


CASES = {
    "mean_squared_error": (lambda: losses.MeanSquaredError(), _draw_pair(BOUNDED, BOUNDED),
                           _elementwise(lambda t, p: ((p - t) ** 2, 2 * (p - t)))),
    "mean_absolute_error": (lambda: losses.MeanAbsoluteError(), _draw_pair(BOUNDED, BOUNDED),
                            _elementwise(lambda t, p: (numpy.abs(p - t), numpy.sign(p - t)))),
    "huber": (lambda: losses.Huber(), _draw_pair(BOUNDED, BOUNDED), _elementwise(lambda t, p: (
        numpy.where(numpy.abs(p - t) <= 1, 0.5 * (p - t) ** 2, numpy.abs(p - t) - 0.5),
        numpy.where(numpy.abs(p - t) <= 1, p - t, numpy.sign(p - t))))),
    "log_cosh": (lambda: losses.LogCosh(), _draw_pair(BOUNDED, BOUNDED), _elementwise(_log_cosh)),
    "binary_crossentropy": (lambda: losses.BinaryCrossentropy(), _draw_pair(PROBABILITY, PROBABILITY),
                            _elementwise(_bce_probabilities)),
    "binary_crossentropy_from_logits": (
        lambda: losses.BinaryCrossentropy(from_logits=True), _draw_pair(PROBABILITY, ANY),
        _elementwise(lambda t, z: (numpy.maximum(z, 0) - z * t + numpy.log1p(numpy.exp(-numpy.abs(z))),
                                   _sigmoid(z) - t))),
    "categorical_crossentropy": (lambda: losses.CategoricalCrossentropy(),
                                 _distributions_and(st.floats(float(F32(1e-30)), 1, width=32)),
                                 _rowwise(_cce_probabilities)),
    "categorical_crossentropy_from_logits": (lambda: losses.CategoricalCrossentropy(from_logits=True),
                                             _distributions_and(BOUNDED), _rowwise(_cce_logits)),
    "sparse_categorical_crossentropy_from_logits": (
        lambda: losses.SparseCategoricalCrossentropy(from_logits=True), _labels_and_logits(),
        _rowwise(_sparse_logits)),
    "kl_divergence": (lambda: losses.KLDivergence(), _draw_pair(PROBABILITY, PROBABILITY), _rowwise(_kld)),
    "poisson": (lambda: losses.Poisson(), _draw_pair(RATE, RATE),
                _elementwise(lambda t, p: (p - t * numpy.log(p + EPS), 1 - t / (p + EPS)))),
    "mean_squared_logarithmic_error": (lambda: losses.MeanSquaredLogarithmicError(), _draw_pair(ANY, ANY),
                                       _elementwise(_msle)),
    "mean_absolute_percentage_error": (
        lambda: losses.MeanAbsolutePercentageError(), _draw_pair(BOUNDED, BOUNDED),
        _elementwise(lambda t, p: (100 * numpy.abs(t - p) / numpy.maximum(numpy.abs(t), EPS),
                                   100 * numpy.sign(p - t) / numpy.maximum(numpy.abs(t), EPS)))),
    "hinge": (lambda: losses.Hinge(), _draw_pair(SIGN, BOUNDED), _elementwise(
        lambda t, p: (numpy.maximum(1 - t * p, 0), -t * (1 - t * p > 0)))),
    "squared_hinge": (lambda: losses.SquaredHinge(), _draw_pair(SIGN, ANY), _elementwise(
        lambda t, p: (numpy.maximum(1 - t * p, 0) ** 2, -2 * t * numpy.maximum(1 - t * p, 0)))),
    "cosine_similarity": (lambda: losses.CosineSimilarity(), _draw_pair(SQUARABLE, SQUARABLE), _rowwise(_cosine)),
}
def assert_close_where_representable(got, want, tolerance, what):
    got = numpy.asarray(backend.to_host(got), dtype=numpy.float64)
    want = numpy.asarray(want, dtype=numpy.float64)
    representable = numpy.isfinite(want) & (numpy.abs(want) <= F32_MAX * (1 - 1e-6))
    assert numpy.isfinite(got[representable]).all(), f"{what} not finite: {got}, expected {want}"
    with numpy.errstate(invalid="ignore"):
        off = representable & (numpy.abs(got - want) > tolerance + SMALLEST_NORMAL)
    assert not off.any(), f"{what}: {got[off]}, expected {want[off]}"


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_loss_finite_and_exact_at_extreme_values(name, backend_name, data):
    make, pairs, reference = CASES[name]
    y_true, y_pred = data.draw(pairs)
    t, p = y_true.astype(numpy.float64), y_pred.astype(numpy.float64)
    with numpy.errstate(over="ignore", divide="ignore", invalid="ignore"):
        want_value, want_grad, grad_scale = reference(t, p)
        value, grad = make().forward_backward(backend.to_device(y_true), backend.to_device(y_pred))
    scale = numpy.abs(p).mean() + numpy.abs(t).mean() + 1
    assert_close_where_representable(value, want_value, 1e-5 * abs(want_value) + 1e-6 * scale, f"{name} value")
    assert_close_where_representable(grad, want_grad, 1e-5 * numpy.abs(want_grad) + 1e-6 * grad_scale,
                                     f"{name} gradient")


# ---- beyond the domains: known flaws (in nnkit/losses.py and nnkit/primitives/cross_entropy.py), reported ----------
def _value_and_gradient(loss, y_true, y_pred):
    with numpy.errstate(over="ignore", invalid="ignore"):
        value, grad = loss.forward_backward(backend.to_device(numpy.asarray(y_true, F32)),
                                            backend.to_device(numpy.asarray(y_pred, F32)))
    return float(value), backend.to_host(grad)


def test_log_cosh_of_a_huge_negative_error_is_finite(backend_name):
    value, grad = _value_and_gradient(losses.LogCosh(), [[0.0]], [[-3e38]])
    assert value == pytest.approx(3e38, rel=1e-6) and grad.tolist() == [[-1.0]]


def test_cosine_similarity_of_huge_predictions(backend_name):
    value, _ = _value_and_gradient(losses.CosineSimilarity(), [[1.0, 0.0]], [[3e38, 0.0]])
    assert value == pytest.approx(-1.0)


def test_soft_target_cross_entropy_of_logits_further_apart_than_float32_max(backend_name):
    value, grad = _value_and_gradient(losses.CategoricalCrossentropy(from_logits=True), [[1.0, 0.0]],
                                      [[2e38, -2e38]])
    assert value == 0.0 and numpy.isfinite(grad).all()
