"""The compiled CPU kernels (nnkit/_cpu/*.c) against float64 index-map oracles, float64 products and loops, and
their NumPy twins.

Each kernel is checked on random geometries, odd sizes, padding, strides and dilation included, with the work
split over one and several threads. The suite skips here where the extension is not built (no compiler); CI
(``CI=true``) builds it and fails if it is missing.
"""
import os

import numpy
import pytest

from nnkit import _cpu, activations, primitives
from nnkit.primitives import bias_act, conv, optim, pool, recurrent
from nnkit.selftest import (reference_col2im, reference_gru_scan, reference_im2col, reference_lstm_scan,
                            reference_max_pool2d, reference_max_pool2d_backward)

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
    parts = _kernels.set_min_part_sizes(*((1, 1) if request.param > 1 else (4194304, 262144)))
    yield request.param
    _kernels.set_num_threads(before)
    _kernels.set_min_part_sizes(*parts)


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


# (T, N, U): tiles of 4 rows by 16 columns with row and column remainders, and none
SCAN_CASES = [(5, 3, 5), (7, 9, 16), (4, 6, 20), (3, 1, 1), (6, 8, 12)]


@pytest.mark.parametrize("case", SCAN_CASES)
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_lstm_scan_forward_and_backward_match_the_float64_step_loop(case, padded, dropout, threads):
    T, N, U = case
    rng = numpy.random.default_rng(T * 100 + N * 10 + U)
    f32 = numpy.float32
    xw = rng.standard_normal((T, N, 4 * U)).astype(f32)
    kernel = (rng.standard_normal((U, 4 * U)) / numpy.sqrt(U)).astype(f32)
    h0, c0 = (rng.standard_normal((N, U)).astype(f32) for _ in range(2))
    recurrent_mask = (rng.random((N, U)) > 0.3).astype(f32) / f32(0.7) if dropout else None
    mask = (rng.random((T, N)) > 0.3).astype(f32) if padded else None
    dH = rng.standard_normal((T, N, U)).astype(f32)
    dc_last = rng.standard_normal((N, U)).astype(f32) if padded else None
    H, C = numpy.full((T + 1, N, U), numpy.nan, f32), numpy.full((T + 1, N, U), numpy.nan, f32)
    H[0], C[0] = h0, c0
    gates, dz = numpy.full((T, N, 4 * U), numpy.nan, f32), numpy.full((T, N, 4 * U), numpy.nan, f32)
    _cpu.lstm_scan(xw, kernel, recurrent_mask, mask, H, C, gates)
    dh0, dc0 = _cpu.lstm_scan_backward(dH, dc_last, kernel, recurrent_mask, mask, C, gates, dz)
    expected = reference_lstm_scan(xw, kernel, recurrent_mask, mask, h0, c0, dH, dc_last)
    for name, got, want in zip(["H", "C", "gates", "dz", "dh0", "dc0"], [H, C, gates, dz, dh0, dc0], expected):
        numpy.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * numpy.abs(want).max(), err_msg=name)


@pytest.mark.parametrize("case", SCAN_CASES)
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_gru_scan_forward_and_backward_match_the_float64_step_loop(case, padded, dropout, threads):
    T, N, U = case
    rng = numpy.random.default_rng(T * 100 + N * 10 + U + 1)
    f32 = numpy.float32
    xw = rng.standard_normal((T, N, 3 * U)).astype(f32)
    kernel = (rng.standard_normal((U, 3 * U)) / numpy.sqrt(U)).astype(f32)
    bias = rng.standard_normal(3 * U).astype(f32) if padded else None
    h0 = rng.standard_normal((N, U)).astype(f32)
    recurrent_mask = (rng.random((N, U)) > 0.3).astype(f32) / f32(0.7) if dropout else None
    mask = (rng.random((T, N)) > 0.3).astype(f32) if padded else None
    dH = rng.standard_normal((T, N, U)).astype(f32)
    H = numpy.full((T + 1, N, U), numpy.nan, f32)
    H[0] = h0
    HR, gates, dxw, dhr = (numpy.full((T, N, 3 * U), numpy.nan, f32) for _ in range(4))
    _cpu.gru_scan(xw, kernel, bias, recurrent_mask, mask, H, HR, gates)
    dh0 = _cpu.gru_scan_backward(dH, kernel, recurrent_mask, mask, H, HR, gates, dxw, dhr)
    expected = reference_gru_scan(xw, kernel, bias, recurrent_mask, mask, h0, dH)
    for name, got, want in zip(["H", "HR", "gates", "dxw", "dhr", "dh0"], [H, HR, gates, dxw, dhr, dh0], expected):
        numpy.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * numpy.abs(want).max(), err_msg=name)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layer_trains_the_same_through_the_compiled_scan_and_the_numpy_step_loop(kind):
    """A float32 LSTM or GRU (masked input, recurrent dropout, states returned) through the layer: compiled
    against NumPy."""
    import nnkit
    rng = numpy.random.default_rng(3)
    tokens = rng.integers(1, 50, (6, 9))
    tokens[0, 5:] = 0
    tokens[3, 2:] = 0
    results = []
    for compiled in (True, False):
        nnkit.utils.set_random_seed(11)
        inputs = nnkit.Input(shape=(9,))
        embedded = nnkit.layers.Embedding(50, 8, mask_zero=True)(inputs)
        layer = getattr(nnkit.layers, kind)(12, return_sequences=True, return_state=True, recurrent_dropout=0.25)
        sequence, *states = layer(embedded)
        outputs = nnkit.layers.Dense(1)(nnkit.layers.Concatenate()([nnkit.layers.GlobalAveragePooling1D()(sequence),
                                                                     *states]))
        model = nnkit.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        with _cpu.use_compiled(compiled):
            history = model.fit(tokens, numpy.linspace(-1, 1, 6)[:, None], epochs=3, batch_size=3, verbose=0,
                                shuffle=False)
        assert layer._compiled_scan is compiled
        results.append((history.history["loss"], [w.copy() for w in model.get_weights()]))
    (loss_compiled, weights_compiled), (loss_numpy, weights_numpy) = results
    numpy.testing.assert_allclose(loss_compiled, loss_numpy, rtol=1e-5)
    for a, b in zip(weights_compiled, weights_numpy):
        numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# (rows, K, M): tiles of 4 rows by 16 columns with remainders, K over a block of 256, and single elements
MATMUL_CASES = [(1, 1, 1), (5, 300, 17), (9, 7, 33), (32, 600, 48), (4, 256, 16), (13, 513, 5)]


@pytest.mark.parametrize("case", MATMUL_CASES)
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
def test_matmul_matches_float64_products(case, transpose_a, accumulate, threads):
    rows, K, M = case
    rng = numpy.random.default_rng(rows * K + M)
    a = rng.standard_normal((K, rows) if transpose_a else (rows, K)).astype(numpy.float32)
    b = rng.standard_normal((K, M)).astype(numpy.float32)
    start = rng.standard_normal((rows, M)).astype(numpy.float32)
    out = start.copy()
    got = _cpu.matmul(a, b, out=out, transpose_a=transpose_a, accumulate=accumulate)
    a64 = a.astype(numpy.float64).T if transpose_a else a.astype(numpy.float64)
    expected = a64 @ b.astype(numpy.float64) + (start if accumulate else 0)
    assert got is out
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * numpy.sqrt(K))


def test_matmul_refuses_mismatched_shapes_before_writing():
    out = numpy.full((2, 3), 7.0, numpy.float32)
    with pytest.raises(ValueError, match=r"inner dimensions differ: a is \(2, 4\), b is \(5, 3\)"):
        _cpu.matmul(numpy.ones((2, 4), numpy.float32), numpy.ones((5, 3), numpy.float32), out=out)
    with pytest.raises(ValueError, match="out must be a C-contiguous float32 array of shape"):
        _cpu.matmul(numpy.ones((2, 4), numpy.float32), numpy.ones((4, 4), numpy.float32), out=out)
    numpy.testing.assert_array_equal(out, 7.0)
