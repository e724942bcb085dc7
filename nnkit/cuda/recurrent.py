"""Launch wrappers for ``kernels/recurrent.cu``: one fused LSTM or GRU time step (forward or backward).

Each wrapper checks that every array is a C-contiguous CuPy array of one float dtype with the expected
shape, then launches one grid-stride kernel over the N*U state elements. Outputs are written in place.
"""
import numpy

from . import function, grid_for

_BLOCK = 256


def _prepare(entry, named_arrays, mask, N):
    """Checks ``named_arrays`` ({name: (array, expected_shape)}) and ``mask``; returns the kernel
    ``<entry>_<f32|f64>``, the has_mask flag and the mask pointer to pass."""
    arrays = [array for array, _ in named_arrays.values()]
    dtype = arrays[0].dtype
    for name, (array, shape) in named_arrays.items():
        if array.dtype != dtype:
            raise TypeError(f"{entry}: all arrays must share one dtype; '{name}' is {array.dtype}, expected {dtype}.")
        if tuple(array.shape) != shape:
            raise ValueError(f"{entry}: '{name}' has shape {tuple(array.shape)}, expected {shape}.")
        if not array.flags.c_contiguous:
            raise ValueError(f"{entry}: '{name}' must be C-contiguous.")
    if mask is not None:
        if mask.dtype != dtype or tuple(mask.shape) != (N,) or not mask.flags.c_contiguous:
            raise ValueError(f"{entry}: 'mask' must be a contiguous {dtype} array of shape {(N,)}; "
                             f"received {mask.dtype} {tuple(mask.shape)}.")
    kernel = function("recurrent", entry, dtype)
    has_mask = numpy.int32(mask is not None)
    mask_or_dummy = mask if mask is not None else arrays[0]  # never read when has_mask == 0
    return kernel, has_mask, mask_or_dummy


def _run(kernel, args, N, U):
    kernel(grid_for(N * U, _BLOCK), (_BLOCK,), tuple(args) + (numpy.int64(N), numpy.int64(U)))


def lstm_step(xw, hr, h_prev, c_prev, mask, h, c, gates):
    """Launch ``lstm_step``: from the pre-activation parts ``xw``, ``hr`` (N, 4U) and the previous state
    ``h_prev``, ``c_prev`` (N, U), write ``h``, ``c`` and the activated ``gates``; rows with mask 0 carry the
    previous state. Equals ``nnkit.primitives.recurrent.lstm_step_reference`` with tanh and sigmoid.
    """
    N, U = h_prev.shape
    G = (N, 4 * U)
    kernel, has_mask, m = _prepare("lstm_step", {"xw": (xw, G), "hr": (hr, G), "h_prev": (h_prev, (N, U)),
                                                "c_prev": (c_prev, (N, U)), "h": (h, (N, U)), "c": (c, (N, U)),
                                                "gates": (gates, G)}, mask, N)
    _run(kernel, (xw, hr, h_prev, c_prev, m, has_mask, h, c, gates), N, U)


def lstm_step_backward(dh, dc, c_prev, c, gates, mask, dz, dh_carry, dc_prev):
    """Launch ``lstm_step_backward``: write ``dz`` (N, 4U), ``dh_carry`` and ``dc_prev`` (N, U) from ``dh``,
    ``dc``. Equals ``nnkit.primitives.recurrent.lstm_step_backward_reference`` with tanh and sigmoid.
    """
    N, U = dh.shape
    G = (N, 4 * U)
    kernel, has_mask, m = _prepare("lstm_step_backward",
                                  {"dh": (dh, (N, U)), "dc": (dc, (N, U)), "c_prev": (c_prev, (N, U)),
                                   "c": (c, (N, U)), "gates": (gates, G), "dz": (dz, G),
                                   "dh_carry": (dh_carry, (N, U)), "dc_prev": (dc_prev, (N, U))}, mask, N)
    _run(kernel, (dh, dc, c_prev, c, gates, m, has_mask, dz, dh_carry, dc_prev), N, U)


def gru_step(xw, hr, h_prev, mask, h, gates):
    """Launch ``gru_step``: from ``xw``, ``hr`` (N, 3U) and ``h_prev`` (N, U), write ``h`` and the activated
    ``gates``. Equals ``nnkit.primitives.recurrent.gru_step_reference`` with tanh and sigmoid.
    """
    N, U = h_prev.shape
    G = (N, 3 * U)
    kernel, has_mask, m = _prepare("gru_step", {"xw": (xw, G), "hr": (hr, G), "h_prev": (h_prev, (N, U)),
                                               "h": (h, (N, U)), "gates": (gates, G)}, mask, N)
    _run(kernel, (xw, hr, h_prev, m, has_mask, h, gates), N, U)


def gru_step_backward(dh, hr, h_prev, gates, mask, dxw, dhr, dh_carry):
    """Launch ``gru_step_backward``: write ``dxw``, ``dhr`` (N, 3U) and ``dh_carry`` (N, U) from ``dh``.
    Equals ``nnkit.primitives.recurrent.gru_step_backward_reference`` with tanh and sigmoid.
    """
    N, U = dh.shape
    G = (N, 3 * U)
    kernel, has_mask, m = _prepare("gru_step_backward",
                                  {"dh": (dh, (N, U)), "hr": (hr, G), "h_prev": (h_prev, (N, U)),
                                   "gates": (gates, G), "dxw": (dxw, G), "dhr": (dhr, G),
                                   "dh_carry": (dh_carry, (N, U))}, mask, N)
    _run(kernel, (dh, hr, h_prev, gates, m, has_mask, dxw, dhr, dh_carry), N, U)
