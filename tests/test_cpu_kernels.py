"""The compiled CPU kernels (nnkit/_cpu/kernels.c) against float64 index-map oracles and their NumPy twins.

Each kernel is checked on random geometries, odd sizes, padding, strides and dilation included, with the work
split over one and several threads. The suite skips here where the extension is not built (no compiler); CI
(``CI=true``) builds it and fails if it is missing.
"""
import os

import numpy
import pytest

from nnkit import _cpu, activations, primitives
from nnkit.primitives import bias_act, conv, optim, pool, recurrent
from nnkit.selftest import (reference_col2im, reference_im2col, reference_max_pool2d,
                            reference_max_pool2d_backward)

if _cpu.unavailable_reason() is not None and os.environ.get("CI") != "true":
    pytest.skip(_cpu.unavailable_reason(), allow_module_level=True)

# (N, H, W, C, KH, KW, SH, SW, DH, DW, padding)
CONV_CASES = [(2, 7, 9, 3, 3, 3, 1, 1, 1, 1, "valid"), (3, 8, 5, 16, 3, 2, 2, 1, 1, 1, "same"),
              (1, 11, 10, 5, 3, 3, 2, 3, 2, 1, "same"), (2, 6, 6, 1, 1, 1, 1, 1, 1, 1, "valid"),
              (4, 13, 13, 33, 3, 3, 1, 1, 1, 2, "valid"), (2, 5, 7, 2, 5, 5, 1, 1, 1, 1, "same")]
POOL_CASES = [(2, 6, 8, 3, 2, 2, 2, 2, "valid"), (3, 7, 5, 4, 2, 2, 2, 2, "valid"), (2, 7, 7, 5, 3, 3, 2, 2, "same"),
              (1, 9, 6, 2, 3, 2, 1, 1, "same"), (2, 26, 26, 32, 2, 2, 2, 2, "valid")]


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def threads(request):
    """The kernels on one thread, and on three with parts small enough that these small arrays are split."""
    from nnkit._cpu import _kernels
    before = _cpu.num_threads()
    _kernels.set_num_threads(request.param)
    part = _kernels.set_min_part_elements(1 if request.param > 1 else 262144)
    yield request.param
    _kernels.set_num_threads(before)
    _kernels.set_min_part_elements(part)


def _conv_args(case):
    N, H, W, C, KH, KW, SH, SW, DH, DW, padding = case
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, padding)
    return (N, H, W, C), (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _pool_args(case):
    N, H, W, C, KH, KW, SH, SW, padding = case
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, 1, 1, padding)
    return (N, H, W, C), (KH, KW, SH, SW, PH, PW, OH, OW)


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_matches_the_index_map_and_the_numpy_twin(case, threads):
    x_shape, args = _conv_args(case)
    x = numpy.random.default_rng(0).standard_normal(x_shape).astype(numpy.float32)
    cols = _cpu.im2col(x, *args)
    assert cols.flags.c_contiguous
    numpy.testing.assert_array_equal(cols, reference_im2col(x, *args))
    numpy.testing.assert_array_equal(cols, conv.im2col_reference(x, *args))


@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_matches_the_scatter_add_oracle_and_the_numpy_twin(case, threads):
    x_shape, args = _conv_args(case)
    KH, KW, OH, OW = args[0], args[1], args[8], args[9]
    cols = numpy.random.default_rng(1).standard_normal((x_shape[0] * OH * OW, KH * KW * x_shape[3]))
    cols = cols.astype(numpy.float32)
    dx = _cpu.col2im(cols, x_shape, *args)
    numpy.testing.assert_allclose(dx, reference_col2im(cols, x_shape, *args), rtol=1e-5, atol=1e-5)
    numpy.testing.assert_allclose(dx, conv.col2im_reference(cols, x_shape, *args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_the_oracle_with_ties(case, threads):
    x_shape, args = _pool_args(case)
    rng = numpy.random.default_rng(2)
    # Few distinct values: most windows hold exact ties, whose gradient must go to the first maximum only.
    x = rng.integers(-2, 3, x_shape).astype(numpy.float32)
    y, first = _cpu.max_pool2d(x, *args)
    y_expected, argmax = reference_max_pool2d(x, *args)
    numpy.testing.assert_array_equal(y, y_expected)
    numpy.testing.assert_array_equal(first, argmax)
    y_numpy, first_numpy = pool.max_pool2d_reference(x, *args)
    numpy.testing.assert_array_equal(first, first_numpy)
    dy = rng.standard_normal(y.shape).astype(numpy.float32)
    dx = _cpu.max_pool2d_backward(dy, first, x_shape, *args)
    numpy.testing.assert_allclose(dx, reference_max_pool2d_backward(dy, argmax, x_shape, *args), rtol=1e-6, atol=1e-6)
    numpy.testing.assert_allclose(dx, pool.max_pool2d_backward_reference(dy, first_numpy, x_shape, *args),
                                  rtol=1e-6, atol=1e-6)


def test_max_pool_all_minus_infinity_window_picks_its_first_tap_as_the_numpy_twin():
    x = numpy.full((1, 3, 3, 2), -numpy.inf, dtype=numpy.float32)
    args = (2, 2, 2, 2, 0, 0, 2, 2)  # 'same' on 3x3: the last row and column of windows hang in the padding
    y, first = _cpu.max_pool2d(x, *args)
    y_numpy, first_numpy = pool.max_pool2d_reference(x, *args)
    numpy.testing.assert_array_equal(y, y_numpy)
    numpy.testing.assert_array_equal(first, first_numpy)


@pytest.mark.parametrize("name", ["relu", "linear"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_activation_forward_and_backward_match_float64_math(name, with_bias, threads):
    rng = numpy.random.default_rng(3)
    rows, F = 1031, 37
    z = rng.standard_normal((rows, F)).astype(numpy.float32)
    bias = rng.standard_normal(F).astype(numpy.float32) if with_bias else None
    expected = z.astype(numpy.float64) + (bias if with_bias else 0.0)
    if name == "relu":
        expected = numpy.maximum(expected, 0)
    y = _cpu.bias_activation(z.copy(), bias, name == "relu")
    numpy.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)

    dy = rng.standard_normal((rows, F)).astype(numpy.float32)
    dz_expected = dy.astype(numpy.float64) * ((y > 0) if name == "relu" else 1.0)
    bias_grad = numpy.full(F, numpy.nan, dtype=numpy.float32)
    dz = _cpu.bias_activation_backward(dy, y, bias_grad, name == "relu")
    numpy.testing.assert_allclose(dz, dz_expected, rtol=1e-6, atol=1e-6)
    numpy.testing.assert_allclose(bias_grad, dz_expected.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_relu_backward_without_bias_gradient_and_nan_spreads_as_in_numpy():
    dy = numpy.array([[numpy.nan, 1.0, 2.0]], dtype=numpy.float32)
    y = numpy.array([[0.0, 3.0, 0.0]], dtype=numpy.float32)
    numpy.testing.assert_array_equal(_cpu.bias_activation_backward(dy, y, None, True), dy * (y > 0))


@pytest.mark.parametrize("decay", [0.0, 0.004])
def test_adam_step_matches_the_formula_in_float64(decay, threads):
    rng = numpy.random.default_rng(4)
    n = 300_001  # odd, and long enough to be split over threads
    p, g, m = (rng.standard_normal(n).astype(numpy.float32) for _ in range(3))
    v = rng.random(n).astype(numpy.float32)
    alpha, beta_1, beta_2, epsilon = 1e-3, 0.9, 0.999, 1e-7
    p64, g64, m64, v64 = (a.astype(numpy.float64) for a in (p, g, m, v))
    m64 = beta_1 * m64 + (1 - beta_1) * g64
    v64 = beta_2 * v64 + (1 - beta_2) * g64 ** 2
    p64 = p64 * (1 - decay) - alpha * m64 / (numpy.sqrt(v64) + epsilon)
    _cpu.adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)
    numpy.testing.assert_allclose(m, m64, rtol=1e-6, atol=1e-7)
    numpy.testing.assert_allclose(v, v64, rtol=1e-6, atol=1e-7)
    numpy.testing.assert_allclose(p, p64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_step_matches_keras_formula(momentum, nesterov, threads):
    rng = numpy.random.default_rng(5)
    p, g, velocity = (rng.standard_normal(70_003).astype(numpy.float32) for _ in range(3))
    lr = 0.01
    p64, g64, v64 = (a.astype(numpy.float64) for a in (p, g, velocity))
    if momentum:
        v64 = momentum * v64 - lr * g64
        p64 = p64 + (momentum * v64 - lr * g64 if nesterov else v64)
    else:
        p64 = p64 - lr * g64
    _cpu.sgd_step(p, g, velocity, lr, momentum, nesterov)
    numpy.testing.assert_allclose(p, p64, rtol=1e-6, atol=1e-6)
    if momentum:
        numpy.testing.assert_allclose(velocity, v64, rtol=1e-6, atol=1e-6)


def test_primitives_dispatch_float32_numpy_to_the_compiled_twins_and_float64_to_numpy():
    rng = numpy.random.default_rng(6)
    x32 = rng.standard_normal((2, 6, 6, 16)).astype(numpy.float32)
    args = (3, 3, 1, 1, 1, 1, 1, 1, 6, 6)
    assert _cpu.handles(x32) and not _cpu.handles(x32.astype(numpy.float64))
    compiled = primitives.im2col(x32, *args).copy()
    with _cpu.use_compiled(False):
        assert not _cpu.handles(x32)
        numpy.testing.assert_array_equal(primitives.im2col(x32, *args), compiled)
    relu = activations.get("relu")
    z = rng.standard_normal((5, 4)).astype(numpy.float32)
    bias = numpy.ones(4, numpy.float32)
    numpy.testing.assert_allclose(bias_act.bias_activation(z.copy(), bias, relu),
                                  bias_act.bias_activation_reference(z.copy(), bias, relu), rtol=1e-6)
    p = numpy.ones(10, numpy.float32)
    optim.adam_step(p, numpy.ones(10, numpy.float32), numpy.zeros(10, numpy.float32),
                    numpy.zeros(10, numpy.float32), 0.5, 0.9, 0.999, 1e-7)
    numpy.testing.assert_allclose(p, 1 - 0.5 * 0.1 / (numpy.sqrt(0.001) + 1e-7), rtol=1e-6)


def test_wrong_buffers_are_refused_before_any_write():
    x = numpy.zeros((1, 4, 4, 2), dtype=numpy.float32)
    small = numpy.full((3, 18), 7.0, dtype=numpy.float32)  # 4 rows are needed
    with pytest.raises(ValueError, match="out must be a C-contiguous float32 array of shape"):
        _cpu.im2col(x, 3, 3, 1, 1, 0, 0, 1, 1, 2, 2, out=small)
    numpy.testing.assert_array_equal(small, 7.0)
    with pytest.raises(ValueError, match="x must be a C-contiguous float32 array"):
        _cpu.im2col(x.astype(numpy.float64), 3, 3, 1, 1, 0, 0, 1, 1, 2, 2)
    with pytest.raises(ValueError, match="buffer argument 1 holds"):
        from nnkit._cpu import _kernels
        _kernels.im2col_f32(x, small, 1, 4, 4, 2, 3, 3, 1, 1, 0, 0, 1, 1, 2, 2)
    with pytest.raises(ValueError, match="positive integer. Received: count=0"):
        _cpu.set_num_threads(0)


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_step_forward_and_backward_match_the_numpy_twin(masked):
    rng = numpy.random.default_rng(7)
    N, U = 5, 7
    tanh, sigmoid = activations.get("tanh"), activations.get("sigmoid")
    xw, hr = (rng.standard_normal((N, 4 * U)).astype(numpy.float32) * 3 for _ in range(2))
    h_prev, c_prev = (rng.standard_normal((N, U)).astype(numpy.float32) for _ in range(2))
    mask = numpy.array([1, 0, 1, 1, 0], dtype=numpy.float32) if masked else None
    got = [numpy.full((N, U), numpy.nan, numpy.float32), numpy.full((N, U), numpy.nan, numpy.float32),
           numpy.full((N, 4 * U), numpy.nan, numpy.float32)]
    expected = [numpy.empty_like(a) for a in got]
    _cpu.lstm_step(xw, hr, h_prev, c_prev, mask, *got)
    recurrent.lstm_step_reference(xw, hr, h_prev, c_prev, mask, *expected, tanh, sigmoid)
    for a, b in zip(got, expected):
        numpy.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)

    h, c, gates = expected
    dh, dc = (rng.standard_normal((N, U)).astype(numpy.float32) for _ in range(2))
    got = [numpy.full((N, 4 * U), numpy.nan, numpy.float32), numpy.full((N, U), numpy.nan, numpy.float32),
           numpy.full((N, U), numpy.nan, numpy.float32)]
    expected = [numpy.empty_like(a) for a in got]
    _cpu.lstm_step_backward(dh, dc, c_prev, c, gates, mask, *got)
    recurrent.lstm_step_backward_reference(dh, dc, xw, hr, c_prev, c, gates, mask, *expected, tanh, sigmoid)
    for a, b in zip(got, expected):
        numpy.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)


def test_polynomial_tanh_and_sigmoid_stay_within_float32_rounding_over_the_whole_range():
    """Through the LSTM step: with hr = 0, c_prev = 0 the gates are sigmoid(x) and tanh(x) of ``xw``."""
    x = numpy.concatenate([numpy.linspace(-100, 100, 20001), [0.0, 1e-30, -1e-8, 0.6249, 0.6251, 88.7, -88.7]])
    U = len(x)
    xw = numpy.tile(x, 4)[None].astype(numpy.float32)
    zeros = numpy.zeros((1, U), numpy.float32)
    h, c, gates = numpy.empty((1, U), numpy.float32), numpy.empty((1, U), numpy.float32), numpy.empty_like(xw)
    _cpu.lstm_step(xw, numpy.zeros_like(xw), zeros, zeros, None, h, c, gates)
    x64 = xw[0, :U].astype(numpy.float64)
    numpy.testing.assert_allclose(gates[0, :U], 1 / (1 + numpy.exp(-x64)), rtol=1e-6, atol=1e-38)
    numpy.testing.assert_allclose(gates[0, 2 * U:3 * U], numpy.tanh(x64), rtol=1e-6, atol=1e-38)


def test_scatter_add_rows_sums_repeated_indices_as_numpy_add_at():
    rng = numpy.random.default_rng(8)
    target = rng.standard_normal((13, 5)).astype(numpy.float32)
    indices = rng.integers(0, 13, 200)
    values = rng.standard_normal((200, 5)).astype(numpy.float32)
    expected = target.copy()
    numpy.add.at(expected, indices, values)
    _cpu.scatter_add_rows(target, indices, values)
    numpy.testing.assert_array_equal(target, expected)


def test_scatter_add_rows_refuses_an_index_out_of_range_before_writing():
    target = numpy.zeros((3, 2), numpy.float32)
    with pytest.raises(IndexError, match="index 3 at position 1 is out of range for 3 rows"):
        _cpu.scatter_add_rows(target, numpy.array([0, 3]), numpy.ones((2, 2), numpy.float32))
    numpy.testing.assert_array_equal(target, 0.0)


def test_backend_scatter_add_counts_negative_indices_from_the_end_as_numpy():
    from nnkit import backend
    target, expected = numpy.zeros((3, 2), numpy.float32), numpy.zeros((3, 2), numpy.float32)
    indices, values = numpy.array([-1, 0, -1, 2]), numpy.arange(8, dtype=numpy.float32).reshape(4, 2)
    backend.scatter_add(target, indices, values)
    numpy.add.at(expected, indices, values)
    numpy.testing.assert_array_equal(target, expected)
    with pytest.raises(IndexError, match="-4"):
        backend.scatter_add(target, numpy.array([-4]), values[:1])
