"""Shared fixtures: one test body runs on NumPy and (marked ``gpu``) on CuPy."""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.testing import skip_gpu_items_without_gpu

def pytest_collection_modifyitems(config, items):
    skip_gpu_items_without_gpu(items)


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def backend_name(request):
    """Runs the test under each backend (the GPU one skips where there is none)."""
    with backend.use(request.param):
        yield request.param


@pytest.fixture
def cupy():
    """The GPU backend for a test marked ``gpu`` (CuPy, as nnkit.backend imported it)."""
    with backend.use("gpu"):
        yield backend.cupy


@pytest.fixture
def xp(backend_name):
    return backend.xp()


@pytest.fixture(autouse=True)
def _seeded():
    nnkit.utils.set_random_seed(1234)
    previous = backend.floatx()
    yield
    backend.set_floatx(previous)


@pytest.fixture
def rng():
    return numpy.random.default_rng(42)
