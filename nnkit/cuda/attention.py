"""Launch wrappers for ``kernels/attention.cu``: attention's masked, scaled softmax with dropout over the keys of
``(B, H, Tq, Tk)`` scores, and its backward. The dropout mask comes from a hash of ``(key, flat index)``, so
the backward recomputes it; ``nnkit.primitives.attention`` turns a seed and a rate into the kernels' parameters.
"""
import numpy

from . import BLOCK, check_array, function, output

#: Register-cached row variants, by values per thread.
_CACHED = ((1, "r1"), (2, "r2"), (4, "r4"), (8, "r8"), (16, "r16"))
#: The most threads per row (the kernels are compiled for blocks of up to this many threads).
_MAX_ROW_THREADS = 512
_MAX_BLOCKS = 65535 * 32


def row_launch_shape(rows, Tk):
    """``(variant, grid, block)`` for ``rows`` rows of ``Tk`` keys: BX threads per row (32, doubled while a row
    has over 16 keys per thread, at most 512), ``BY = max(1, 256 // BX)`` rows per block; the smallest
    register-cached variant ``r<I>`` with ``BX * I >= Tk``, else (Tk > 8192) ``loop``, which re-reads rows."""
    bx = 32
    while bx < _MAX_ROW_THREADS and bx * 16 < Tk:
        bx *= 2
    variant = next((name for items, name in _CACHED if bx * items >= Tk), "loop")
    by = max(1, BLOCK // bx)
    return variant, (max(1, min(_MAX_BLOCKS, -(-rows // by))),), (bx, by)


def broadcast_strides(shape):
    """Element strides of a C-contiguous array of ``shape``, 0 along its axes of size 1 (broadcast ones)."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(0 if size == 1 else step)
        step *= size
    return tuple(reversed(strides))


def _dropout_arguments(dtype, dropout):
    key, threshold, keep_scale = dropout if dropout is not None else (0, 0, 1)
    return numpy.uint64(key), numpy.uint64(threshold), dtype.type(keep_scale)


def attention_softmax(scores, mask, causal, scale, masked_value, dropout=None, probs=None, dropped=None):
    """``(probs, dropped)`` of ``scores (B, H, Tq, Tk)``, float32 or float64.

    ``mask`` is None or a boolean ``(B, H, Tq, Tk)`` array with any axis 1 (broadcast); ``causal`` also masks
    keys j > q; ``masked_value`` replaces the scaled score at masked keys before the softmax, whose result is
    0 there. ``dropout`` is None or ``(key, threshold, keep_scale)``: ``dropped = probs * keep_scale`` where
    the hash keeps the element, 0 elsewhere; without it ``dropped`` is None. ``probs`` and ``dropped`` may give
    the output buffers.
    """
    entry = "attention_softmax"
    check_array(entry, "scores", scores)
    if scores.ndim != 4:
        raise ValueError(f"{entry}: 'scores' must be 4-D (B, H, Tq, Tk); received shape {tuple(scores.shape)}.")
    B, H, Tq, Tk = scores.shape
    if Tk >= 2**31:
        raise ValueError(f"{entry}: at most 2**31 - 1 keys per row; received Tk={Tk}.")
    dtype = scores.dtype
    mask_strides = (0, 0, 0, 0)
    if mask is not None:
        check_array(entry, "mask", mask, numpy.bool_)
        if mask.ndim != 4 or any(m not in (1, s) for m, s in zip(mask.shape, scores.shape)):
            raise ValueError(f"{entry}: 'mask' must be 4-D with each axis 1 or that of 'scores' "
                             f"{tuple(scores.shape)}; received shape {tuple(mask.shape)}.")
        mask_strides = broadcast_strides(mask.shape)
    probs = output(entry, "probs", probs, scores.shape, dtype)
    dropped = output(entry, "dropped", dropped, scores.shape, dtype) if dropout is not None else None
    if scores.size == 0:
        return probs, dropped
    rows = B * H * Tq
    variant, grid, block = row_launch_shape(rows, Tk)
    function("attention", f"attention_softmax_forward_{variant}", dtype)(
        grid, block, (scores, mask, *(numpy.int64(s) for s in mask_strides), probs, dropped, numpy.int64(rows),
                      numpy.int64(H), numpy.int64(Tq), numpy.int32(Tk), dtype.type(scale), dtype.type(masked_value),
                      numpy.int32(bool(causal)), *_dropout_arguments(dtype, dropout)))
    return probs, dropped


def attention_softmax_backward(d_dropped, probs, scale, dropout=None, d_scores=None):
    """``d_scores`` from ``d_dropped`` and the forward's ``probs`` (rows over the last axis, float32 or float64):
    ``d_probs = d_dropped * keep_scale`` where the hash keeps the element, 0 elsewhere (``d_dropped`` itself when
    ``dropout`` is None), then ``d_scores = probs * (d_probs - sum(d_probs * probs, axis=-1)) * scale``.
    ``d_scores`` may give the output buffer.
    """
    entry = "attention_softmax_backward"
    check_array(entry, "probs", probs)
    if probs.ndim < 1:
        raise ValueError(f"{entry}: 'probs' must have at least one axis (the keys).")
    check_array(entry, "d_dropped", d_dropped, probs.dtype, probs.shape)
    Tk = probs.shape[-1]
    if Tk >= 2**31:
        raise ValueError(f"{entry}: at most 2**31 - 1 keys per row; received Tk={Tk}.")
    dtype = probs.dtype
    d_scores = output(entry, "d_scores", d_scores, probs.shape, dtype)
    if probs.size == 0:
        return d_scores
    rows = probs.size // Tk
    variant, grid, block = row_launch_shape(rows, Tk)
    function("attention", f"attention_softmax_backward_{variant}", dtype)(
        grid, block, (d_dropped, probs, d_scores, numpy.int64(rows), numpy.int32(Tk), dtype.type(scale),
                      numpy.int32(dropout is not None), *_dropout_arguments(dtype, dropout)))
    return d_scores
