"""Fused, numerically stable cross-entropies from logits: the loss and its gradient in one pass.

``softmax_cross_entropy(logits (N, K), targets)`` with integer labels ``(N,)`` or one-hot / soft targets
``(N, K)``; ``sigmoid_binary_cross_entropy(logits, targets)`` with targets of the logits' shape.
Both return ``(loss, dlogits)``: the mean loss over the batch (Keras' "sum over batch size") as a 0-d
array, and its gradient with respect to the logits.
"""
import numpy

from .. import backend
from ..cuda import cross_entropy as cuda_cross_entropy


def softmax_cross_entropy(logits, targets):
    """loss = mean_n(logsumexp(z_n) - sum_k t_nk z_nk);  dlogits = (softmax(z) - t) / N."""
    twin = softmax_cross_entropy_gpu if backend.is_device_array(logits) else softmax_cross_entropy_reference
    return twin(logits, targets)


def softmax_cross_entropy_reference(logits, targets):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    xp = backend.get_array_module(logits)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_sum_exp = xp.log(sum_exp)
    grad = exp
    grad /= sum_exp
    if targets.ndim == 1:
        rows = xp.arange(n)
        loss = (log_sum_exp[:, 0] - shifted[rows, targets]).sum()
        grad[rows, targets] -= 1
    else:
        with numpy.errstate(invalid="ignore"):  # a zero target adds nothing, even where lse - z is inf
            loss = xp.where(targets != 0, targets * (log_sum_exp - shifted), 0).sum()
        grad -= targets
    grad /= n
    return loss / n, grad


def softmax_cross_entropy_gpu(logits, targets):
    """The GPU twin: one warp per row, the row read once; a label outside [0, K) gives NaN, never a stray read."""
    xp = backend.get_array_module(logits)
    if targets.ndim == 1:
        targets = xp.ascontiguousarray(targets, dtype=numpy.int64)
    else:
        targets = xp.ascontiguousarray(targets, dtype=logits.dtype)
    return cuda_cross_entropy.softmax_cross_entropy(xp.ascontiguousarray(logits), targets)


def sigmoid_binary_cross_entropy(logits, targets):
    """loss = mean(max(z, 0) - z t + log(1 + exp(-|z|)));  dlogits = (sigmoid(z) - t) / size."""
    twin = sigmoid_binary_cross_entropy_gpu if backend.is_device_array(logits) else \
        sigmoid_binary_cross_entropy_reference
    return twin(logits, targets)


def sigmoid_binary_cross_entropy_elements(logits, targets):
    """Each element's ``-(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z)))`` in its stable form
    ``max(z, 0) - z t + log(1 + exp(-|z|))`` (what the losses and ``nnkit.ops`` sum or keep per element)."""
    xp = backend.get_array_module(logits)
    return xp.maximum(logits, 0) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))


def clipped_binary_cross_entropy_elements(probabilities, targets, epsilon):
    """``(loss, d_loss/d_p)`` per element: ``-(t log p + (1 - t) log(1 - p))`` with ``p`` clipped to
    ``[epsilon, 1 - epsilon]``, and its derivative, 0 where the clip holds ``p`` (it passes no gradient)."""
    xp = backend.get_array_module(probabilities)
    p = xp.clip(probabilities, epsilon, 1 - epsilon)
    loss = -(targets * xp.log(p) + (1 - targets) * xp.log(1 - p))
    inside = (probabilities > epsilon) & (probabilities < 1 - epsilon)
    return loss, ((1 - targets) / (1 - p) - targets / p) * inside


def clipped_categorical_cross_entropy_rows(targets, probabilities, epsilon, axis=-1):
    """``(loss, d_loss/d_p)``: each row's (along ``axis``) ``-sum(t log q)``, where ``q = p / sum(p)`` clipped to
    ``[epsilon, 1 - epsilon]`` (Keras renormalises, then clips), and its derivative through the renormalisation,
    0 where the clip holds ``q``; ``loss`` has ``axis`` dropped."""
    xp = backend.get_array_module(probabilities)
    total = probabilities.sum(axis=axis, keepdims=True)
    q = probabilities / total
    clipped = xp.clip(q, epsilon, 1 - epsilon)
    loss = -(targets * xp.log(clipped)).sum(axis=axis)
    dq = -targets / clipped * ((q > epsilon) & (q < 1 - epsilon))
    return loss, (dq - (dq * q).sum(axis=axis, keepdims=True)) / total


def sigmoid_binary_cross_entropy_reference(logits, targets):
    """The array-module version (the CPU path)."""
    xp = backend.get_array_module(logits)
    size = logits.size
    loss = sigmoid_binary_cross_entropy_elements(logits, targets).sum()
    exp = xp.exp(-xp.abs(logits))
    sigmoid = xp.where(logits >= 0, 1 / (1 + exp), exp / (1 + exp))
    grad = sigmoid - targets
    grad /= size
    return loss / size, grad


def sigmoid_binary_cross_entropy_gpu(logits, targets):
    """The GPU twin: one element-wise pass, the loss summed per block."""
    xp = backend.get_array_module(logits)
    return cuda_cross_entropy.sigmoid_binary_cross_entropy(
        xp.ascontiguousarray(logits), xp.ascontiguousarray(targets, dtype=logits.dtype))
