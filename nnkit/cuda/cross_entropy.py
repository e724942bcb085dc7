"""Launch wrappers for ``kernels/cross_entropy.cu``: softmax cross-entropy (integer labels or dense targets)
and sigmoid binary cross-entropy from logits, each giving the mean loss and the gradient in one pass.

A label outside ``[0, K)`` is never used as an index: its row's loss and gradient come out NaN (so the
mean loss is NaN). The losses check labels with a clear error before they get here.
"""
import numpy

from .. import backend
from . import BLOCK, check_array, function, output

#: Register-cached row variants, by values per lane: the smallest that holds K (32 lanes per row).
_CACHED = ((1, "r1"), (4, "r4"), (8, "r8"), (32, "r32"))
#: The same with 16-byte accesses, by vectors per lane; at most 32 values per lane, as r32.
_VECTOR = ((1, "v1"), (2, "v2"), (8, "v8"), (16, "v16"))
#: Up to this many logits the whole batch goes to one block (one launch, the loss written directly).
_ONE_BLOCK = 1 << 15
_MAX_BLOCKS = 1024


def row_variant(K, dtype=numpy.float32, aligned=False):
    """The entry suffix for rows of K logits: register-cached up to 1024 (with 16-byte accesses when the rows
    allow them: ``aligned`` buffers and K a multiple of the vector width), else the two-pass online row."""
    width = 16 // numpy.dtype(dtype).itemsize
    if aligned and K % width == 0:
        for vectors, name in _VECTOR:
            if K <= 32 * width * vectors and width * vectors <= 32:
                return name
    for items, name in _CACHED:
        if K <= 32 * items:
            return name
    return "online"


def _aligned(*arrays):
    return all(array is None or array.data.ptr % 16 == 0 for array in arrays)


def _finish(partials, loss, divisor, dtype):
    function("cross_entropy", "sum_scaled", dtype)(
        (1,), (BLOCK,), (partials, loss, numpy.int32(partials.size), dtype.type(divisor)))


def softmax_cross_entropy(logits, targets, out=None):
    """``(loss, dlogits)`` for ``logits (N, K)`` and int64 labels ``(N,)`` or targets ``(N, K)``.

    loss = mean_n(logsumexp(z_n) - <t_n, z_n>), dlogits = (softmax(z) - t) / N; ``out`` may give the
    gradient's buffer. Returns a 0-d loss array and the gradient.
    """
    entry = "softmax_cross_entropy"
    check_array(entry, "logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"{entry}: 'logits' must be 2-D (N, K); received shape {tuple(logits.shape)}.")
    N, K = logits.shape
    if K >= 2**31:
        raise ValueError(f"{entry}: at most 2**31 - 1 classes per row; received K={K}.")
    dtype = logits.dtype
    if targets.ndim == 1:
        check_array(entry, "labels", targets, numpy.int64, (N,))
        mode = "labels"
    else:
        check_array(entry, "targets", targets, dtype, (N, K))
        mode = "dense"
    grad = output(entry, "out", out, (N, K), dtype)
    loss = backend.cupy.empty((), dtype=dtype)
    if N == 0 or K == 0:
        grad.fill(0)
        loss.fill(numpy.nan)
        return loss, grad
    variant = row_variant(K, dtype, _aligned(logits, grad, targets if mode == "dense" else None))
    kernel = function("cross_entropy", f"softmax_xent_{mode}_{variant}", dtype)
    if N * K <= _ONE_BLOCK:
        threads = min(BLOCK, 32 * N)
        kernel((1,), (threads,), (logits, targets, grad, loss, numpy.int64(N), numpy.int64(K), dtype.type(N)))
        return loss, grad
    blocks = min(-(-N // (BLOCK // 32)), _MAX_BLOCKS)
    partials = backend.cupy.empty(blocks, dtype=dtype)
    kernel((blocks,), (BLOCK,), (logits, targets, grad, partials, numpy.int64(N), numpy.int64(K), dtype.type(1)))
    _finish(partials, loss, N, dtype)
    return loss, grad


def sigmoid_binary_cross_entropy(logits, targets, out=None):
    """``(loss, dlogits)``: loss = mean(max(z, 0) - z t + log(1 + exp(-|z|))), dlogits = (sigmoid(z) - t) / size."""
    entry = "sigmoid_binary_cross_entropy"
    check_array(entry, "logits", logits)
    check_array(entry, "targets", targets, logits.dtype, logits.shape)
    dtype, size = logits.dtype, logits.size
    grad = output(entry, "out", out, logits.shape, dtype)
    loss = backend.cupy.empty((), dtype=dtype)
    if size == 0:
        loss.fill(numpy.nan)
        return loss, grad
    kernel = function("cross_entropy", "sigmoid_xent", dtype)
    if size <= _ONE_BLOCK:
        kernel((1,), (BLOCK,), (logits, targets, grad, loss, numpy.int64(size), dtype.type(size)))
        return loss, grad
    blocks = min(-(-size // BLOCK), _MAX_BLOCKS)
    partials = backend.cupy.empty(blocks, dtype=dtype)
    kernel((blocks,), (BLOCK,), (logits, targets, grad, partials, numpy.int64(size), dtype.type(1)))
    _finish(partials, loss, size, dtype)
    return loss, grad
