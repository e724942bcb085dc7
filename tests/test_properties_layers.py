"""Property tests: Dense (with each fused activation), Conv2D, LayerNormalization, BatchNormalization and Softmax at
extreme float32 values, forward and backward, against float64 math written here.

Each float32 result must be finite and within the error float32 arithmetic allows: for a sum of products (a GEMM, a
convolution) ``1e-5 * sum |terms|`` plus a subnormal step (an underflow), carried through the activation (whose
slope is at most ~1.1 and whose curvature at most ~1 for those drawn; near a kink, either side's slope); for a
normalization ``1e-5`` times the inputs' magnitude over their spread (how far rounding the mean moves the centred
values). Domains keep every intermediate representable: Dense and Conv2D inputs up to float32's max / 256 with
weights in [-1, 1] (no partial sum overflows); normalized inputs up to 1e18 (their squares stay below float32's
max). What lies beyond, and fails, is pinned by the strict xfail at the end.
"""
import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from activation_references import REFERENCES
from nnkit import backend, layers

# The same examples on every run (derandomize), so that the suite cannot flake; each test passed 150 random
# examples, twice, when written.
PROPERTY = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
F32 = numpy.float32
F32_MAX = float(numpy.finfo(F32).max)
ULP = 1e-5  # float32 rounding, with room for a few operations
SUBNORMAL_STEP = float(numpy.finfo(F32).smallest_subnormal)  # what a product that underflows loses
LARGE = st.floats(-F32_MAX / 256, F32_MAX / 256, width=32)
UNIT = st.floats(-1, 1, width=32)
NORMALIZABLE = st.floats(float(F32(-1e18)), float(F32(1e18)), width=32)
FUSED = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "silu", "softplus"]


def host(array):
    return numpy.asarray(backend.to_host(array), dtype=numpy.float64)


def assert_within(got, want, bound, what):
    got = host(got)
    assert numpy.isfinite(got).all(), f"{what} is not finite: {got}"
    off = numpy.abs(got - want) > bound + 1e-6 * ULP
    assert not off.any(), f"{what}: {got[off]}, expected {want[off]} (bound {bound[off]})"


# ---- Dense ------------------------------------------------------------------------------------------------------
@st.composite
def dense_cases(draw):
    n, features, units = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return (draw(hnp.arrays(F32, (n, features), elements=LARGE)),
            draw(hnp.arrays(F32, (features, units), elements=UNIT)),
            draw(hnp.arrays(F32, (units,), elements=LARGE)), draw(hnp.arrays(F32, (n, units), elements=UNIT)))


@pytest.mark.parametrize("activation", FUSED)
@PROPERTY
@given(case=dense_cases())
def test_dense_at_extreme_values(activation, backend_name, case):
    x, kernel, bias, dy = case
    layer = layers.Dense(kernel.shape[1], activation=activation)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    y = layer.forward(backend.to_device(x), training=True)
    dx = layer.backward(backend.to_device(dy))
    f, slope, _ = REFERENCES[activation]
    x64, w64, b64, dy64 = (a.astype(numpy.float64) for a in (x, kernel, bias, dy))
    z = x64 @ w64 + b64
    z_error = ULP * (numpy.abs(x64) @ numpy.abs(w64) + numpy.abs(b64)) + SUBNORMAL_STEP
    with numpy.errstate(over="ignore", invalid="ignore"):
        dz = dy64 * slope(z)
    # |f''| <= 1 and |f'| <= 1.1; within z's error of a kink (relu's 0) the slope may be either side's.
    slope_error = numpy.where(numpy.abs(z) <= z_error, 1.1, numpy.minimum(z_error, 1.1))
    dz_error = numpy.abs(dy64) * slope_error + ULP * numpy.abs(dz) + SUBNORMAL_STEP
    assert_within(y, f(z), 1.1 * z_error + ULP * numpy.abs(f(z)), f"Dense({activation}) output")
    assert_within(dx, dz @ w64.T, dz_error @ numpy.abs(w64.T) + ULP * numpy.abs(dz) @ numpy.abs(w64.T), "dx")
    assert_within(layer.grads["kernel"], x64.T @ dz, numpy.abs(x64.T) @ (dz_error + ULP * numpy.abs(dz)), "dkernel")
    assert_within(layer.grads["bias"], dz.sum(axis=0), (dz_error + ULP * numpy.abs(dz)).sum(axis=0), "dbias")


# ---- Conv2D -------------------------------------------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    n, size, channels, filters = (draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(1, 2)),
                                  draw(st.integers(1, 2)))
    return (draw(hnp.arrays(F32, (n, size, size, channels), elements=LARGE)),
            draw(hnp.arrays(F32, (2, 2, channels, filters), elements=UNIT)),
            draw(hnp.arrays(F32, (filters,), elements=LARGE)),
            draw(hnp.arrays(F32, (n, size - 1, size - 1, filters), elements=UNIT)))


def _patches(x):
    """``(N, OH, OW, 2*2*C)``: each 2x2 window of ``x`` (stride 1, valid), in the kernel's (kh, kw, c) order."""
    n, h, w, c = x.shape
    return numpy.stack([x[:, i:i + 2, j:j + 2, :].reshape(n, 4 * c) for i in range(h - 1) for j in range(w - 1)],
                       axis=1).reshape(n, h - 1, w - 1, 4 * c)


def _scatter(d_patches, shape):
    """The adjoint of ``_patches``: each window's gradient added back at its place."""
    n, h, w, c = shape
    dx = numpy.zeros(shape)
    for i in range(h - 1):
        for j in range(w - 1):
            dx[:, i:i + 2, j:j + 2, :] += d_patches[:, i, j, :].reshape(n, 2, 2, c)
    return dx


@PROPERTY
@given(case=conv_cases())
def test_conv2d_at_extreme_values(backend_name, case):
    x, kernel, bias, dy = case
    layer = layers.Conv2D(kernel.shape[3], 2)
    layer.build((None,) + x.shape[1:])
    layer.set_weights([kernel, bias])
    y = layer.forward(backend.to_device(x), training=True)
    dx = layer.backward(backend.to_device(dy))
    patches, w = _patches(x.astype(numpy.float64)), kernel.astype(numpy.float64).reshape(-1, kernel.shape[3])
    dy64 = dy.astype(numpy.float64)
    underflow = 64 * SUBNORMAL_STEP  # each of the (at most 64) products of a sum may underflow
    assert_within(y, patches @ w + bias, ULP * (numpy.abs(patches) @ numpy.abs(w) + numpy.abs(bias)) + underflow,
                  "Conv2D output")
    assert_within(dx, _scatter(dy64 @ w.T, x.shape),
                  _scatter(ULP * numpy.abs(dy64) @ numpy.abs(w.T) + underflow, x.shape), "dx")
    flat_patches, flat_dy = patches.reshape(-1, w.shape[0]), dy64.reshape(-1, w.shape[1])
    assert_within(layer.grads["kernel"], (flat_patches.T @ flat_dy).reshape(kernel.shape),
                  (ULP * numpy.abs(flat_patches.T) @ numpy.abs(flat_dy) + underflow).reshape(kernel.shape), "dkernel")


# ---- normalizations ---------------------------------------------------------------------------------------------
def _normalize(x, axis, epsilon):
    """Float64 ``(x_hat, inv_std)`` over ``axis`` (the statistics of each slice) and the rounding bound of ``x_hat``."""
    mean = x.mean(axis=axis, keepdims=True)
    centered = x - mean
    inv_std = 1 / numpy.sqrt((centered ** 2).mean(axis=axis, keepdims=True) + epsilon)
    bound = ULP * (1 + numpy.abs(x).max(axis=axis, keepdims=True) * inv_std)  # the mean's rounding, over the spread
    return centered * inv_std, inv_std, bound


def _normalize_backward(g, x_hat, inv_std, axis):
    """d/dx of ``x_hat`` against ``g`` (the gradient reaching x_hat), over ``axis`` with ``m`` elements."""
    m = x_hat.shape[axis]
    return inv_std / m * (m * g - g.sum(axis=axis, keepdims=True) - x_hat * (g * x_hat).sum(axis=axis, keepdims=True))


@st.composite
def normalization_cases(draw):
    rows, features = draw(st.integers(2, 4)), draw(st.integers(2, 5))
    return (draw(hnp.arrays(F32, (rows, features), elements=NORMALIZABLE)),
            draw(hnp.arrays(F32, (features,), elements=st.floats(-10, 10, width=32))),
            draw(hnp.arrays(F32, (features,), elements=st.floats(-10, 10, width=32))),
            draw(hnp.arrays(F32, (rows, features), elements=UNIT)))


@pytest.mark.parametrize("kind, axis", [("LayerNormalization", 1), ("BatchNormalization", 0)])
@PROPERTY
@given(case=normalization_cases())
def test_normalization_at_extreme_values(kind, axis, backend_name, case):
    x, gamma, beta, dy = case
    layer = getattr(layers, kind)()
    layer.build((None, x.shape[1]))
    layer.set_weights([gamma, beta] + layer.get_weights()[2:])
    y = layer.forward(backend.to_device(x), training=True)
    dx = layer.backward(backend.to_device(dy))
    x_hat, inv_std, bound = _normalize(x.astype(numpy.float64), axis, layer.epsilon)
    g64, dy64 = gamma.astype(numpy.float64), dy.astype(numpy.float64)
    assert_within(y, x_hat * g64 + beta, bound * numpy.abs(g64) + ULP * numpy.abs(beta), f"{kind} output")
    g = dy64 * g64
    want_dx = _normalize_backward(g, x_hat, inv_std, axis)
    dx_bound = bound * inv_std * numpy.abs(g).sum(axis=axis, keepdims=True) * 4 + ULP * numpy.abs(want_dx)
    assert_within(dx, want_dx, dx_bound, f"{kind} dx")
    assert_within(layer.grads["gamma"], (dy64 * x_hat).sum(axis=0), (numpy.abs(dy64) * bound).sum(axis=0), "dgamma")
    assert_within(layer.grads["beta"], dy64.sum(axis=0), ULP * numpy.abs(dy64).sum(axis=0) + 1e-7, "dbeta")


@pytest.mark.xfail(strict=True, reason="LayerNormalization squares the centred inputs: beyond |x - mean| ~ 1.8e19 "
                                       "the variance is inf and every output is beta; scaling each row by its largest "
                                       "|x - mean| first (x_hat is scale-free) would not overflow (Keras has the same "
                                       "flaw; nnkit/primitives/layer_norm.py and kernels/layer_norm.cu)")
@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_layer_normalization_of_inputs_whose_squares_overflow(backend_name):
    layer = layers.LayerNormalization()
    y = host(layer(numpy.array([[-1e20, 1e20]], dtype=F32)))
    numpy.testing.assert_allclose(y, [[-1.0, 1.0]], rtol=1e-5)


# ---- Softmax layer ------------------------------------------------------------------------------------------------
@PROPERTY
@given(x=hnp.arrays(F32, st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
                    elements=st.floats(width=32, allow_nan=False, allow_infinity=False)), data=st.data())
def test_softmax_layer_over_a_middle_axis_at_extreme_values(backend_name, x, data):
    dy = data.draw(hnp.arrays(F32, x.shape, elements=UNIT))
    layer = layers.Softmax(axis=1)
    with numpy.errstate(over="ignore"):  # x - max(x) passes float32's range: exp() makes it 0, as it should
        y = layer.forward(backend.to_device(x), training=True)
        dx = layer.backward(backend.to_device(dy))
    x64, dy64 = x.astype(numpy.float64), dy.astype(numpy.float64)
    e = numpy.exp(x64 - x64.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    want_dx = s * (dy64 - (dy64 * s).sum(axis=1, keepdims=True))
    assert_within(y, s, ULP * s + 1e-6, "Softmax output")
    assert_within(dx, want_dx, ULP * numpy.abs(want_dx) + 1e-6, "Softmax dx")
