"""Keras' NumPy-like ops (``keras.ops.add``, ``matmul``, ``sum``, ``reshape``...), each with its gradient rule.

Every op is ``function(...) -> (output, backward)`` made callable by ``operation`` (see ``dispatch.py``): on arrays
it computes, on symbolic tensors it becomes a node of the model's graph. ``backward(d_output)`` returns
``{argument name: gradient}``.
"""
import builtins
import math

import numpy

from .dispatch import _result_dtype, operation
from .dtypes import float_dtype, floating, floatx_name
from .shapes import broadcast_shapes, elementwise, normalize_axis, reduced_shape, unbroadcast, xp_of


def _is_float_operand(value):
    return isinstance(value, float) or getattr(value, "dtype", numpy.dtype(int)).kind == "f"


def _shape(value):
    """An operand's shape; None for a Python number (NumPy scalars have a shape, ``()``)."""
    return tuple(value.shape) if hasattr(value, "shape") else None


# ---- arithmetic ---------------------------------------------------------------------------------------------
@operation("x1", "x2", shape=elementwise)
def add(x1, x2):
    """``x1 + x2``, broadcast."""
    return x1 + x2, lambda g: {"x1": unbroadcast(g, _shape(x1)), "x2": unbroadcast(g, _shape(x2))}


@operation("x1", "x2", shape=elementwise)
def subtract(x1, x2):
    """``x1 - x2``, broadcast."""
    return x1 - x2, lambda g: {"x1": unbroadcast(g, _shape(x1)), "x2": unbroadcast(-g, _shape(x2))}


@operation("x1", "x2", shape=elementwise)
def multiply(x1, x2):
    """``x1 * x2``, broadcast."""
    return x1 * x2, lambda g: {"x1": unbroadcast(g * x2, _shape(x1)), "x2": unbroadcast(g * x1, _shape(x2))}


def _divide_dtype(dtypes, arguments):
    result = _result_dtype(dtypes)
    return result if numpy.dtype(result).kind == "f" else floatx_name()


@operation("x1", "x2", shape=elementwise, dtype=_divide_dtype)
def divide(x1, x2):
    """``x1 / x2``, broadcast (integers divide to floatx)."""
    if not _is_float_operand(x1) and not _is_float_operand(x2):
        x1, x2 = floating(x1), floating(x2)
    out = x1 / x2
    return out, lambda g: {"x1": unbroadcast(g / x2, _shape(x1)), "x2": unbroadcast(-g * out / x2, _shape(x2))}


true_divide = divide


@operation("x", shape=elementwise)
def negative(x):
    """``-x``."""
    return -x, lambda g: {"x": -g}


@operation("x1", "x2", shape=elementwise)
def power(x1, x2):
    """``x1 ** x2``, broadcast."""
    xp = xp_of(x1, x2)
    out = x1 ** x2

    def backward(g):
        d_x1 = g * x2 * x1 ** (x2 - 1) if _shape(x1) is not None else None
        d_x2 = g * out * xp.log(xp.where(x1 > 0, x1, 1)) if _shape(x2) is not None else None
        return {"x1": unbroadcast(d_x1, _shape(x1)), "x2": unbroadcast(d_x2, _shape(x2))}
    return out, backward


def _matmul_shape(x1, x2):
    if len(x1) == 1 or len(x2) == 1:
        raise ValueError("nnkit.ops.matmul: 1-D operands are not supported in a model; reshape them to 2-D.")
    if x1[-1] is not None and x2[-2] is not None and x1[-1] != x2[-2]:
        raise ValueError(f"nnkit.ops.matmul: shapes {x1} and {x2} do not fit (inner sizes {x1[-1]} and {x2[-2]}).")
    return broadcast_shapes(x1[:-2], x2[:-2]) + (x1[-2], x2[-1])


@operation("x1", "x2", shape=_matmul_shape)
def matmul(x1, x2):
    """The matrix product over the last two axes, broadcast over the others."""
    a = x1[None, :] if x1.ndim == 1 else x1  # a vector operand is a matrix of one row (column), as NumPy has it
    b = x2[:, None] if x2.ndim == 1 else x2

    def backward(g):  # computed only for the operands that need them (the data's is skipped)
        g = g.reshape(a.shape[:-1] + b.shape[-1:]) if x1.ndim == 1 or x2.ndim == 1 else g
        return {"x1": lambda: unbroadcast(g @ b.swapaxes(-1, -2), a.shape).reshape(x1.shape),
                "x2": lambda: unbroadcast(a.swapaxes(-1, -2) @ g, b.shape).reshape(x2.shape)}
    return x1 @ x2, backward


# ---- element-wise math --------------------------------------------------------------------------------------
@operation("x", shape=elementwise, dtype=float_dtype)
def exp(x):
    x = floating(x)
    """``e ** x``."""
    out = xp_of(x).exp(x)
    return out, lambda g: {"x": g * out}


@operation("x", shape=elementwise, dtype=float_dtype)
def log(x):
    x = floating(x)
    """The natural logarithm."""
    return xp_of(x).log(x), lambda g: {"x": g / x}


@operation("x", shape=elementwise, dtype=float_dtype)
def sqrt(x):
    x = floating(x)
    """The square root."""
    out = xp_of(x).sqrt(x)
    return out, lambda g: {"x": g / (2 * out)}


@operation("x", shape=elementwise)
def square(x):
    """``x ** 2``."""
    return x * x, lambda g: {"x": 2 * g * x}


@operation("x", shape=elementwise)
def absolute(x):
    """``|x|`` (gradient 0 at 0)."""
    xp = xp_of(x)
    return xp.abs(x), lambda g: {"x": g * xp.sign(x)}


abs = absolute


@operation("x", shape=elementwise, dtype=float_dtype)
def tanh(x):
    x = floating(x)
    """The hyperbolic tangent."""
    out = xp_of(x).tanh(x)
    return out, lambda g: {"x": g * (1 - out * out)}


# ---- reductions ---------------------------------------------------------------------------------------------
def _reduction_shape(x, axis=None, keepdims=False):
    return reduced_shape(x, axis, keepdims)


def _spread(g, x, axis, keepdims):
    """A reduction's output gradient broadcast back over the reduced axes of ``x``."""
    if not keepdims:
        g = g.reshape(reduced_shape(x.shape, axis, True))
    return xp_of(x).broadcast_to(g, x.shape)


@operation("x", shape=_reduction_shape)
def sum(x, axis=None, keepdims=False):
    """The sum over ``axis`` (all axes when None)."""
    axes = normalize_axis(axis, x.ndim)
    return x.sum(axis=axes, keepdims=keepdims), lambda g: {"x": _spread(g, x, axes, keepdims)}


@operation("x", shape=_reduction_shape, dtype=float_dtype)
def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (all axes when None)."""
    x = floating(x)
    axes = normalize_axis(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    return x.mean(axis=axes, keepdims=keepdims), lambda g: {"x": _spread(g / count, x, axes, keepdims)}


def _extremum(x, axis, keepdims, reduce):
    axes = normalize_axis(axis, x.ndim)
    out = reduce(x, axis=axes, keepdims=True)

    def backward(g):
        hits = x == out  # ties share the gradient equally
        share = (hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype, copy=False)
        return {"x": _spread(g, x, axes, keepdims) * share}
    return (out if keepdims else out.reshape(reduced_shape(x.shape, axes, False))), backward


@operation("x", shape=_reduction_shape)
def max(x, axis=None, keepdims=False):
    """The maximum over ``axis`` (ties share the gradient)."""
    return _extremum(x, axis, keepdims, xp_of(x).max)


@operation("x", shape=_reduction_shape)
def min(x, axis=None, keepdims=False):
    """The minimum over ``axis`` (ties share the gradient)."""
    return _extremum(x, axis, keepdims, xp_of(x).min)


# ---- shapes -------------------------------------------------------------------------------------------------
def _reshape_shape(x, newshape):
    newshape = tuple(newshape)
    if -1 in newshape and None not in x:
        known = math.prod(size for size in newshape if size != -1)
        return tuple(math.prod(x) // known if size == -1 else size for size in newshape)
    return tuple(None if size == -1 else size for size in newshape)


@operation("x", shape=_reshape_shape)
def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    return x.reshape(tuple(newshape)), lambda g: {"x": g.reshape(x.shape)}


def _transpose_shape(x, axes=None):
    order = tuple(reversed(range(len(x)))) if axes is None else tuple(a % len(x) for a in axes)
    return tuple(x[a] for a in order)


@operation("x", shape=_transpose_shape)
def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed when ``axes`` is None)."""
    order = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    inverse = tuple(sorted(range(x.ndim), key=order.__getitem__))
    return x.transpose(order), lambda g: {"x": g.transpose(inverse)}


def _expand_dims_shape(x, axis):
    axes = normalize_axis(axis, len(x) + (1 if isinstance(axis, int) else len(axis)))
    shape = list(x)
    for a in axes:
        shape.insert(a, 1)
    return tuple(shape)


@operation("x", shape=_expand_dims_shape)
def expand_dims(x, axis):
    """``x`` with a new axis of size 1 at ``axis`` (an int or a tuple)."""
    shape = _expand_dims_shape(x.shape, axis)
    return x.reshape(shape), lambda g: {"x": g.reshape(x.shape)}


def _squeeze_shape(x, axis=None):
    axes = tuple(i for i, size in enumerate(x) if size == 1) if axis is None else normalize_axis(axis, len(x))
    return tuple(size for i, size in enumerate(x) if i not in axes)


@operation("x", shape=_squeeze_shape)
def squeeze(x, axis=None):
    """``x`` without its axes of size 1 (or only ``axis``)."""
    return x.reshape(_squeeze_shape(x.shape, axis)), lambda g: {"x": g.reshape(x.shape)}


def _concatenate_shape(xs, axis=0):
    rank = len(xs[0])
    axis %= rank
    sizes = [shape[axis] for shape in xs]
    others = broadcast_shapes(*[shape[:axis] + (1,) + shape[axis + 1:] for shape in xs])
    return others[:axis] + (None if None in sizes else builtins.sum(sizes),) + others[axis + 1:]


@operation("xs", shape=_concatenate_shape)
def concatenate(xs, axis=0):
    """The tensors ``xs`` joined along ``axis``."""
    xp = xp_of(*xs)
    axis %= xs[0].ndim
    bounds = [0]
    for x in xs:
        bounds.append(bounds[-1] + x.shape[axis])

    def backward(g):
        return {"xs": [g[(slice(None),) * axis + (slice(start, stop),)] for start, stop in zip(bounds, bounds[1:])]}
    return xp.concatenate(xs, axis=axis), backward


# ---- indexing -------------------------------------------------------------------------------------------------
def _getitem_shape(x, key):
    key = key if isinstance(key, tuple) else (key,)
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (len(x) - len([k for k in key if k is not None]) + 1) + key[at + 1:]
    shape, axis = [], 0
    for item in key:
        if item is None:
            shape.append(1)
            continue
        size = x[axis]
        if isinstance(item, slice):
            shape.append(None if size is None and item != slice(None) else
                         size if size is None else len(range(*item.indices(size))))
        elif not isinstance(item, int):
            raise TypeError(f"nnkit.ops: indexing a tensor with {item!r} is not supported; use ints, slices, None "
                            f"and ... (or ops.take).")
        axis += 1
    return tuple(shape) + tuple(x[axis:])


@operation("x", shape=_getitem_shape)
def getitem(x, key):
    """``x[key]`` with ints, slices, None and ``...`` (what ``tensor[...]`` does on symbolic tensors)."""
    def backward(g):
        grad = xp_of(x).zeros_like(x)
        grad[key] = g
        return {"x": grad}
    return x[key], backward
