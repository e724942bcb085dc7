"""Launch wrappers for ``kernels/layer_norm.cu``: layer normalization of the rows of a ``(rows, F)`` array, and
its backward (the input gradient, and the gamma / beta gradients as deterministic column sums)."""
import numpy

from .. import backend
from . import BLOCK, check_array, function, output
from .bias_act import backward_launch_shape

#: The most blocks a row kernel launches; they stride over the rows beyond.
_MAX_BLOCKS = 65535 * 32


def row_launch_shape(rows, F):
    """``(grid, block)`` of the row kernels: block ``(BX, BY)`` with BX threads per row (32, doubled while a row
    has over 32 elements per thread, at most 1024) and ``BY = max(1, 256 // BX)`` rows per block."""
    bx = 32
    while bx < 1024 and bx * 32 < F:
        bx *= 2
    by = max(1, BLOCK // bx)
    return (max(1, min(_MAX_BLOCKS, -(-rows // by))),), (bx, by)


def _check_rows(entry, name, array, dtype=None):
    check_array(entry, name, array, dtype)
    if array.ndim != 2:
        raise ValueError(f"{entry}: '{name}' must be 2-D (rows, F); received shape {tuple(array.shape)}.")
    return array


def _check_params(entry, F, dtype, **params):
    for name, param in params.items():
        if param is not None:
            check_array(entry, name, param, dtype, (F,))


def layer_norm(x, gamma, beta, epsilon, y=None, mean=None, rstd=None):
    """Normalize each row of ``x (rows, F)``, then scale by ``gamma`` and shift by ``beta`` (``(F,)`` or None).

    Returns ``(y, mean, rstd)``: ``y`` like ``x``, the row means and ``1 / sqrt(variance + epsilon)`` as
    ``(rows,)`` arrays. ``y``, ``mean`` and ``rstd`` may give the output buffers.
    """
    entry = "layer_norm"
    _check_rows(entry, "x", x)
    rows, F = x.shape
    _check_params(entry, F, x.dtype, gamma=gamma, beta=beta)
    y = output(entry, "y", y, x.shape, x.dtype)
    mean = output(entry, "mean", mean, (rows,), x.dtype)
    rstd = output(entry, "rstd", rstd, (rows,), x.dtype)
    if x.size:
        grid, block = row_launch_shape(rows, F)
        function("layer_norm", "layer_norm_forward", x.dtype)(
            grid, block, (x, gamma, beta, y, mean, rstd, numpy.int64(rows), numpy.int64(F), x.dtype.type(epsilon)))
    return y, mean, rstd


def layer_norm_backward(dy, x, mean, rstd, gamma, dgamma, dbeta, dx=None, input_gradient=True):
    """The gradients of ``layer_norm`` from ``dy (rows, F)`` and the forward's ``x``, ``mean`` and ``rstd``.

    Writes ``dgamma`` and ``dbeta`` (``(F,)`` buffers of ``dy``'s dtype, or None to skip them) and returns
    ``dx`` (into the buffer ``dx`` when given), or None when ``input_gradient`` is False.
    """
    entry = "layer_norm_backward"
    _check_rows(entry, "dy", dy)
    rows, F = dy.shape
    check_array(entry, "x", x, dy.dtype, dy.shape)
    for name, stat in (("mean", mean), ("rstd", rstd)):
        check_array(entry, name, stat, dy.dtype, (rows,))
    _check_params(entry, F, dy.dtype, gamma=gamma, dgamma=dgamma, dbeta=dbeta)
    if input_gradient:
        dx = output(entry, "dx", dx, dy.shape, dy.dtype)
        if dy.size:
            grid, block = row_launch_shape(rows, F)
            function("layer_norm", "layer_norm_backward", dy.dtype)(
                grid, block, (dy, x, mean, rstd, gamma, dx, numpy.int64(rows), numpy.int64(F)))
    else:
        dx = None
    if dgamma is not None or dbeta is not None:
        _param_grads(dy, x, mean, rstd, dgamma, dbeta)
    return dx


def _param_grads(dy, x, mean, rstd, dgamma, dbeta):
    """``dgamma = (dy * x_hat).sum(axis=0)``, ``dbeta = dy.sum(axis=0)``: one pass writing a partial row per grid
    row, then bias_act.cu's column_sum over the partial rows (in a fixed order)."""
    rows, F = dy.shape
    if dy.size == 0:
        for grad in (dgamma, dbeta):
            if grad is not None:
                grad.fill(0)
        return
    grid, block = backward_launch_shape(rows, F)
    parts = grid[1]

    def partial_buffer(grad):
        if grad is None or parts == 1:
            return grad
        return backend.cupy.empty((parts, F), dtype=dy.dtype)
    partial_gamma, partial_beta = partial_buffer(dgamma), partial_buffer(dbeta)
    function("layer_norm", "layer_norm_param_grads", dy.dtype)(
        grid, block, (dy, x, mean, rstd, partial_gamma, partial_beta, numpy.int64(rows), numpy.int64(F)))
    for grad, partial in ((dgamma, partial_gamma), (dbeta, partial_beta)):
        if grad is not None and partial is not grad:
            function("bias_act", "column_sum", dy.dtype)(
                (-(-F // BLOCK),), (BLOCK,), (partial, grad, numpy.int32(parts), numpy.int32(F)))
