"""Launch wrappers for ``kernels/pool.cu``: max pooling (NHWC) forward, keeping each window's argmax (the
row-major index ``kh*KW + kw`` of its first maximum, int32), and the backward as a gather."""
import numpy

from . import BLOCK, check_array, function, grid_for, output


def _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW):
    values = (N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW)
    if any(int(v) < 0 or int(v) >= 2**31 for v in values) or min(KH, KW, SH, SW) < 1:
        raise ValueError(f"max_pool2d: geometry out of range (N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW) = "
                         f"{values}; sizes must lie in [0, 2**31), windows and strides be >= 1.")
    return tuple(numpy.int32(v) for v in values)


def max_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW, out=None, argmax_out=None):
    """``(y (N, OH, OW, C), argmax (N, OH, OW, C) int32)``; padding counts as -inf."""
    check_array("max_pool2d", "x", x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d: 'x' must be NHWC (4-D); received shape {tuple(x.shape)}.")
    N, H, W, C = x.shape
    y = output("max_pool2d", "out", out, (N, OH, OW, C), x.dtype)
    argmax = output("max_pool2d", "argmax_out", argmax_out, (N, OH, OW, C), numpy.int32)
    if y.size:
        function("pool", "max_pool2d_forward", x.dtype)(
            grid_for(y.size), (BLOCK,), (x, y, argmax) + _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW))
    return y, argmax


def max_pool2d_backward(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW, out=None):
    """``dx (N, H, W, C)``: each window's gradient goes to its argmax (the saved int32 window index)."""
    N, H, W, C = (int(d) for d in x_shape)
    check_array("max_pool2d_backward", "dy", dy, None, (N, OH, OW, C))
    check_array("max_pool2d_backward", "saved", saved, numpy.int32, (N, OH, OW, C))
    dx = output("max_pool2d_backward", "out", out, (N, H, W, C), dy.dtype)
    if dx.size:
        function("pool", "max_pool2d_backward", dy.dtype)(
            grid_for(dx.size), (BLOCK,), (dy, saved, dx) + _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW))
    return dx
