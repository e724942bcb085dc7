"""nnkit's compiled CPU kernels (``kernels.c``, ``matmul.c``, ``recurrent.c``): float32 twins of the NumPy
references in ``nnkit.primitives``, a matrix product, and the LSTM's whole-sequence scan.

The extension is built at install time when a C compiler is there (``setup.py``; in a source tree:
``python setup.py build_ext --inplace``). Where it is missing, or ``NNKIT_CPU_KERNELS=0`` is set, or inside
``use_compiled(False)``, ``handles`` answers False and ``nnkit.primitives`` runs its NumPy code.

Each wrapper owns its kernel's ABI: it checks dtype and layout, allocates the outputs it is not given, and
passes the shape letters of ``nnkit.primitives``' notation as integers. Kernels split their rows over
``num_threads()`` threads that exist only while a call runs (see the top of ``kernels.c``).
"""
import contextlib
import importlib
import os

import numpy

try:
    _kernels = importlib.import_module(f"{__name__}._kernels")
    _IMPORT_ERROR = None
except ImportError as error:  # not built: no compiler at install time, or a source tree without build_ext
    _kernels, _IMPORT_ERROR = None, error

_state = {"enabled": os.environ.get("NNKIT_CPU_KERNELS", "1") != "0"}


def unavailable_reason():
    """None when the compiled kernels are in use, else why not (a sentence)."""
    if _kernels is None:
        return f"the compiled CPU kernels are not built ({_IMPORT_ERROR}); NumPy code runs instead"
    if not _state["enabled"]:
        return "the compiled CPU kernels are switched off (NNKIT_CPU_KERNELS=0 or use_compiled(False))"
    return None


def handles(*arrays):
    """True when the compiled kernels are on and every array is a float32 NumPy array (None entries skipped)."""
    if _kernels is None or not _state["enabled"]:
        return False
    return all(a is None or (type(a) is numpy.ndarray and a.dtype == numpy.float32) for a in arrays)


@contextlib.contextmanager
def use_compiled(enabled):
    """Switch the compiled kernels on or off inside a ``with`` block (tests and benchmarks compare the two)."""
    before = _state["enabled"]
    _state["enabled"] = bool(enabled)
    try:
        yield
    finally:
        _state["enabled"] = before


def default_num_threads():
    """The CPUs this process may run on, capped by ``NNKIT_NUM_THREADS`` or ``OMP_NUM_THREADS`` when set."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for name in ("NNKIT_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return min(count, int(value)) if name == "OMP_NUM_THREADS" else int(value)
    return count


def num_threads():
    """How many threads a compiled kernel splits its work over (1 when the kernels are not built)."""
    return _kernels.get_num_threads() if _kernels is not None else 1


def set_num_threads(count):
    """Use ``count`` threads in the compiled kernels and, through threadpoolctl when installed, in BLAS.

    Args:
        count: a positive integer.

    Returns:
        True when BLAS was limited too, False when threadpoolctl is not installed.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads expects a positive integer. Received: count={count!r}")
    if _kernels is not None:
        _kernels.set_num_threads(min(count, 64))
    try:
        import threadpoolctl
    except ImportError:
        return False
    threadpoolctl.threadpool_limits(limits=count, user_api="blas")
    return True


def _contiguous_f32(name, array):
    if array.dtype != numpy.float32 or not array.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous float32 array. Received: dtype={array.dtype}, "
                         f"contiguous={array.flags.c_contiguous}")
    return array


def _output(out, shape, dtype):
    if out is None:
        return numpy.empty(shape, dtype=dtype)
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {numpy.dtype(dtype)} array of shape {tuple(shape)}. "
                         f"Received: {out.dtype} {out.shape}")
    return out


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None):
    """The ``(N*OH*OW, KH*KW*C)`` patch matrix of ``x (N, H, W, C)``, rows-first, zeros in the padding."""
    x = numpy.ascontiguousarray(x)
    N, H, W, C = x.shape
    cols = _output(out, (N * OH * OW, KH * KW * C), numpy.float32)
    _kernels.im2col_f32(_contiguous_f32("x", x), cols, N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return cols


def col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None):
    """``dx (N, H, W, C)``: each pixel the sum of the ``cols`` entries that read it (each window's row added into
    its image, one image per thread)."""
    N, H, W, C = x_shape
    dx = _output(out, x_shape, numpy.float32)
    cols = _contiguous_f32("cols", numpy.ascontiguousarray(cols))
    _kernels.col2im_f32(cols, dx, N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return dx


def max_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW, out=None):
    """``(y, first)``: the window maxima and the uint8 row-major tap of each window's first maximum.

    A window holding a NaN gives NaN, as the NumPy twin; its tap may differ from the twin's (which keeps the last
    strictly larger tap before the NaN), so the gradient of a NaN window may go to another of its pixels.
    """
    if KH * KW > 256:
        raise ValueError(f"max_pool2d keeps the tap in a uint8: at most 256 taps. Received: {KH}x{KW}")
    x = _contiguous_f32("x", numpy.ascontiguousarray(x))
    N, H, W, C = x.shape
    y = _output(out, (N, OH, OW, C), numpy.float32)
    first = numpy.empty((N, OH, OW, C), dtype=numpy.uint8)
    _kernels.max_pool2d_f32(x, y, first, N, H, W, C, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)
    return y, first


def max_pool2d_backward(dy, first, x_shape, KH, KW, SH, SW, PH, PW, OH, OW, out=None):
    """``dx (N, H, W, C)``: each pixel gathers the ``dy`` of the windows whose first maximum it was."""
    N, H, W, C = x_shape
    if first.dtype != numpy.uint8 or first.shape != (N, OH, OW, C):
        raise ValueError(f"first must be the uint8 (N, OH, OW, C) = {(N, OH, OW, C)} array max_pool2d returned. "
                         f"Received: {first.dtype} {first.shape}")
    dx = _output(out, x_shape, numpy.float32)
    dy = _contiguous_f32("dy", numpy.ascontiguousarray(dy))
    _kernels.max_pool2d_backward_f32(dy, numpy.ascontiguousarray(first), dx, N, H, W, C, KH, KW, SH, SW, PH, PW,
                                     1, 1, OH, OW)
    return dx


def bias_activation(z, bias, relu):
    """In place on ``z (rows, F)``: ``z + bias`` (bias may be None), then ReLU when ``relu``. Returns ``z``."""
    rows, F = z.shape
    _contiguous_f32("z", z)
    if bias is not None:
        bias = _contiguous_f32("bias", numpy.ascontiguousarray(bias).reshape(-1))
    _kernels.bias_activation_f32(z, bias, rows, F, relu)
    return z


def bias_activation_backward(dy, y, bias_grad, relu, out=None):
    """``dz = dy * (y > 0)`` (ReLU) or ``dy`` (identity), and ``sum(dz, axis=0)`` into ``bias_grad`` in one pass.

    ``bias_grad`` (float32, contiguous) may be None; with ``relu=False`` and no ``out``, ``dz`` is ``dy``.
    """
    dy = _contiguous_f32("dy", numpy.ascontiguousarray(dy))
    rows, F = dy.shape
    if relu:
        y = _contiguous_f32("y", numpy.ascontiguousarray(y))
        dz = _output(out, dy.shape, numpy.float32)
    else:
        dz = dy if out is None else _output(out, dy.shape, numpy.float32)
    if bias_grad is not None:
        _contiguous_f32("bias_grad", bias_grad)
    _kernels.bias_activation_backward_f32(dy, y, dz, bias_grad, rows, F, relu)
    return dz


def adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """Adam (and AdamW's decay) in one pass over the flat float32 buffers, in place on ``p``, ``m``, ``v``."""
    _kernels.adam_step_f32(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)


def sgd_step(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """SGD (momentum and Nesterov as Keras) in one pass, in place on ``p`` and ``velocity`` (None: no momentum)."""
    _kernels.sgd_step_f32(p, g, velocity if momentum else None, learning_rate, momentum, nesterov)


def matmul(a, b, out=None, transpose_a=False, accumulate=False):
    """``a @ b`` (``a.T @ b`` when ``transpose_a``) on the kernel threads, into ``out`` (added to it when
    ``accumulate``). float32; ``a`` and ``b`` are made contiguous, ``out`` must be.

    For layers whose other work runs on the kernel threads: an OpenBLAS product leaves its threads busy-waiting on
    the cores for a while after it returns.
    """
    a = _contiguous_f32("a", numpy.ascontiguousarray(a))
    b = _contiguous_f32("b", numpy.ascontiguousarray(b))
    rows, K = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    if b.shape[0] != K:
        raise ValueError(f"matmul: the inner dimensions differ: a{' transposed' if transpose_a else ''} is "
                         f"({rows}, {K}), b is {b.shape}")
    if out is None and accumulate:
        raise ValueError("matmul: accumulate needs out")
    out = _output(out, (rows, b.shape[1]), numpy.float32)
    _kernels.matmul_f32(a, b, out, rows, K, b.shape[1], transpose_a, accumulate)
    return out


def _optional_f32(array):
    return None if array is None else numpy.ascontiguousarray(array, dtype=numpy.float32)


def lstm_step(xw, hr, h_prev, c_prev, mask, h, c, gates):
    """One LSTM step (sigmoid gates, tanh candidate and cell): writes ``h``, ``c`` (N, U) and ``gates`` (N, 4U).

    Sigmoid and tanh are polynomial (Cephes), within a few float32 ulp of NumPy's, so that the loops vectorise.
    """
    N, U = h.shape
    for name, array in (("h", h), ("c", c), ("gates", gates)):
        _contiguous_f32(name, array)
    _kernels.lstm_step_f32(*(numpy.ascontiguousarray(a) for a in (xw, hr, h_prev, c_prev)), _optional_f32(mask),
                           h, c, gates, N, U)


def lstm_step_backward(dh, dc, c_prev, c, gates, mask, dz, dh_carry, dc_prev):
    """One LSTM step backward: writes ``dz`` (N, 4U), ``dh_carry`` and ``dc_prev`` (N, U).

    Without a mask ``dh_carry`` is ``dh * 0`` (the NumPy twin writes 0): the same unless ``dh`` holds inf or NaN.
    """
    N, U = dh.shape
    for name, array in (("dz", dz), ("dh_carry", dh_carry), ("dc_prev", dc_prev)):
        _contiguous_f32(name, array)
    _kernels.lstm_step_backward_f32(*(numpy.ascontiguousarray(a) for a in (dh, dc, c_prev, c, gates)),
                                    _optional_f32(mask), dz, dh_carry, dc_prev, N, U)


def lstm_scan(xw, recurrent_kernel, recurrent_mask, mask, H, C, gates):
    """Every step of an LSTM layer in one call: ``lstm_step`` with ``hr = (H[t] * recurrent_mask) @ recurrent_kernel``.

    ``xw (T, N, 4U)`` holds the input projections; ``H``, ``C`` ``(T + 1, N, U)`` hold the initial state at ``[0]``
    and receive each step's at ``[t + 1]``; ``gates (T, N, 4U)`` receives the activated gates. ``recurrent_mask``
    ``(N, U)`` (recurrent dropout) and ``mask`` ``(T, N)`` (padding) may be None. The batch rows are split over the
    kernel threads once for the whole sequence.
    """
    T, N, U = H.shape[0] - 1, H.shape[1], H.shape[2]
    for name, array in (("H", H), ("C", C), ("gates", gates)):
        _contiguous_f32(name, array)
    _kernels.lstm_scan_f32(_contiguous_f32("xw", numpy.ascontiguousarray(xw)),
                           numpy.ascontiguousarray(recurrent_kernel, dtype=numpy.float32),
                           _optional_f32(recurrent_mask), _optional_f32(mask), H, C, gates, T, N, U)


def lstm_scan_backward(dH, dc_last, recurrent_kernel, recurrent_mask, mask, C, gates, dz):
    """``lstm_scan``'s steps backward: writes ``dz (T, N, 4U)`` and returns ``(dh_0, dc_0)``.

    ``dH (T, N, U)`` is the gradient reaching each ``h_t`` from outside the recurrence, ``dc_last`` that of
    ``c_T`` (None: zero); the other arguments are ``lstm_scan``'s.
    """
    T, N, U = dH.shape
    _contiguous_f32("dz", dz)
    dh, dc = numpy.empty((N, U), dtype=numpy.float32), numpy.empty((N, U), dtype=numpy.float32)
    kernel_t = numpy.ascontiguousarray(numpy.asarray(recurrent_kernel, dtype=numpy.float32).T)
    _kernels.lstm_scan_backward_f32(numpy.ascontiguousarray(dH, dtype=numpy.float32), _optional_f32(dc_last),
                                    kernel_t, _optional_f32(recurrent_mask), _optional_f32(mask),
                                    _contiguous_f32("C", C), _contiguous_f32("gates", gates), dz, dh, dc, T, N, U)
    return dh, dc


def gru_scan(xw, recurrent_kernel, recurrent_bias, recurrent_mask, mask, H, HR, gates):
    """Every step of a GRU layer (``reset_after=True``) in one call: ``gru_step_reference`` with
    ``HR[t] = (H[t] * recurrent_mask) @ recurrent_kernel + recurrent_bias``.

    ``xw (T, N, 3U)``; ``H (T + 1, N, U)`` holds the initial state at ``[0]``; ``HR`` and ``gates`` ``(T, N, 3U)``
    receive the recurrent projections and the activated gates ``[z, r, hh]``. ``recurrent_bias (3U,)``,
    ``recurrent_mask (N, U)`` and ``mask (T, N)`` may be None.
    """
    T, N, U = H.shape[0] - 1, H.shape[1], H.shape[2]
    for name, array in (("H", H), ("HR", HR), ("gates", gates)):
        _contiguous_f32(name, array)
    _kernels.gru_scan_f32(_contiguous_f32("xw", numpy.ascontiguousarray(xw)),
                          numpy.ascontiguousarray(recurrent_kernel, dtype=numpy.float32),
                          _optional_f32(recurrent_bias), _optional_f32(recurrent_mask), _optional_f32(mask),
                          H, HR, gates, T, N, U)


def gru_scan_backward(dH, recurrent_kernel, recurrent_mask, mask, H, HR, gates, dxw, dhr):
    """``gru_scan``'s steps backward from ``dH (T, N, U)``: writes ``dxw`` and ``dhr`` ``(T, N, 3U)``, the gradients
    of the two projections, and returns ``dh_0``."""
    T, N, U = dH.shape
    for name, array in (("dxw", dxw), ("dhr", dhr)):
        _contiguous_f32(name, array)
    dh = numpy.empty((N, U), dtype=numpy.float32)
    kernel_t = numpy.ascontiguousarray(numpy.asarray(recurrent_kernel, dtype=numpy.float32).T)
    _kernels.gru_scan_backward_f32(numpy.ascontiguousarray(dH, dtype=numpy.float32), kernel_t,
                                   _optional_f32(recurrent_mask), _optional_f32(mask), _contiguous_f32("H", H),
                                   _contiguous_f32("HR", HR), _contiguous_f32("gates", gates), dxw, dhr, dh,
                                   T, N, U)
    return dh


def scatter_add_rows(target, indices, values):
    """``target[indices] += values`` for a float32 ``target (V, D)``, ``values (rows, D)``: ``numpy.add.at``'s twin.

    Repeated indices sum in index order (as ``numpy.add.at``); an index outside ``[0, V)`` is an IndexError
    raised before any row is written. ``target`` must be C-contiguous.
    """
    V, D = target.shape
    _contiguous_f32("target", target)
    indices = numpy.ascontiguousarray(indices, dtype=numpy.int64).reshape(-1)
    values = _contiguous_f32("values", numpy.ascontiguousarray(values)).reshape(len(indices), D)
    _kernels.scatter_add_rows_f32(target, indices, values, len(indices), D, V)


if _kernels is not None:
    _kernels.set_num_threads(min(default_num_threads(), 64))
