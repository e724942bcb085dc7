"""The CUDA kernels against float64 NumPy references (GPU-marked), and those references against brute-force
loops and hand-computed values (CPU)."""
import itertools

import numpy
import pytest

from nnkit import activations, backend, selftest
from nnkit.primitives import bias_act, cross_entropy, optim

DTYPES = [numpy.float32, numpy.float64]


def tolerance(dtype, kind="elementwise"):
    return selftest.TOLERANCE[numpy.dtype(dtype)][kind]


def assert_close(got, expected, dtype, kind="elementwise"):
    error = selftest.relative_error(got, expected)
    assert error <= tolerance(dtype, kind), f"relative error {error:.3e} > {tolerance(dtype, kind):.0e}"


# ==== CPU: the references themselves ============================================================================
def brute_force_im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, H, W, C = x.shape
    cols = numpy.zeros((N * OH * OW, KH * KW * C))
    for n, oh, ow, kh, kw, c in itertools.product(range(N), range(OH), range(OW), range(KH), range(KW), range(C)):
        ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
        if 0 <= ih < H and 0 <= iw < W:
            cols[(n * OH + oh) * OW + ow, (kh * KW + kw) * C + c] = x[n, ih, iw, c]
    return cols


def brute_force_max_pool(x, KH, KW, SH, SW, PH, PW, OH, OW):
    N, H, W, C = x.shape
    y, argmax = numpy.full((N, OH, OW, C), -numpy.inf), numpy.zeros((N, OH, OW, C), int)
    for n, oh, ow, c in itertools.product(range(N), range(OH), range(OW), range(C)):
        for tap, (kh, kw) in enumerate(itertools.product(range(KH), range(KW))):
            ih, iw = oh * SH - PH + kh, ow * SW - PW + kw
            if 0 <= ih < H and 0 <= iw < W and x[n, ih, iw, c] > y[n, oh, ow, c]:
                y[n, oh, ow, c], argmax[n, oh, ow, c] = x[n, ih, iw, c], tap
    return y, argmax


@pytest.mark.parametrize("geometry", [(2, 5, 6, 3, 3, 2, 1, 2, 1, 0, 1, 2), (1, 7, 4, 2, 2, 3, 2, 1, 1, 2, 2, 1)])
def test_reference_im2col_matches_brute_force_and_col2im_is_its_adjoint(geometry, rng):
    N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW = geometry
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    args = (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    x = rng.standard_normal((N, H, W, C))
    cols = selftest.reference_im2col(x, *args)
    numpy.testing.assert_array_equal(cols, brute_force_im2col(x, *args))
    # <im2col(x), d> == <x, col2im(d)> for any d: col2im is the transpose of im2col.
    d = rng.standard_normal(cols.shape)
    assert numpy.vdot(cols, d) == pytest.approx(numpy.vdot(x, selftest.reference_col2im(d, x.shape, *args)), rel=1e-12)


def test_reference_max_pool_matches_brute_force_with_ties_and_padding(rng):
    x = numpy.round(rng.standard_normal((2, 5, 7, 3)))  # many exact ties
    args = (3, 2, 2, 2, 1, 1, 3, 4)
    y, argmax = selftest.reference_max_pool2d(x, *args)
    y_brute, argmax_brute = brute_force_max_pool(x, *args)
    numpy.testing.assert_array_equal(y, y_brute)
    numpy.testing.assert_array_equal(argmax, argmax_brute)


def test_reference_max_pool_backward_by_hand():
    x = numpy.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    y, argmax = selftest.reference_max_pool2d(x, 2, 2, 2, 2, 0, 0, 1, 1)
    assert y.item() == 3.0 and argmax.item() == 1  # the first of the two 3s, in row-major window order
    dx = selftest.reference_max_pool2d_backward(numpy.array([[[[5.0]]]]), argmax, x.shape, 2, 2, 2, 2, 0, 0, 1, 1)
    numpy.testing.assert_array_equal(dx.reshape(2, 2), [[0.0, 5.0], [0.0, 0.0]])


def test_reference_softmax_cross_entropy_by_hand():
    loss, grad = selftest.reference_softmax_cross_entropy(numpy.array([[0.0, numpy.log(3.0)]]), numpy.array([1]))
    assert loss == pytest.approx(-numpy.log(0.75))
    numpy.testing.assert_allclose(grad, [[0.25, -0.25]])


def test_relative_error_flags_unwritten_and_mismatched_entries():
    assert selftest.relative_error(numpy.array([1.0, numpy.nan]), numpy.array([1.0, 2.0])) == numpy.inf
    assert selftest.relative_error(numpy.array([-numpy.inf, 2.0]), numpy.array([-numpy.inf, 2.0])) == 0.0
    assert selftest.relative_error(numpy.array([1.0, 2.2]), numpy.array([1.0, 2.0])) == pytest.approx(0.1)


def test_selftest_cpu_path_passes():
    runner = selftest.Runner(device=False, seed=3)
    with backend.use("cpu"):
        results = runner.run_all()
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


# ==== GPU: every kernel against the references ==================================================================
CHECKS = ["check_conv", "check_pool", "check_bias_act", "check_cross_entropy", "check_optim", "check_layer_norm",
          "check_attention_softmax"]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_matches_reference_on_random_shapes(cupy, check, dtype, seed):
    runner = selftest.Runner(device=True, seed=seed)
    getattr(runner, check)(numpy.dtype(dtype))
    failed = [r for r in runner.results if not r.passed]
    assert runner.results and not failed, failed


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_conv_and_pool_agree_with_the_numpy_twins(cupy, dtype, rng):
    from nnkit.cuda import conv as conv_kernels, pool as pool_kernels
    from nnkit.primitives import conv as conv_ops, pool as pool_ops
    x = rng.standard_normal((3, 9, 7, 5)).astype(dtype)
    OH, OW, PH, PW = conv_ops.conv_output_geometry(9, 7, 3, 3, 2, 1, 1, 2, "same")
    args = (3, 3, 2, 1, PH, PW, 1, 2, OH, OW)
    cols = conv_kernels.im2col(cupy.asarray(x), *args)
    assert cols.flags.c_contiguous
    assert_close(cols, conv_ops.im2col(x, *args), dtype)
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    assert_close(conv_kernels.col2im(cupy.asarray(dcols), x.shape, *args), conv_ops.col2im(dcols, x.shape, *args),
                 dtype, "reduction")
    x = numpy.round(x * 2)  # ties
    OH, OW, PH, PW = conv_ops.conv_output_geometry(9, 7, 3, 3, 2, 2, 1, 1, "same")
    args = (3, 3, 2, 2, PH, PW, OH, OW)
    y, saved = pool_kernels.max_pool2d(cupy.asarray(x), *args)
    y_ref, saved_ref = pool_ops.max_pool2d(x, *args)
    assert_close(y, y_ref, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(pool_kernels.max_pool2d_backward(cupy.asarray(dy), saved, x.shape, *args),
                 pool_ops.max_pool2d_backward(dy, saved_ref, x.shape, *args), dtype, "reduction")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "linear"])
@pytest.mark.parametrize("shape", [(20001, 33), (4099, 1), (517, 300)])
def test_bias_act_with_many_row_blocks_and_a_misaligned_buffer(cupy, dtype, activation, shape, rng):
    """Tall inputs take the two-stage bias-gradient sum; z at a 1-element offset takes the scalar path."""
    act = activations.get(activation)
    rows, F = shape
    z, bias, dy = (rng.standard_normal(s).astype(dtype) for s in (shape, (F,), shape))
    buffer = cupy.empty(z.size + 1, dtype)
    z_gpu = buffer[1:].reshape(shape)
    z_gpu[...] = cupy.asarray(z)
    y = bias_act.bias_activation_gpu(z_gpu, cupy.asarray(bias), act)
    y_ref = bias_act.bias_activation(z.copy(), bias, act)
    assert_close(y, y_ref, dtype)
    bias_grad = cupy.full(F, numpy.nan, dtype)
    y_host = cupy.asnumpy(y)
    dz = bias_act.bias_activation_backward_gpu(cupy.asarray(dy), None, cupy.asarray(y_host), act, bias_grad)
    bias_grad_ref = numpy.full(F, numpy.nan, dtype)
    dz_ref = bias_act.bias_activation_backward(dy, None, y_host, act, bias_grad_ref)
    assert_close(dz, dz_ref, dtype)
    assert_close(bias_grad, bias_grad_ref.astype(numpy.float64), dtype, "reduction")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4096, 1000), (64, 10), (257, 3000), (1, 2)])
def test_softmax_cross_entropy_agrees_with_the_numpy_twin(cupy, dtype, shape, rng):
    logits = (rng.standard_normal(shape) * 5).astype(dtype)
    labels = rng.integers(0, shape[1], shape[0])
    loss, grad = cross_entropy.softmax_cross_entropy(cupy.asarray(logits), cupy.asarray(labels))
    loss_ref, grad_ref = cross_entropy.softmax_cross_entropy(logits, labels)
    assert_close(loss, loss_ref, dtype, "reduction")
    assert_close(grad, grad_ref, dtype)


@pytest.mark.gpu
@pytest.mark.parametrize("variant_K", [10, 100, 200, 1000, 1500])
def test_out_of_range_labels_are_flagged_with_nan_not_read(cupy, variant_K, rng):
    N, K = 40, variant_K
    logits = rng.standard_normal((N, K)).astype(numpy.float32)
    labels = rng.integers(0, K, N)
    labels[[3, 17]] = [K, -1]
    loss, grad = cross_entropy.softmax_cross_entropy(cupy.asarray(logits), cupy.asarray(labels))
    grad = cupy.asnumpy(grad)
    assert numpy.isnan(float(loss))
    assert numpy.isnan(grad[[3, 17]]).all()
    good = numpy.setdiff1d(numpy.arange(N), [3, 17])
    _, grad_ref = selftest.reference_softmax_cross_entropy(logits[good], labels[good])
    assert_close(grad[good] * N / len(good), grad_ref, numpy.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 1 << 20 | 5])
def test_adam_and_sgd_on_a_misaligned_view(cupy, dtype, n, rng):
    """A view at a 1-element offset cannot take vector loads: the scalar path must give the same step."""
    p, g, m = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    v = numpy.abs(rng.standard_normal(n)).astype(dtype)
    buffers = [cupy.zeros(n + 1, dtype) for _ in range(4)]
    views = [b[1:] for b in buffers]
    for view, value in zip(views, (p, g, m, v)):
        view[...] = cupy.asarray(value)
    optim.adam_step(*views, 1e-3, 0.9, 0.999, 1e-7, 1e-5)
    for got, expected in zip((views[0], views[2], views[3]), selftest.reference_adam(p, g, m, v, 1e-3, 0.9, 0.999,
                                                                                     1e-7, 1e-5)):
        assert_close(got, expected, dtype)
    p_gpu = cupy.asarray(p)
    velocity = cupy.asarray(m).copy()
    optim.sgd_step(p_gpu, cupy.asarray(g), velocity, 0.1, 0.5, True)
    p_ref, v_ref = selftest.reference_sgd(p, g, m, 0.1, 0.5, True)
    assert_close(p_gpu, p_ref, dtype)
    assert_close(velocity, v_ref, dtype)


@pytest.mark.gpu
def test_wrappers_refuse_strided_views_and_wrong_dtypes(cupy):
    from nnkit.cuda import conv as conv_kernels, optim as optim_kernels
    x = cupy.zeros((2, 6, 6, 3), numpy.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        conv_kernels.im2col(x[:, ::2], 3, 3, 1, 1, 0, 0, 1, 1, 1, 4)
    with pytest.raises(TypeError, match="float32 or float64"):
        conv_kernels.im2col(x.astype(numpy.float16), 3, 3, 1, 1, 0, 0, 1, 1, 4, 4)
    p = cupy.zeros(10, numpy.float32)
    with pytest.raises(TypeError, match="dtype float32"):
        optim_kernels.adam_step(p, p.astype(numpy.float64), p.copy(), p.copy(), 1e-3, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="one length"):
        optim_kernels.adam_step(p, p[:5].copy(), p.copy(), p.copy(), 1e-3, 0.9, 0.999, 1e-7)
    with pytest.raises(TypeError, match="CuPy array"):
        optim_kernels.adam_step(numpy.zeros(10, numpy.float32), p, p, p, 1e-3, 0.9, 0.999, 1e-7)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_for_patches_too_large_for_the_tiled_kernel(cupy, dtype, rng):
    """KH*KW*C > 4096 takes the flat one-thread-per-element kernel."""
    from nnkit.cuda import conv as conv_kernels
    x = rng.standard_normal((2, 5, 4, 461)).astype(dtype)
    args = (3, 3, 1, 2, 1, 1, 1, 1, 5, 2)
    out = cupy.full((2 * 5 * 2, 9 * 461), numpy.nan, dtype)
    assert_close(conv_kernels.im2col(cupy.asarray(x), *args, out=out), selftest.reference_im2col(x, *args), dtype)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", [0, 1])
def test_softmax_cross_entropy_vector_rows_and_their_misaligned_fallback(cupy, dtype, offset, rng):
    """K = 1000 takes 16-byte accesses when the rows are aligned; a buffer one element off must fall back to
    scalar accesses and give the same result (labels and soft targets)."""
    N, K = 300, 1000
    logits = (rng.standard_normal((N, K)) * 5).astype(dtype)
    soft = rng.random((N, K))
    soft = (soft / soft.sum(axis=1, keepdims=True)).astype(dtype)
    labels = rng.integers(0, K, N)
    for targets in (labels, soft):
        buffer = cupy.empty(N * K + offset, dtype)
        device_logits = buffer[offset:].reshape(N, K)
        device_logits[...] = cupy.asarray(logits)
        loss, grad = cross_entropy.softmax_cross_entropy(device_logits, cupy.asarray(targets))
        loss_ref, grad_ref = selftest.reference_softmax_cross_entropy(logits, targets)
        assert_close(loss, loss_ref, dtype, "reduction")
        assert_close(grad, grad_ref, dtype)
