"""Launch wrappers for ``kernels/bias_act.cu``: bias add + activation in place on a GEMM output, and the
backward that applies the activation's derivative and sums the bias gradient in the same pass."""
import numpy

from .. import backend
from . import BLOCK, check_array, function, grid_for

#: Activation name -> (kernel code, attribute holding its parameter or None). Each derivative is written
#: from the output alone; the others (gelu, softplus, softmax) take the generic path.
ACTIVATIONS = {"linear": (0, None), "relu": (1, None), "leaky_relu": (2, "negative_slope"), "sigmoid": (3, None),
               "tanh": (4, None), "elu": (5, "alpha")}
VEC = {numpy.dtype(numpy.float32): 4, numpy.dtype(numpy.float64): 2}
#: Elements of dy each block of the backward should cover at least (fewer blocks, fewer partial rows).
_ROWS_WORK = 32768


def handles(activation):
    """True when the fused kernels implement ``activation``."""
    return activation.name in ACTIVATIONS


def _code_and_param(activation, dtype):
    code, attribute = ACTIVATIONS[activation.name]
    return numpy.int32(code), dtype.type(getattr(activation, attribute) if attribute else 0)


def _check_2d(entry, name, array, dtype=None):
    check_array(entry, name, array, dtype)
    if array.ndim != 2:
        raise ValueError(f"{entry}: '{name}' must be 2-D (rows, F); received shape {tuple(array.shape)}.")
    return array


def bias_activation(z, bias, activation):
    """``z = activation(z + bias)`` in place on ``z (rows, F)``; ``bias (F,)`` or None. Returns ``z``."""
    _check_2d("bias_activation", "z", z)
    rows, F = z.shape
    if bias is not None:
        check_array("bias_activation", "bias", bias, z.dtype, (F,))
    code, param = _code_and_param(activation, z.dtype)
    if z.size:
        kernel = function("bias_act", "bias_act_forward", z.dtype)
        kernel(grid_for(-(-z.size // VEC[z.dtype])), (BLOCK,),
               (z, bias, numpy.int64(rows), numpy.int64(F), code, param))
    return z


def backward_launch_shape(rows, F):
    """``(grid, block)`` of the backward: BX columns (a power of two <= 32) by 256 / BX rows per block."""
    bx = 1
    while bx < min(F, 32):
        bx *= 2
    by = BLOCK // bx
    gx = -(-F // bx)
    gy = max(1, min(-(-rows // by), max(1, 1024 // gx), -(-rows * F // _ROWS_WORK)))
    return (gx, gy), (bx, by)


def bias_activation_backward(dy, y, activation, bias_grad, out=None):
    """``dz = dy * activation'(y)`` and ``bias_grad[...] = dz.sum(axis=0)`` (when not None), in one pass.

    For the linear activation ``dz`` is ``dy`` itself (returned, not copied). ``out`` may give the buffer
    for ``dz``.
    """
    entry = "bias_activation_backward"
    _check_2d(entry, "dy", dy)
    rows, F = dy.shape
    linear = activation.name == "linear"
    if not linear:
        check_array(entry, "y", y, dy.dtype, dy.shape)
    dz = dy if linear else (out if out is not None else backend.cupy.empty_like(dy))
    if out is not None and not linear:
        check_array(entry, "out", out, dy.dtype, dy.shape)
    if bias_grad is not None:
        check_array(entry, "bias_grad", bias_grad, dy.dtype, (F,))
    if linear and bias_grad is None:
        return dz
    if dy.size == 0:
        if bias_grad is not None:
            bias_grad.fill(0)
        return dz
    grid, block = backward_launch_shape(rows, F)
    partials = None
    if bias_grad is not None:
        partials = bias_grad if grid[1] == 1 else backend.cupy.empty((grid[1], F), dtype=dy.dtype)
    code, param = _code_and_param(activation, dy.dtype)
    function("bias_act", "bias_act_backward", dy.dtype)(
        grid, block, (dy, None if linear else y, None if linear else dz, partials, numpy.int64(rows), numpy.int32(F),
                      code, param))
    if partials is not None and partials is not bias_grad:
        function("bias_act", "column_sum", dy.dtype)(
            (-(-F // BLOCK),), (BLOCK,), (partials, bias_grad, numpy.int32(grid[1]), numpy.int32(F)))
    return dz
