"""Scaled-dot-product attention's softmax: scale, mask (padding and causal), softmax over the keys and dropout of
the probabilities in one op, and its backward. The two matmuls around it stay matmuls (cuBLAS / BLAS).

Notation (besides that of ``nnkit.primitives``):
    B, H       batch size and number of heads
    Tq, Tk     query and key lengths: ``scores`` is (B, H, Tq, Tk), one softmax per (b, h, q) row over Tk keys
    mask       True (or nonzero) = attend. Shaped (B, H, Tq, Tk) with any axis 1, or (B, Tq, Tk), or (Tq, Tk):
               the missing axes are inserted before the last two, as Keras' MultiHeadAttention expands its
               ``attention_mask`` (so a (B, Tq, Tk) mask is shared by the heads)
    causal     query q attends keys j <= q only (Keras' ``use_causal_mask``), on top of ``mask``
    probs      the attention probabilities; ``dropped = probs * keep / (1 - rate)`` feeds the second matmul
    keep       the dropout keep mask: a hash of (seed, flat index), see ``dropout_keep_mask``

The forward equals Keras 3's ``Softmax`` layer called with a mask (what ``MultiHeadAttention._masked_softmax``
does), with ``scores * scale`` as its input:
    z     = where(mask, scores * scale, NEG)        NEG = -1e9 (-3e4 for float16): it replaces the score
    probs = where(mask, softmax(z, axis=-1), 0)
so masked keys get exactly 0, a fully masked row is all zeros (not uniform), and a NaN score at a masked
position does not spread. (Keras scales the query before the matmul instead of the scores; pass ``scale=1``
with a scaled query to round exactly as Keras does.)

The reference works on either array module. The GPU twin (``kernels/attention.cu``) takes CuPy arrays of
float32 or float64 and does the whole forward in one pass over the scores (and the backward in one pass),
drawing the same keep mask as the reference from the same seed.
"""
import math
import numbers

import numpy

from .. import backend
from ..cuda import attention as cuda_attention

#: splitmix64's constants (Steele, Lea & Flood 2014): the state increment and the two multipliers of its mix.
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1, _MIX_2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_U64 = (1 << 64) - 1


def attention_softmax(scores, mask=None, causal=False, scale=1.0, dropout_rate=0.0, seed=None):
    """The masked, scaled softmax of attention scores over the keys, with dropout.

    Args:
        scores: float array (B, H, Tq, Tk), the raw ``query . key`` products.
        mask: None, or a boolean (or 0/1) array (B, H, Tq, Tk), (B, Tq, Tk) or (Tq, Tk), each axis 1 or full
            (see the module's Notation); True = attend.
        causal: also mask the keys after each query (key j > query q).
        scale: multiplies the scores before the mask and softmax (``1 / sqrt(key_dim)``).
        dropout_rate: fraction of the probabilities dropped, in [0, 1).
        seed: integer seed of the dropout mask; None means no dropout (inference).

    Returns:
        ``(probs, dropped)``, both shaped as ``scores``: the probabilities, and ``probs * keep / (1 - rate)``
        with ``keep = dropout_keep_mask(scores.shape, seed, dropout_rate)``. ``dropped`` is ``probs`` itself
        (the same object) when ``dropout_rate == 0`` or ``seed is None``.
    """
    twin = attention_softmax_gpu if _on_gpu(scores) else attention_softmax_reference
    return twin(scores, mask, causal, scale, dropout_rate, seed)


def attention_softmax_reference(scores, mask=None, causal=False, scale=1.0, dropout_rate=0.0, seed=None):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    xp = backend.get_array_module(scores)
    mask, dtype = _checked(scores, mask, causal, scale, dropout_rate, seed, xp)
    attend = mask
    if causal:
        Tq, Tk = scores.shape[-2:]
        lower = xp.arange(Tk)[None, :] <= xp.arange(Tq)[:, None]
        attend = lower if attend is None else attend & lower
    z = scores * dtype(scale)
    if attend is not None:
        z = xp.where(attend, z, dtype(large_negative(scores.dtype)))
    if z.size:
        z -= z.max(axis=-1, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
    probs = z if attend is None else xp.where(attend, z, dtype(0))
    return probs, _dropout(probs, dropout_rate, seed)


def attention_softmax_gpu(scores, mask=None, causal=False, scale=1.0, dropout_rate=0.0, seed=None):
    """The GPU twin: one kernel reads each row of scores (and of the mask) once and writes probs and dropped."""
    xp = backend.get_array_module(scores)
    mask, dtype = _checked(scores, mask, causal, scale, dropout_rate, seed, xp)
    if mask is not None:
        mask = xp.ascontiguousarray(mask)
    probs, dropped = cuda_attention.attention_softmax(
        xp.ascontiguousarray(scores), mask, bool(causal), scale, large_negative(scores.dtype),
        dropout=_dropout_parameters(dropout_rate, seed, scores.dtype))
    return probs, probs if dropped is None else dropped


def attention_softmax_backward(d_dropped, probs, scale=1.0, dropout_rate=0.0, seed=None):
    """The gradient of ``attention_softmax`` with respect to its ``scores``.

    Args:
        d_dropped: the gradient of ``dropped`` (of ``probs`` when there was no dropout), shaped as ``probs``.
        probs: the forward's ``probs``.
        scale, dropout_rate, seed: as given to the forward (the keep mask is recomputed from the seed).

    Returns:
        ``d_scores`` in ``probs``' dtype: with ``d_probs = d_dropped * keep / (1 - rate)``,
        ``scale * probs * (d_probs - sum(d_probs * probs, axis=-1))``; 0 at masked keys and in fully masked rows.
    """
    twin = attention_softmax_backward_gpu if _on_gpu(probs) else attention_softmax_backward_reference
    return twin(d_dropped, probs, scale, dropout_rate, seed)


def attention_softmax_backward_reference(d_dropped, probs, scale=1.0, dropout_rate=0.0, seed=None):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    xp = backend.get_array_module(probs)
    d_dropped, dtype = _checked_backward(d_dropped, probs, scale, dropout_rate, seed, xp)
    d_probs = _dropout(d_dropped, dropout_rate, seed)  # dropout is linear: its backward is itself
    d_scores = probs * (d_probs - (d_probs * probs).sum(axis=-1, keepdims=True))
    d_scores *= dtype(scale)
    return d_scores


def attention_softmax_backward_gpu(d_dropped, probs, scale=1.0, dropout_rate=0.0, seed=None):
    """The GPU twin: one kernel reads each row of d_dropped and probs once (the keep mask comes from the hash)."""
    xp = backend.get_array_module(probs)
    d_dropped, _ = _checked_backward(d_dropped, probs, scale, dropout_rate, seed, xp)
    return cuda_attention.attention_softmax_backward(
        xp.ascontiguousarray(d_dropped), xp.ascontiguousarray(probs), scale,
        dropout=_dropout_parameters(dropout_rate, seed, probs.dtype))


# ---- dropout: a counter-based hash, the same on the CPU and the GPU --------------------------------------------
def dropout_keep_mask(shape, seed, rate, xp=numpy):
    """The boolean keep mask of ``shape`` that attention dropout draws from ``seed`` at ``rate``.

    Element ``i`` of the C-order flattening is kept when ``bits(i) >> 32 >= ceil(rate * 2**32)``, i.e. when
    the uniform number ``(bits(i) >> 32) / 2**32`` is ``>= rate``, where ``bits(i)`` is the ``(i + 1)``-th
    output of splitmix64 seeded with ``dropout_key(seed)``. It needs no state, so the backward (and the GPU
    kernel, which computes the same hash) recomputes it instead of storing it.

    Args:
        shape: the shape of the mask.
        seed: an integer (taken modulo 2**64).
        rate: the drop probability, in [0, 1).
        xp: the array module of the result (numpy or cupy).
    """
    key, threshold = dropout_key(seed), keep_threshold(rate)
    z = xp.arange(1, math.prod(shape) + 1, dtype=xp.uint64)
    z *= xp.uint64(GOLDEN_GAMMA)
    z += xp.uint64(key)
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        z ^= z >> xp.uint64(shift)
        z *= xp.uint64(multiplier)
    z ^= z >> xp.uint64(31)
    return (z >> xp.uint64(32) >= xp.uint64(threshold)).reshape(shape)


def dropout_key(seed):
    """The first output of splitmix64 seeded with ``seed`` (modulo 2**64): the key of the keep-mask hash."""
    return _mix64((int(seed) + GOLDEN_GAMMA) & _U64)


def keep_threshold(rate):
    """``ceil(rate * 2**32)``: an element is kept when the top 32 bits of its hash are at least this."""
    return math.ceil(float(rate) * 2 ** 32)


def large_negative(dtype):
    """The value Keras puts at masked positions before the softmax: -3e4 for float16, else -1e9."""
    return -3e4 if numpy.dtype(dtype) == numpy.float16 else -1e9


def _mix64(z):
    """splitmix64's output function on a Python integer, with 64-bit wraparound."""
    z = ((z ^ (z >> 30)) * _MIX_1) & _U64
    z = ((z ^ (z >> 27)) * _MIX_2) & _U64
    return z ^ (z >> 31)


def _dropout(x, rate, seed):
    """``x * keep / (1 - rate)`` (``x`` itself without dropout), the factor rounded once to x's dtype."""
    if rate == 0 or seed is None:
        return x
    xp = backend.get_array_module(x)
    dtype = x.dtype.type
    return x * xp.where(dropout_keep_mask(x.shape, seed, rate, xp), dtype(1 / (1 - rate)), dtype(0))


def _dropout_parameters(rate, seed, dtype):
    """The kernels' ``(key, threshold, keep_scale)``, or None without dropout."""
    if rate == 0 or seed is None:
        return None
    return dropout_key(seed), keep_threshold(rate), numpy.dtype(dtype).type(1 / (1 - rate))


# ---- argument checks, shared by both twins ---------------------------------------------------------------------
def _on_gpu(array):
    return backend.is_device_array(array) and array.dtype.char in "fd" and array.size > 0


def _checked(scores, mask, causal, scale, dropout_rate, seed, xp):
    """Validate the forward's arguments; returns ``(mask as a 4-D boolean array or None, the dtype's type)``."""
    entry = "attention_softmax"
    if getattr(scores, "ndim", None) != 4:
        raise ValueError(f"{entry}: expected `scores` of shape (B, H, Tq, Tk). "
                         f"Received: scores.shape={getattr(scores, 'shape', None)}")
    if scores.dtype.kind != "f":
        raise TypeError(f"{entry}: expected floating-point `scores`. Received: scores.dtype={scores.dtype}")
    if not isinstance(causal, (bool, numpy.bool_)):
        raise TypeError(f"{entry}: expected a boolean for `causal`. Received: causal={causal!r}")
    _check_common(entry, scale, dropout_rate, seed)
    return _keras_mask(entry, mask, scores.shape, xp), scores.dtype.type


def _checked_backward(d_dropped, probs, scale, dropout_rate, seed, xp):
    """Validate the backward's arguments; returns ``(d_dropped in probs' dtype, the dtype's type)``."""
    entry = "attention_softmax_backward"
    if getattr(probs, "ndim", 0) < 1 or probs.dtype.kind != "f":
        raise TypeError(f"{entry}: expected a floating-point array for `probs`. Received: {probs!r:.80}")
    if tuple(getattr(d_dropped, "shape", ())) != tuple(probs.shape):
        raise ValueError(f"{entry}: `d_dropped` must have the shape of `probs` {tuple(probs.shape)}. "
                         f"Received: d_dropped.shape={getattr(d_dropped, 'shape', None)}")
    _check_common(entry, scale, dropout_rate, seed)
    return xp.asarray(d_dropped, dtype=probs.dtype), probs.dtype.type


def _check_common(entry, scale, dropout_rate, seed):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale):
        raise ValueError(f"{entry}: expected a finite number for `scale`. Received: scale={scale!r}")
    if isinstance(dropout_rate, bool) or not isinstance(dropout_rate, numbers.Real) or not 0 <= dropout_rate < 1:
        raise ValueError(f"{entry}: expected `dropout_rate` in [0, 1). Received: dropout_rate={dropout_rate!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{entry}: expected an integer or None for `seed`. Received: seed={seed!r}")


def _keras_mask(entry, mask, shape, xp):
    """``mask`` as a boolean array of rank 4 broadcastable to ``shape`` (missing axes inserted before the last
    two, as MultiHeadAttention does; nonzero = True, as its cast to bool), or None."""
    if mask is None:
        return None
    mask = xp.asarray(mask)
    if mask.ndim not in (2, 3, 4):
        raise ValueError(f"{entry}: expected a `mask` of shape (B, H, Tq, Tk), (B, Tq, Tk) or (Tq, Tk). "
                         f"Received: mask.shape={tuple(mask.shape)}")
    while mask.ndim < 4:
        mask = xp.expand_dims(mask, -3)
    if any(m not in (1, s) for m, s in zip(mask.shape, shape)):
        raise ValueError(f"{entry}: the `mask` must be broadcastable to `scores`: each axis 1 or the scores' size "
                         f"(missing axes are inserted before the last two). Received: scores.shape={tuple(shape)}, "
                         f"mask.shape={tuple(mask.shape)}")
    return mask if mask.dtype == numpy.bool_ else mask != 0
