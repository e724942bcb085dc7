"""Bias add + activation, fused: the epilogue of every Dense and Conv2D layer.

Arrays are 2-D, ``(rows, F)``: a Dense output, or a convolution output in NHWC flattened to
``(N*OH*OW, F)``; ``bias`` is ``(F,)`` or None.
"""
from .. import _cpu as cpu_kernels
from .. import backend
from ..cuda import bias_act as cuda_bias_act
from . import workspace

#: The activations the compiled CPU twins handle (the others run the NumPy code).
COMPILED_ACTIVATIONS = ("linear", "relu")


def bias_activation(z, bias, activation):
    """``activation(z + bias)``, in place on ``z`` unless the activation's backward needs its input.

    Returns ``y``. When ``activation.needs_input``, ``z`` holds ``z + bias`` afterwards and must be kept
    for the backward pass.
    """
    if backend.is_device_array(z) and cuda_bias_act.handles(activation):
        return bias_activation_gpu(z, bias, activation)
    if _compiled_handles(activation, z, bias) and z.flags.c_contiguous:
        return bias_activation_compiled(z, bias, activation)
    return bias_activation_reference(z, bias, activation)


def _compiled_handles(activation, *arrays):
    return activation.name in COMPILED_ACTIVATIONS and cpu_kernels.handles(*arrays)


def bias_activation_reference(z, bias, activation):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    if bias is not None:
        z += bias
    if activation.name == "linear":
        return z
    if activation.name == "relu":
        return backend.get_array_module(z).maximum(z, 0, out=z)
    if activation.needs_input:
        return activation.forward(z)
    z[...] = activation.forward(z)
    return z


def bias_activation_compiled(z, bias, activation):
    """The compiled CPU twin (float32, ReLU or linear): one pass, in place."""
    return cpu_kernels.bias_activation(z, bias, activation.name == "relu")


def bias_activation_gpu(z, bias, activation):
    """The GPU twin: one kernel, in place (``z`` must be C-contiguous)."""
    return cuda_bias_act.bias_activation(z, None if bias is None else bias.reshape(-1).astype(z.dtype, copy=False),
                                         activation)


def bias_activation_backward(dy, z, y, activation, bias_grad):
    """Gradient with respect to the pre-activation; writes ``sum(dz, axis=0)`` into ``bias_grad``.

    ``z`` is read only when ``activation.needs_input``; ``bias_grad`` is None for a layer without bias.
    """
    if backend.is_device_array(dy) and cuda_bias_act.handles(activation):
        return bias_activation_backward_gpu(dy, z, y, activation, bias_grad)
    if _compiled_handles(activation, dy, y, bias_grad) and (bias_grad is None or bias_grad.flags.c_contiguous):
        return bias_activation_backward_compiled(dy, z, y, activation, bias_grad)
    return bias_activation_backward_reference(dy, z, y, activation, bias_grad)


def bias_activation_backward_reference(dy, z, y, activation, bias_grad):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    if activation.name == "linear":
        dz = dy
    elif activation.name == "relu":
        dz = backend.get_array_module(dy).multiply(dy, y > 0)
    else:
        dz = activation.backward(dy, z, y)
    if bias_grad is not None:
        column_sums(dz, out=bias_grad)
    return dz


def column_sums(matrix, out):
    """``matrix.sum(axis=0)`` as a product with a row of ones: BLAS does it ~5x faster for tall matrices."""
    xp = backend.get_array_module(matrix)
    xp.matmul(xp.ones(matrix.shape[0], dtype=matrix.dtype), matrix, out=out)


def bias_activation_backward_compiled(dy, z, y, activation, bias_grad):
    """The compiled CPU twin (float32, ReLU or linear): dy and y read once, dz and the bias gradient in one pass.

    The bias gradient is summed in float64 per block of rows (more exact than the float32 reference).
    """
    relu = activation.name == "relu"
    out = workspace.empty("bias_activation_backward", dy.shape, dy.dtype) if relu else None
    return cpu_kernels.bias_activation_backward(dy, y, bias_grad, relu, out=out)


def bias_activation_backward_gpu(dy, z, y, activation, bias_grad):
    """The GPU twin: dy and y read once; dz and the bias gradient written in the same pass."""
    xp = backend.get_array_module(dy)
    dy = xp.ascontiguousarray(dy)
    if y is not None:
        y = xp.ascontiguousarray(y, dtype=dy.dtype)
    if bias_grad is None or (bias_grad.dtype == dy.dtype and bias_grad.flags.c_contiguous):
        return cuda_bias_act.bias_activation_backward(dy, y, activation, bias_grad)
    summed = xp.empty(bias_grad.shape, dtype=dy.dtype)  # the kernel writes its own dtype, contiguously
    dz = cuda_bias_act.bias_activation_backward(dy, y, activation, summed)
    bias_grad[...] = summed
    return dz
