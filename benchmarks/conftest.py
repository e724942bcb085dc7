"""Fixtures of the kernel benchmarks: GPU benchmarks skip where there is no GPU, torch ones where torch (with
CUDA) is missing. Every timed call synchronises the device, so a time is the kernel's, not its launch's."""
import numpy
import pytest

from nnkit import backend
from nnkit.testing import skip_gpu_items_without_gpu

GPU_REASON = backend.gpu_unavailable_reason()


def pytest_collection_modifyitems(config, items):
    skip_gpu_items_without_gpu(items)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the GPU, CuPy, CUDA and torch versions in the benchmark JSON (report.py prints them)."""
    if GPU_REASON is not None:
        return
    cupy = backend.cupy
    properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = properties["name"]
    machine_info["gpu"] = {
        "name": name.decode() if isinstance(name, bytes) else name,
        "compute_capability": f"{properties['major']}.{properties['minor']}",
        "cupy": cupy.__version__,
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cupy.cuda.runtime.driverGetVersion(),
    }
    try:
        import torch
        machine_info["gpu"]["torch"] = torch.__version__
    except ImportError:
        pass


@pytest.fixture
def cupy():
    with backend.use("gpu"):
        yield backend.cupy


@pytest.fixture
def sync():
    """Wait for the GPU (a no-op on the CPU)."""
    def wait():
        if backend.cupy is not None and GPU_REASON is None:
            backend.cupy.cuda.get_current_stream().synchronize()
    return wait


@pytest.fixture
def torch_cuda():
    """torch with CUDA, TF32 off (nnkit's GEMMs run in full float32), or a skip."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    return torch


@pytest.fixture
def rng():
    return numpy.random.default_rng(0)


@pytest.fixture
def timed(benchmark, sync):
    """``timed(function, nbytes, **info)``: benchmark ``function`` followed by a device synchronisation.

    ``nbytes`` is the memory traffic one call needs at the least (report.py turns it into GB/s). One call
    runs first, untimed: it compiles, allocates, and lets cuDNN pick its algorithm.
    """
    def run(function, nbytes, **info):
        benchmark.extra_info.update(bytes=int(nbytes), **info)

        def call():
            result = function()
            sync()
            return result
        call()
        return benchmark(call)
    return run
