"""The LSTM and the GRU on the CPU, in parts: the compiled whole-sequence scans against the NumPy step loops they
replace, and nnkit's compiled product against NumPy's BLAS on the LSTM's shapes.

The shapes are those of the race's text classifier (``cpu_training_race.py``): 80 time steps, batch 64, 32
input features, 64 units. Each figure is one process's; the race gives the whole-epoch comparison with PyTorch.

    python -m pytest benchmarks/test_lstm_cpu.py --benchmark-columns=min,median,rounds
"""
import numpy
import pytest

import nnkit
from nnkit import _cpu, backend

from training_step import wait_for_idle_threads

T, N, D, U = 80, 64, 32, 64

pytestmark = pytest.mark.skipif(_cpu.unavailable_reason() is not None, reason=str(_cpu.unavailable_reason()))


def _layer_and_batch(kind):
    nnkit.utils.set_random_seed(0)
    layer = getattr(nnkit.layers, kind)(U)
    layer.build((N, T, D))
    x = numpy.random.default_rng(0).standard_normal((N, T, D)).astype(numpy.float32)
    return layer, x


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-scan", "numpy-step-loop"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layer_forward_and_backward(benchmark, kind, compiled):
    layer, x = _layer_and_batch(kind)
    dy = numpy.ones((N, U), numpy.float32)

    def step():
        layer.forward(x, training=True)
        layer.backward(dy)

    with backend.use("cpu"), _cpu.use_compiled(compiled):
        step()
        assert layer._compiled_scan is compiled
        wait_for_idle_threads()
        benchmark(step)


# (rows, K, M, a transposed): the input projection, the two weight gradients, dx
PRODUCTS = {"projection": (T * N, D, 4 * U, False), "kernel-gradient": (D, T * N, 4 * U, True),
            "recurrent-kernel-gradient": (U, T * N, 4 * U, True), "input-gradient": (T * N, 4 * U, D, False)}


@pytest.mark.parametrize("library", ["nnkit", "numpy"])
@pytest.mark.parametrize("shape", list(PRODUCTS))
def test_lstm_products(benchmark, shape, library):
    rows, K, M, transposed = PRODUCTS[shape]
    rng = numpy.random.default_rng(1)
    a = rng.standard_normal((K, rows) if transposed else (rows, K)).astype(numpy.float32)
    b = rng.standard_normal((K, M)).astype(numpy.float32)
    out = numpy.empty((rows, M), numpy.float32)

    def run():
        if library == "nnkit":
            _cpu.matmul(a, b, out=out, transpose_a=transposed)
        else:
            numpy.matmul(a.T if transposed else a, b, out=out)

    run()
    wait_for_idle_threads()
    benchmark(run)
