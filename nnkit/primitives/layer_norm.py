"""Layer normalization (Ba et al. 2016): normalize over some axes of each sample, then scale and shift.

Notation (besides that of ``nnkit.primitives``):
    axes       the normalized axes, sorted, non-negative (``(x.ndim - 1,)``: the features of each row)
    gamma,     the scale and shift, shaped as the normalized axes (``x.shape[a] for a in axes``), or None
    beta
    mean,      the statistics over ``axes``, kept with ``keepdims=True``; ``inv_std = 1 / sqrt(var + epsilon)``
    inv_std
    x_hat      ``(x - mean) * inv_std``
    rows, F    the kernel's view of ``x``: the normalized axes are the trailing ones, ``F`` their product

The reference works on any axes and either array module. The GPU twin (``kernels/layer_norm.cu``) is used for
CuPy arrays whose normalized axes are the trailing ones (``axis=-1``, or ``[1, 2, 3]`` of NHWC images).
"""
import math

from .. import backend
from ..cuda import layer_norm as cuda_layer_norm


def layer_norm(x, gamma, beta, axes, epsilon):
    """``(y, mean, inv_std)``: ``y = (x - mean) * inv_std * gamma + beta``, statistics over ``axes``."""
    on_gpu = backend.is_device_array(x) and kernel_fits(x, axes)
    return (layer_norm_gpu if on_gpu else layer_norm_reference)(x, gamma, beta, axes, epsilon)


def layer_norm_reference(x, gamma, beta, axes, epsilon):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    xp = backend.get_array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    inv_std = 1 / xp.sqrt(xp.square(centered).mean(axis=axes, keepdims=True) + epsilon)
    y = centered * inv_std
    if gamma is not None:
        y *= _broadcast(gamma, x.ndim, axes)
    if beta is not None:
        y += _broadcast(beta, x.ndim, axes)
    return y, mean, inv_std


def layer_norm_gpu(x, gamma, beta, axes, epsilon):
    """The GPU twin: one kernel reads each row twice for the statistics and writes ``y`` in a third pass."""
    rows, F = _rows_and_features(x, axes)
    xp = backend.get_array_module(x)
    y, mean, inv_std = cuda_layer_norm.layer_norm(xp.ascontiguousarray(x).reshape(rows, F), _flat(gamma, x.dtype),
                                                  _flat(beta, x.dtype), epsilon)
    stats_shape = _stats_shape(x.shape, axes)
    return y.reshape(x.shape), mean.reshape(stats_shape), inv_std.reshape(stats_shape)


def layer_norm_backward(dy, x, mean, inv_std, gamma, axes, dgamma, dbeta, input_gradient=True):
    """The gradients of ``layer_norm``: writes ``dgamma`` / ``dbeta`` (shaped as gamma, or None to skip) and
    returns ``dx``, or None when ``input_gradient`` is False."""
    on_gpu = backend.is_device_array(dy) and kernel_fits(dy, axes)
    return (layer_norm_backward_gpu if on_gpu else layer_norm_backward_reference)(
        dy, x, mean, inv_std, gamma, axes, dgamma, dbeta, input_gradient)


def layer_norm_backward_reference(dy, x, mean, inv_std, gamma, axes, dgamma, dbeta, input_gradient=True):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    x_hat = (x - mean) * inv_std
    others = tuple(a for a in range(x.ndim) if a not in axes)
    # ==== dgamma, dbeta ====
    if dgamma is not None:
        dgamma[...] = (dy * x_hat).sum(axis=others).reshape(dgamma.shape)
    if dbeta is not None:
        dbeta[...] = dy.sum(axis=others).reshape(dbeta.shape)
    if not input_gradient:
        return None
    # ==== dx ====
    g = dy * _broadcast(gamma, x.ndim, axes) if gamma is not None else dy
    return inv_std * (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))


def layer_norm_backward_gpu(dy, x, mean, inv_std, gamma, axes, dgamma, dbeta, input_gradient=True):
    """The GPU twin: one kernel for ``dx`` (a row at a time), one for the column sums of dgamma and dbeta."""
    rows, F = _rows_and_features(x, axes)
    xp = backend.get_array_module(dy)

    def as_rows(a, shape):
        return xp.ascontiguousarray(a, dtype=dy.dtype).reshape(shape)

    def target(grad):  # the kernel writes its own dtype, contiguously: a stand-in buffer when grad is not that
        if grad is None or (grad.dtype == dy.dtype and grad.flags.c_contiguous):
            return grad
        return xp.empty(grad.shape, dtype=dy.dtype)
    dgamma_out, dbeta_out = target(dgamma), target(dbeta)
    dx = cuda_layer_norm.layer_norm_backward(
        as_rows(dy, (rows, F)), as_rows(x, (rows, F)), as_rows(mean, rows), as_rows(inv_std, rows),
        _flat(gamma, dy.dtype), _flat_view(dgamma_out), _flat_view(dbeta_out), input_gradient=input_gradient)
    for grad, out in ((dgamma, dgamma_out), (dbeta, dbeta_out)):
        if out is not grad:
            grad[...] = out
    return None if dx is None else dx.reshape(x.shape)


# ---- helpers -------------------------------------------------------------------------------------------------
def kernel_fits(x, axes):
    """Whether the kernel can normalize ``x`` over ``axes``: a non-empty float32/float64 array whose normalized
    axes are its trailing ones."""
    return (x.size > 0 and x.dtype.char in "fd"
            and tuple(axes) == tuple(range(x.ndim - len(axes), x.ndim)))


def _broadcast(param, ndim, axes):
    """``param`` (shaped as the normalized axes) reshaped to broadcast against an array of rank ``ndim``."""
    shape = [1] * ndim
    for a, size in zip(axes, param.shape):
        shape[a] = size
    return param.reshape(shape)


def _stats_shape(shape, axes):
    return tuple(1 if a in axes else d for a, d in enumerate(shape))


def _rows_and_features(x, axes):
    F = math.prod(x.shape[a] for a in axes)
    return x.size // F, F


def _flat(param, dtype):
    if param is None:
        return None
    return backend.get_array_module(param).ascontiguousarray(param, dtype=dtype).reshape(-1)


def _flat_view(grad):
    return None if grad is None else grad.reshape(-1)  # a view: grad is contiguous here
