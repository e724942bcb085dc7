"""The backend: CuPy on a CUDA GPU, NumPy otherwise. The only module that imports cupy.

The choice is made once, from ``NNKIT_BACKEND`` (``cpu``, ``gpu`` or ``auto``, the default), and can be
changed with ``use("cpu")``, either as a statement or as a context manager::

    with nnkit.backend.use("cpu"):
        model.fit(x, y)

Asking for ``gpu`` where none is usable raises ``BackendError`` saying why; ``auto`` falls back to NumPy.
"""
import contextlib
import math
import os

import numpy

try:
    import cupy
    _CUPY_IMPORT_ERROR = None
except ImportError as error:  # CuPy is optional
    cupy = None
    _CUPY_IMPORT_ERROR = error

BACKENDS = ("cpu", "gpu", "auto")


class BackendError(RuntimeError):
    """The requested backend cannot be used on this machine."""


def gpu_unavailable_reason():
    """Why the GPU backend cannot run here, or None when it can."""
    if cupy is None:
        return (f"CuPy is not installed ({_CUPY_IMPORT_ERROR}); install it with "
                "`pip install nnkit-keras[cuda12]` or `pip install nnkit-keras[cuda13]`")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError, or a missing driver library
        return f"CuPy is installed but CUDA is not usable: {error} (is an NVIDIA driver installed?)"
    if count == 0:
        return "CuPy is installed but no CUDA device was found"
    return None


def _resolve(requested):
    requested = str(requested).lower()
    if requested not in BACKENDS:
        raise BackendError(f"Unknown backend {requested!r}: expected one of {', '.join(BACKENDS)}")
    if requested == "cpu":
        return "cpu"
    reason = gpu_unavailable_reason()
    if reason is None:
        return "gpu"
    if requested == "gpu":
        raise BackendError(f"The GPU backend was requested but cannot be used: {reason}")
    return "cpu"


_active = None
_floatx = numpy.dtype("float32")


def name():
    """The active backend: ``'cpu'`` or ``'gpu'``."""
    global _active
    if _active is None:
        _active = _resolve(os.environ.get("NNKIT_BACKEND", "auto"))
    return _active


def is_gpu():
    """True when the current backend is the GPU (CuPy)."""
    return name() == "gpu"


class use(contextlib.AbstractContextManager):
    """Switch the backend; restores the previous one when used as a context manager."""

    def __init__(self, backend):
        global _active
        self._previous = name()
        _active = _resolve(backend)

    def __exit__(self, *exc_info):
        global _active
        _active = self._previous
        return False


def xp():
    """The array module of the active backend (``cupy`` or ``numpy``)."""
    return cupy if is_gpu() else numpy


def get_array_module(array):
    """``cupy`` for a CuPy array, ``numpy`` for anything else."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def is_device_array(array):
    """True when ``array`` is a CuPy array (always False without CuPy)."""
    return cupy is not None and isinstance(array, cupy.ndarray)


def to_device(array, dtype=None):
    """The array on the active backend (no copy when it is already there with that dtype)."""
    return xp().asarray(array, dtype=dtype)


def to_host(array):
    """A NumPy array (copies from the GPU when needed)."""
    if is_device_array(array):
        return cupy.asnumpy(array)
    return numpy.asarray(array)


def free_device_bytes():
    """Free memory on the active device, counting what CuPy's pool holds but does not use (None on the CPU)."""
    if not is_gpu():
        return None
    free, _ = cupy.cuda.runtime.memGetInfo()
    pool = cupy.get_default_memory_pool()
    return free + pool.free_bytes()


def to_device_staged(array):
    """A host batch copied to the GPU through page-locked (pinned) memory, which the copy engine reads at full
    speed; device arrays, and every array on the CPU backend, pass through unchanged."""
    if not is_gpu() or is_device_array(array):
        return array
    import cupyx  # part of CuPy
    pinned = cupyx.empty_pinned(array.shape, dtype=array.dtype)
    pinned[...] = array
    return cupy.asarray(pinned)


def on_current_device(function):
    """``function``, made to run on the calling thread's current GPU from any thread (CuPy's current device is per
    thread, and a background thread would otherwise allocate on GPU 0)."""
    if not is_gpu():
        return function
    device = cupy.cuda.Device().id

    def run(*args, **kwargs):
        with cupy.cuda.Device(device):
            return function(*args, **kwargs)
    return run


def device_out_of_memory_errors():
    """The exception types an allocation on the active backend raises when memory runs out."""
    if cupy is not None and is_gpu():
        return (MemoryError, cupy.cuda.memory.OutOfMemoryError)
    return (MemoryError,)


def erf(array):
    """The error function, element-wise, on either backend."""
    if is_device_array(array):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(array)
    return numpy.vectorize(math.erf, otypes=[array.dtype])(array)


def scatter_add(target, indices, values):
    """``target[indices] += values`` with repeated indices summed (``numpy.add.at`` / ``cupy.add.at``; rows of a
    float32 NumPy matrix by the compiled CPU kernel when it is built)."""
    if not is_device_array(target):
        from . import _cpu
        if _cpu.handles(target, values) and target.ndim == 2 and target.flags.c_contiguous:
            indices = numpy.asarray(indices)
            wraps = (indices < 0) & (indices >= -len(target))  # NumPy counts -1 as the last row
            indices = numpy.where(wraps, indices + len(target), indices)
            return _cpu.scatter_add_rows(target, indices, values)
    (cupy if is_device_array(target) else numpy).add.at(target, indices, values)


def synchronize():
    """Wait for the current CUDA stream to finish (a no-op on the CPU backend); for timing."""
    if is_gpu():
        cupy.cuda.get_current_stream().synchronize()


def floatx():
    """The float dtype new weights and data get (float32 unless set_floatx says otherwise)."""
    return _floatx


def set_floatx(dtype):
    """Set the default float dtype of new weights and data: float32 or float64, else a ValueError."""
    global _floatx
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.float32, numpy.float64):
        raise ValueError(f"floatx must be float32 or float64. Received: {dtype}")
    _floatx = dtype


# Random numbers. Weights are drawn on the host, so the same seed gives the same initial weights on
# either backend; dropout masks and shuffles are drawn where the data lives.
_seed = None
_host_rng = numpy.random.default_rng()
_device_rngs = {}


def seed(value):
    """Reseed every generator nnkit draws from."""
    global _seed, _host_rng
    _seed = int(value)
    _host_rng = numpy.random.default_rng(_seed)
    _device_rngs.clear()


def host_rng():
    """NumPy Generator used for weight initialisation."""
    return _host_rng


def device_rng():
    """Generator of the active backend, with ``random(shape, dtype)`` and ``permutation(n)``."""
    backend = name()
    if backend not in _device_rngs:
        _device_rngs[backend] = new_device_rng(None if _seed is None else _seed + 1)
    return _device_rngs[backend]


def reseed_device_rng(value):
    """Give the active backend's generator (dropout masks, shuffles) a new seed; the host one is left as it is."""
    _device_rngs[name()] = new_device_rng(value)


def new_device_rng(seed):
    """A generator of its own on the active backend (for a layer given ``seed=``), same methods as device_rng()."""
    return _CupyRandom(seed) if is_gpu() else numpy.random.default_rng(seed)


class _CupyRandom:
    """The two draws nnkit needs, with NumPy Generator's signatures."""

    def __init__(self, stream_seed):
        self._state = cupy.random.RandomState(stream_seed)

    def random(self, shape, dtype=numpy.float64):
        return self._state.random_sample(shape, dtype=dtype)

    def permutation(self, n):
        return self._state.permutation(n)
