"""The backend: choice and fallback, the context manager, transfers, dtype setting, seeded generators."""
import math
import os
import subprocess
import sys
import types

import numpy
import pytest

from nnkit import backend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code, **env):
    """Run ``code`` in a fresh interpreter with extra environment variables; returns the result."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": REPO, **env})


def test_cpu_backend_is_numpy():
    with backend.use("cpu"):
        assert backend.name() == "cpu" and backend.xp() is numpy and not backend.is_gpu()


def test_use_restores_the_previous_backend():
    before = backend.name()
    with backend.use("cpu"):
        assert backend.name() == "cpu"
    assert backend.name() == before


def test_unknown_backend_is_clear():
    with pytest.raises(backend.BackendError, match="Unknown backend 'tpu': expected one of cpu, gpu, auto"):
        backend.use("tpu")


@pytest.mark.skipif(backend.gpu_unavailable_reason() is None, reason="this machine has a usable GPU")
def test_explicit_gpu_request_without_gpu_says_why():
    with pytest.raises(backend.BackendError, match="GPU backend was requested but cannot be used: .*(CuPy|CUDA)"):
        backend.use("gpu")


@pytest.mark.skipif(backend.gpu_unavailable_reason() is None, reason="this machine has a usable GPU")
def test_auto_falls_back_to_numpy_without_gpu():
    with backend.use("auto"):
        assert backend.name() == "cpu"


def test_reasons_for_each_missing_piece(monkeypatch):
    monkeypatch.setattr(backend, "cupy", None)
    assert "CuPy is not installed" in backend.gpu_unavailable_reason()

    def no_driver():
        raise RuntimeError("cudaErrorInsufficientDriver")
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver)))
    monkeypatch.setattr(backend, "cupy", fake)
    assert "CUDA is not usable: cudaErrorInsufficientDriver" in backend.gpu_unavailable_reason()
    fake.cuda.runtime.getDeviceCount = lambda: 0
    assert "no CUDA device" in backend.gpu_unavailable_reason()
    with backend.use("auto"):
        assert backend.name() == "cpu"  # CuPy installed, no device: auto falls back


def test_environment_variable_picks_the_backend():
    result = _python("import nnkit; print(nnkit.backend.name())", NNKIT_BACKEND="cpu")
    assert result.returncode == 0 and result.stdout.strip() == "cpu"
    if backend.gpu_unavailable_reason() is not None:
        failed = _python("import nnkit; nnkit.backend.name()", NNKIT_BACKEND="gpu")
        assert failed.returncode != 0 and "GPU backend was requested but cannot be used" in failed.stderr


def test_import_works_without_cupy():
    code = ("import sys; sys.modules['cupy'] = None\n"  # makes `import cupy` raise ImportError
            "import nnkit\n"
            "print(nnkit.backend.name(), nnkit.backend.cupy)\n")
    result = _python(code, NNKIT_BACKEND="auto")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu None"


def test_transfers(xp):
    host = numpy.arange(6, dtype=numpy.float64).reshape(2, 3)
    device = backend.to_device(host, dtype=numpy.float32)
    assert backend.get_array_module(device) is xp and device.dtype == numpy.float32
    back = backend.to_host(device)
    assert isinstance(back, numpy.ndarray)
    numpy.testing.assert_array_equal(back, host)
    assert backend.get_array_module(host) is numpy and not backend.is_device_array(host)


def test_to_device_does_not_copy_when_already_there():
    with backend.use("cpu"):
        array = numpy.ones(3, dtype=numpy.float32)
        assert backend.to_device(array) is array


def test_floatx():
    assert backend.floatx() == numpy.float32
    backend.set_floatx("float64")
    assert backend.floatx() == numpy.float64
    with pytest.raises(ValueError, match="float32 or float64. Received: float16"):
        backend.set_floatx("float16")


def test_erf_matches_math(xp):
    x = numpy.linspace(-4, 4, 33)
    numpy.testing.assert_allclose(backend.to_host(backend.erf(xp.asarray(x))), [math.erf(v) for v in x], rtol=1e-12)


def test_seeded_generators_repeat(xp):
    backend.seed(5)
    weights = backend.host_rng().standard_normal(4)
    draws = backend.to_host(backend.device_rng().random((3,), dtype=numpy.float32))
    order = backend.to_host(backend.device_rng().permutation(10))
    backend.seed(5)
    numpy.testing.assert_array_equal(backend.host_rng().standard_normal(4), weights)
    numpy.testing.assert_array_equal(backend.to_host(backend.device_rng().random((3,), dtype=numpy.float32)), draws)
    numpy.testing.assert_array_equal(backend.to_host(backend.device_rng().permutation(10)), order)
    assert sorted(order.tolist()) == list(range(10))
    backend.seed(6)
    assert not numpy.array_equal(backend.host_rng().standard_normal(4), weights)
