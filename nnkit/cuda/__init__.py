"""Loads the CUDA sources in ``kernels/*.cu`` with ``cupy.RawModule``: once per process per file (CuPy's
on-disk cache keeps the compiled code across runs). Entry points are ``extern "C"`` with one name per
element type (``adam_step_f32``, ``adam_step_f64``), never C++ templates reached by name expressions.

Launch wrappers for each kernel family live in the submodules; each checks dtypes and contiguity, passes
scalars as NumPy scalars of the kernel's types, and computes the grid.
"""
import functools
import pathlib

import numpy

from .. import backend

_PACKAGE_KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"   # inside an installed wheel
_SOURCE_KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"       # in a source checkout

SUFFIX = {numpy.dtype(numpy.float32): "f32", numpy.dtype(numpy.float64): "f64"}


def kernel_dir():
    """The folder of nnkit's ``.cu`` sources (installed package first, then the source tree), or FileNotFoundError."""
    for candidate in (_PACKAGE_KERNELS, _SOURCE_KERNELS):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"nnkit's CUDA sources were not found in {_PACKAGE_KERNELS} or {_SOURCE_KERNELS}.")


def kernel_files():
    """Every ``.cu`` source in ``kernel_dir()``, sorted."""
    return sorted(kernel_dir().glob("*.cu"))


@functools.lru_cache(maxsize=None)
def module(name):
    """The compiled ``kernels/<name>.cu`` as a ``cupy.RawModule`` (compiled on first use, then cached)."""
    source = (kernel_dir() / f"{name}.cu").read_text()
    return backend.cupy.RawModule(code=source, options=("-std=c++17",))


def function(module_name, entry, dtype):
    """The entry point ``<entry>_<f32|f64>`` of ``kernels/<module_name>.cu`` for ``dtype``."""
    dtype = numpy.dtype(dtype)
    if dtype not in SUFFIX:
        raise TypeError(f"nnkit's CUDA kernels take float32 or float64 arrays; received {dtype}.")
    return _function(module_name, f"{entry}_{SUFFIX[dtype]}", backend.cupy.cuda.runtime.getDevice())


@functools.lru_cache(maxsize=None)
def _function(module_name, name, device_id):
    # Looked up once per device: get_function costs microseconds, which small launches notice.
    return module(module_name).get_function(name)


def grid_for(n, block=256, max_blocks=65535 * 32):
    """Blocks for a grid-stride loop over ``n`` elements."""
    return (max(1, min(max_blocks, -(-int(n) // block))),)


BLOCK = 256


def check_array(entry, name, array, dtype=None, shape=None):
    """Raise unless ``array`` is a C-contiguous CuPy array (of ``dtype`` and ``shape`` when given).

    Kernels see a bare pointer: a strided view or a host array would be read as garbage, so refuse it here.
    """
    if not backend.is_device_array(array):
        raise TypeError(f"{entry}: '{name}' must be a CuPy array on the GPU; received {type(array).__name__}.")
    if dtype is not None and array.dtype != numpy.dtype(dtype):
        raise TypeError(f"{entry}: '{name}' must have dtype {numpy.dtype(dtype)}; received {array.dtype}.")
    if shape is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(f"{entry}: '{name}' must have shape {tuple(shape)}; received {tuple(array.shape)}.")
    if not array.flags.c_contiguous:
        raise ValueError(f"{entry}: '{name}' must be C-contiguous (the kernel ignores strides); received a view "
                         f"with strides {array.strides}. Pass cupy.ascontiguousarray({name}).")
    return array


def output(entry, name, out, shape, dtype):
    """``out`` checked as the kernel's output buffer, or a new uninitialised one."""
    if out is None:
        return backend.cupy.empty(shape, dtype=dtype)
    return check_array(entry, name, out, dtype, shape)
