"""The fused LSTM / GRU step kernels (kernels/recurrent.cu) against their NumPy references, and whole
recurrent layers on the GPU against the same layers on NumPy."""
import numpy
import pytest

from nnkit import activations, backend
from nnkit.layers import GRU, LSTM, Bidirectional, Embedding
from nnkit.primitives import recurrent

pytestmark = pytest.mark.gpu

TANH, SIGMOID = activations.get("tanh"), activations.get("sigmoid")
SHAPES = [(1, 1), (3, 5), (17, 33), (64, 257)]
TOLERANCE = {numpy.float32: dict(rtol=2e-5, atol=2e-6), numpy.float64: dict(rtol=1e-12, atol=1e-13)}


def pair(rng, shape, dtype, scale=1.0):
    host = (rng.standard_normal(shape) * scale).astype(dtype)
    return host, backend.cupy.asarray(host)


def masks(rng, N, dtype):
    host = (rng.random(N) > 0.3).astype(dtype)
    return [(None, None), (host, backend.cupy.asarray(host))]


def assert_close(device, host, dtype):
    numpy.testing.assert_allclose(backend.to_host(device), host, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("N, U", SHAPES)
def test_lstm_step_kernels_match_reference(dtype, N, U, rng):
    cupy = backend.cupy
    xw, xw_d = pair(rng, (N, 4 * U), dtype, 2)
    hr, hr_d = pair(rng, (N, 4 * U), dtype, 2)
    h_prev, h_prev_d = pair(rng, (N, U), dtype)
    c_prev, c_prev_d = pair(rng, (N, U), dtype)
    dh, dh_d = pair(rng, (N, U), dtype)
    dc, dc_d = pair(rng, (N, U), dtype)
    for mask, mask_d in masks(rng, N, dtype):
        h, c, gates = numpy.empty((N, U), dtype), numpy.empty((N, U), dtype), numpy.empty((N, 4 * U), dtype)
        recurrent.lstm_step_reference(xw, hr, h_prev, c_prev, mask, h, c, gates, TANH, SIGMOID)
        h_d, c_d, gates_d = cupy.empty((N, U), dtype), cupy.empty((N, U), dtype), cupy.empty((N, 4 * U), dtype)
        recurrent.lstm_step(xw_d, hr_d, h_prev_d, c_prev_d, mask_d, h_d, c_d, gates_d, TANH, SIGMOID)
        for device, host in ((h_d, h), (c_d, c), (gates_d, gates)):
            assert_close(device, host, dtype)

        dz, dh_carry, dc_prev = numpy.empty((N, 4 * U), dtype), numpy.empty((N, U), dtype), numpy.empty((N, U), dtype)
        recurrent.lstm_step_backward_reference(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev,
                                         TANH, SIGMOID)
        dz_d, dh_carry_d, dc_prev_d = cupy.empty((N, 4 * U), dtype), cupy.empty((N, U), dtype), \
            cupy.empty((N, U), dtype)
        recurrent.lstm_step_backward(dh_d, dc_d, xw_d, hr_d, c_prev_d, c_d, gates_d, mask_d, dz_d, dh_carry_d,
                               dc_prev_d, TANH, SIGMOID)
        for device, host in ((dz_d, dz), (dh_carry_d, dh_carry), (dc_prev_d, dc_prev)):
            assert_close(device, host, dtype)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("N, U", SHAPES)
def test_gru_step_kernels_match_reference(dtype, N, U, rng):
    cupy = backend.cupy
    xw, xw_d = pair(rng, (N, 3 * U), dtype, 2)
    hr, hr_d = pair(rng, (N, 3 * U), dtype, 2)
    h_prev, h_prev_d = pair(rng, (N, U), dtype)
    dh, dh_d = pair(rng, (N, U), dtype)
    for mask, mask_d in masks(rng, N, dtype):
        h, gates = numpy.empty((N, U), dtype), numpy.empty((N, 3 * U), dtype)
        recurrent.gru_step_reference(xw, hr, h_prev, mask, h, gates, TANH, SIGMOID)
        h_d, gates_d = cupy.empty((N, U), dtype), cupy.empty((N, 3 * U), dtype)
        recurrent.gru_step(xw_d, hr_d, h_prev_d, mask_d, h_d, gates_d, TANH, SIGMOID)
        assert_close(h_d, h, dtype)
        assert_close(gates_d, gates, dtype)

        dxw, dhr, dh_carry = numpy.empty((N, 3 * U), dtype), numpy.empty((N, 3 * U), dtype), numpy.empty((N, U), dtype)
        recurrent.gru_step_backward_reference(dh, xw, hr, h_prev, gates, mask, dxw, dhr, dh_carry, TANH, SIGMOID)
        dxw_d, dhr_d, dh_carry_d = cupy.empty((N, 3 * U), dtype), cupy.empty((N, 3 * U), dtype), \
            cupy.empty((N, U), dtype)
        recurrent.gru_step_backward(dh_d, xw_d, hr_d, h_prev_d, gates_d, mask_d, dxw_d, dhr_d, dh_carry_d,
                              TANH, SIGMOID)
        for device, host in ((dxw_d, dxw), (dhr_d, dhr), (dh_carry_d, dh_carry)):
            assert_close(device, host, dtype)


def test_kernel_wrapper_rejects_bad_arrays():
    cupy = backend.cupy
    from nnkit.cuda import recurrent
    a = cupy.zeros((2, 12), numpy.float32)
    s = cupy.zeros((2, 3), numpy.float32)
    with pytest.raises(ValueError, match="'hr' has shape"):
        recurrent.lstm_step(a, a[:, :4], s, s, None, s, s, a)
    with pytest.raises(TypeError, match="one dtype"):
        recurrent.lstm_step(a, a.astype(numpy.float64), s, s, None, s, s, a)
    with pytest.raises(ValueError, match="C-contiguous"):
        recurrent.gru_step(a[:, :9], cupy.zeros((2, 9), numpy.float32), s, None, s, cupy.zeros((2, 9), numpy.float32))


@pytest.mark.parametrize("make", [lambda: LSTM(7, return_sequences=True), lambda: GRU(5, return_sequences=True),
                                  lambda: Bidirectional(LSTM(4, return_sequences=True)),
                                  lambda: GRU(6, reset_after=False)])
def test_layers_on_gpu_match_numpy(make, rng):
    x = rng.standard_normal((9, 11, 6))
    mask = rng.random((9, 11)) > 0.25
    results = {}
    weights = None
    for name in ("cpu", "gpu"):
        with backend.use(name):
            backend.set_floatx("float64")
            layer = make()
            layer.build_for((None, 11, 6))
            if weights is None:
                weights = layer.get_weights()
            layer.set_weights(weights)
            y, _ = layer.forward_masked(backend.to_device(x), backend.to_device(mask))
            dy = numpy.random.default_rng(1).standard_normal(y.shape)
            dx = layer.backward(backend.to_device(dy))
            results[name] = [backend.to_host(y), backend.to_host(dx)] + \
                [backend.to_host(layer.grads[spec.name]).copy() for spec in layer.weight_specs]
    for gpu, cpu in zip(results["gpu"], results["cpu"]):
        numpy.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-11)


def test_embedding_scatter_add_on_gpu(rng):
    indices = rng.integers(0, 7, size=(50, 9))
    dy = rng.standard_normal((50, 9, 4))
    layer = Embedding(7, 4)
    backend.set_floatx("float64")
    with backend.use("gpu"):
        layer(indices)
        layer.backward(backend.to_device(dy))
        grad = backend.to_host(layer.grads["embeddings"])
    expected = numpy.zeros((7, 4))
    for n in range(50):
        for t in range(9):
            expected[indices[n, t]] += dy[n, t]
    numpy.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12)
