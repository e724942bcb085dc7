"""Max and average pooling over ``(KH, KW)`` windows of NHWC images.

Geometry (``OH, OW, PH, PW``) comes from ``conv_output_geometry`` with dilation 1. Max pooling treats the
padding as -inf; its backward sends each window's gradient to exactly one input, the first maximum in
row-major window order (as PyTorch and TensorFlow do): saturated images have exact ties, and splitting or
duplicating the gradient there gives wrong gradients. Average pooling divides by the number of taps
inside the image (Keras' 'same' average pooling leaves the padding out of the count).
"""
import numpy

from .. import _cpu as cpu_kernels
from .. import backend
from ..cuda import pool as cuda_pool
from . import workspace
from .conv import padded, window_tap


def _taps(KH, KW):
    return [(kh, kw) for kh in range(KH) for kw in range(KW)]


def max_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """``(y, saved)``: ``y (N, OH, OW, C)`` the window maxima; ``saved`` what the backward needs (opaque).

    The CPU twins keep, per output, the row-major index of the first maximal tap (uint8 up to 256 taps).
    """
    if backend.is_device_array(x):
        return max_pool2d_gpu(x, KH, KW, SH, SW, PH, PW, OH, OW)
    if cpu_kernels.handles(x) and KH * KW <= 256:
        return max_pool2d_compiled(x, KH, KW, SH, SW, PH, PW, OH, OW)
    return max_pool2d_reference(x, KH, KW, SH, SW, PH, PW, OH, OW)


def max_pool2d_reference(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """The NumPy version (the reference of both twins): a running maximum over the taps."""
    xp = backend.get_array_module(x)
    source = padded(x, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW, value=-numpy.inf)
    best = window_tap(source, 0, 0, SH, SW, 1, 1, OH, OW).copy()
    first = xp.zeros(best.shape, dtype=numpy.uint8 if KH * KW <= 256 else numpy.int32)
    for tap, (kh, kw) in enumerate(_taps(KH, KW)[1:], start=1):
        view = window_tap(source, kh, kw, SH, SW, 1, 1, OH, OW)
        # A tap strictly greater than all before it is the new first maximum (an equal one is not), so the
        # first maximum is the largest such tap: a running max, several times faster than a masked copy.
        xp.maximum(first, xp.multiply(view > best, first.dtype.type(tap), dtype=first.dtype), out=first)
        xp.maximum(best, view, out=best)
    return best, first


def max_pool2d_compiled(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """The compiled CPU twin (float32): one pass over the outputs, every window read once."""
    return cpu_kernels.max_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW)


def max_pool2d_gpu(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """The GPU twin: one thread per output; ``saved`` is the int32 window index of the first maximum."""
    return cuda_pool.max_pool2d(backend.get_array_module(x).ascontiguousarray(x), KH, KW, SH, SW, PH, PW, OH, OW)


def max_pool2d_backward(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """``dx (N, H, W, C)``: each ``dy`` entry added to the input its window's maximum came from."""
    if backend.is_device_array(dy):
        return max_pool2d_backward_gpu(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW)
    if cpu_kernels.handles(dy) and saved.dtype == numpy.uint8:
        return max_pool2d_backward_compiled(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW)
    return max_pool2d_backward_reference(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW)


def max_pool2d_backward_reference(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """The NumPy version (the reference of both twins): one masked write per tap."""
    xp = backend.get_array_module(dy)
    first = saved
    shape = _padded_shape(x_shape, KH, KW, SH, SW, PH, PW, OH, OW)
    disjoint = SH >= KH and SW >= KW  # the windows do not overlap: each pixel is written by one tap at most
    if disjoint and shape[1:3] == (OH * KH, OW * KW):  # ... and every pixel by one: no need to clear first
        dx = workspace.empty("max_pool2d_backward", shape, dy.dtype, xp)
    else:
        dx = workspace.zeros("max_pool2d_backward", shape, dy.dtype, xp)
    for tap, (kh, kw) in enumerate(_taps(KH, KW)):
        target = window_tap(dx, kh, kw, SH, SW, 1, 1, OH, OW)
        if disjoint:
            xp.multiply(dy, first == tap, out=target)
        else:
            target += dy * (first == tap)
    return _unpadded(xp, dx, x_shape, PH, PW)


def max_pool2d_backward_compiled(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """The compiled CPU twin (float32): one pass over the input pixels, each gathering from its windows."""
    out = workspace.empty("max_pool2d_backward", x_shape, dy.dtype)
    return cpu_kernels.max_pool2d_backward(dy, saved, tuple(x_shape), KH, KW, SH, SW, PH, PW, OH, OW, out=out)


def max_pool2d_backward_gpu(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """The GPU twin: one thread per input pixel gathers the gradients of the windows it won (no atomics)."""
    dy = backend.get_array_module(dy).ascontiguousarray(dy)
    return cuda_pool.max_pool2d_backward(dy, saved, x_shape, KH, KW, SH, SW, PH, PW, OH, OW)


def avg_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """``y (N, OH, OW, C)``: the mean of each window over the taps that fall inside the image."""
    xp = backend.get_array_module(x)
    source = padded(x, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)
    total = window_tap(source, 0, 0, SH, SW, 1, 1, OH, OW).copy()
    for kh, kw in _taps(KH, KW)[1:]:
        total += window_tap(source, kh, kw, SH, SW, 1, 1, OH, OW)
    total *= _inverse_counts(xp, x.shape, x.dtype, KH, KW, SH, SW, PH, PW, OH, OW)
    return total


def avg_pool2d_backward(dy, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """``dx (N, H, W, C)``: each ``dy`` entry spread evenly over the in-image taps of its window."""
    xp = backend.get_array_module(dy)
    share = dy * _inverse_counts(xp, x_shape, dy.dtype, KH, KW, SH, SW, PH, PW, OH, OW)
    dx = workspace.zeros("avg_pool2d_backward", _padded_shape(x_shape, KH, KW, SH, SW, PH, PW, OH, OW),
                         dy.dtype, xp)
    for kh, kw in _taps(KH, KW):
        window_tap(dx, kh, kw, SH, SW, 1, 1, OH, OW)[...] += share
    return _unpadded(xp, dx, x_shape, PH, PW)


def _inverse_counts(xp, x_shape, dtype, KH, KW, SH, SW, PH, PW, OH, OW):
    """``1 / (taps inside the image)`` per output position, as an ``(OH, OW, 1)`` array."""
    def inside(size, kernel, stride, pad, out):
        start = numpy.arange(out) * stride - pad
        return numpy.minimum(start + kernel, size) - numpy.maximum(start, 0)
    counts = numpy.outer(inside(x_shape[1], KH, SH, PH, OH), inside(x_shape[2], KW, SW, PW, OW))
    return xp.asarray((1.0 / counts).astype(dtype)[:, :, None])


def _padded_shape(x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    N, H, W, C = x_shape
    bottom = max((OH - 1) * SH + KH - H - PH, 0)
    right = max((OW - 1) * SW + KW - W - PW, 0)
    return (N, PH + H + bottom, PW + W + right, C)


def _unpadded(xp, dx, x_shape, PH, PW):
    N, H, W, C = x_shape
    if dx.shape == tuple(x_shape):
        return dx
    return xp.ascontiguousarray(dx[:, PH:PH + H, PW:PW + W, :])
