"""Bias add + activation, fused: the epilogue of every Dense and Conv2D layer.

Arrays are 2-D, ``(rows, F)``: a Dense output, or a convolution output in NHWC flattened to
``(N*OH*OW, F)``; ``bias`` is ``(F,)`` or None.
"""
from .. import backend


def bias_activation(z, bias, activation):
    """``activation(z + bias)``, in place on ``z`` unless the activation's backward needs its input.

    Returns ``y``. When ``activation.needs_input``, ``z`` holds ``z + bias`` afterwards and must be kept
    for the backward pass.
    """
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


def bias_activation_backward(dy, z, y, activation, bias_grad):
    """Gradient with respect to the pre-activation; writes ``sum(dz, axis=0)`` into ``bias_grad``.

    ``z`` is read only when ``activation.needs_input``; ``bias_grad`` is None for a layer without bias.
    """
    if activation.name == "linear":
        dz = dy
    elif activation.name == "relu":
        dz = backend.get_array_module(dy).multiply(dy, y > 0)
    else:
        dz = activation.backward(dy, z, y)
    if bias_grad is not None:
        dz.sum(axis=0, out=bias_grad)
    return dz
