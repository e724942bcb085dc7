"""The rest of Keras' NumPy-like ops (``keras.ops.equal``, ``where``, ``clip``, ``cumsum``, ``take``, ``split``,
``einsum``, ``norm``, ``logsumexp``...), each with its gradient rule; the first ones are in ``numpy.py``.

Every op is ``function(...) -> (output, backward)`` made callable by ``operation`` (see ``dispatch.py``): on arrays
it computes, on symbolic tensors it becomes a node of the model's graph. ``backward(d_output)`` returns
``{argument name: gradient}``; None for an argument without gradient (integer or boolean outputs, indices).
``einsum`` and ``dot`` give each operand's gradient as a function, computed only where it is needed (as
``matmul`` does).

Conventions where the gradient is not unique (as in JAX and PyTorch, which Keras' backends follow):

- ``maximum``/``minimum``: the gradient goes to the larger/smaller argument; on a tie each gets half of it.
- ``clip``: ``x`` gets the gradient where ``x_min <= x <= x_max`` (bounds included), a tensor bound where it is
  the output (``min(max(x, x_min), x_max)``, as NumPy computes it).
- ``max``-like norms (``ord=inf``...) share the gradient evenly among tied entries, as ``ops.max`` does.
- ``floor``, ``ceil``, ``round``, ``sign``, ``floor_divide``: zero gradient (not None) on floats.
- ``std`` and the 2-norm: zero gradient where the result is 0 (instead of NaN).
"""
import builtins
import collections
import functools
import math
import string

import numpy

from .. import backend
from .dispatch import _result_dtype, operation
from .dtypes import (bool_dtype as _bool_dtype, dtype_name as _dtype, first_dtype as _first_dtype,
                     float_dtype as _float_dtype, floating as _floating, int32_dtype as _int32_dtype,
                     is_number as _is_number)
from .numpy import multiply
from .shapes import broadcast_shapes, elementwise, normalize_axis, reduced_shape, unbroadcast, xp_of


def _shape(value):
    return None if value is None or _is_number(value) else tuple(value.shape)


def _is_float(x):
    if x is None or isinstance(x, (bool, int)):
        return False
    return isinstance(x, float) if _is_number(x) else x.dtype.kind == "f"


def _zero_grad(x):
    """The zero gradient of a piecewise-constant op's float input (None for ints, bools, Python numbers)."""
    return xp_of(x).zeros(x.shape, x.dtype) if _is_float(x) and _shape(x) is not None else None


def _spread(g, shape, axes, keepdims):
    """A reduction's output gradient broadcast back over the reduced ``axes`` of an input of ``shape``."""
    if not keepdims:
        g = g.reshape(reduced_shape(shape, axes, True))
    return xp_of(g).broadcast_to(g, shape)


def _reduction_shape(x, axis=None, keepdims=False, **unused):
    return reduced_shape(x, axis, keepdims)


# ---- comparisons and logic (boolean outputs, no gradient) ------------------------------------------------------
def _comparison(name, function_name, symbol):
    @operation("x1", "x2", shape=elementwise, dtype=_bool_dtype)
    def op(x1, x2):
        return getattr(xp_of(x1, x2), function_name)(x1, x2), lambda g: {"x1": None, "x2": None}
    op.__name__ = op.name = name
    op.__doc__ = f"``x1 {symbol} x2`` element-wise, broadcast (booleans; no gradient)."
    return op


equal = _comparison("equal", "equal", "==")
not_equal = _comparison("not_equal", "not_equal", "!=")
greater = _comparison("greater", "greater", ">")
greater_equal = _comparison("greater_equal", "greater_equal", ">=")
less = _comparison("less", "less", "<")
less_equal = _comparison("less_equal", "less_equal", "<=")
logical_and = _comparison("logical_and", "logical_and", "and")
logical_or = _comparison("logical_or", "logical_or", "or")


@operation("x", shape=elementwise, dtype=_bool_dtype)
def logical_not(x):
    """``not x`` element-wise (booleans; no gradient)."""
    return xp_of(x).logical_not(x), lambda g: {"x": None}


# ---- selection ---------------------------------------------------------------------------------------------------
def _where_shape(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        raise ValueError("nnkit.ops.where(condition) without x1 and x2 (the indices of the true entries) has a "
                         "data-dependent shape and cannot be part of a model; give x1 and x2.")
    return broadcast_shapes(condition, x1, x2)


def _where_dtype(dtypes, arguments):
    return _result_dtype([_dtype(arguments["x1"]), _dtype(arguments["x2"])])


@operation("condition", "x1", "x2", shape=_where_shape, dtype=_where_dtype)
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` is true, else ``x2`` (broadcast); with neither, the indices of the true entries
    (on arrays only). The gradient goes to the chosen argument; none to ``condition``."""
    xp = xp_of(condition, x1, x2)
    if (x1 is None) != (x2 is None):
        raise ValueError("`x1` and `x2` either both should be `None` or both should have non-None value.")
    if x1 is None:
        return xp.nonzero(condition), lambda g: {"condition": None}
    condition = xp.asarray(condition, dtype=bool)

    def backward(g):
        return {"condition": None,
                "x1": unbroadcast(xp.where(condition, g, 0), _shape(x1)) if _is_float(x1) else None,
                "x2": unbroadcast(xp.where(condition, 0, g), _shape(x2)) if _is_float(x2) else None}
    return xp.where(condition, x1, x2), backward


def _clip_dtype(dtypes, arguments):
    name = _first_dtype(dtypes, arguments)
    return "int32" if name == "bool" else name


@operation("x", "x_min", "x_max", shape=elementwise, dtype=_clip_dtype)
def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]`` (``min(max(x, x_min), x_max)``, broadcast; the output has ``x``'s
    dtype). ``x`` gets the gradient inside the bounds (included), a tensor bound where it is the output."""
    xp = xp_of(x, x_min, x_max)
    x = xp.asarray(x)
    raised = xp.maximum(x, x_min)
    out = xp.minimum(raised, x_max)
    dtype = "int32" if x.dtype == bool else x.dtype

    def backward(g):
        above = raised > x_max
        below = (x < x_min) & ~above
        return {"x": unbroadcast(xp.where(above | below, 0, g), _shape(x)) if _is_float(x) else None,
                "x_min": unbroadcast(xp.where(below, g, 0), _shape(x_min)) if _is_float(x_min) else None,
                "x_max": unbroadcast(xp.where(above, g, 0), _shape(x_max)) if _is_float(x_max) else None}
    return out.astype(dtype, copy=False), backward


def _extremum2(x1, x2, wins):
    xp = xp_of(x1, x2)
    out = xp.maximum(x1, x2) if wins == "larger" else xp.minimum(x1, x2)

    def backward(g):
        first = (x1 > x2) if wins == "larger" else (x1 < x2)
        share = xp.where(first, 1.0, xp.where(x1 == x2, 0.5, 0.0)).astype(g.dtype, copy=False)
        return {"x1": unbroadcast(g * share, _shape(x1)) if _is_float(x1) else None,
                "x2": unbroadcast(g * (1 - share), _shape(x2)) if _is_float(x2) else None}
    return out, backward


@operation("x1", "x2", shape=elementwise)
def maximum(x1, x2):
    """The larger of ``x1`` and ``x2``, element-wise, broadcast (on a tie each gets half of the gradient)."""
    return _extremum2(x1, x2, "larger")


@operation("x1", "x2", shape=elementwise)
def minimum(x1, x2):
    """The smaller of ``x1`` and ``x2``, element-wise, broadcast (on a tie each gets half of the gradient)."""
    return _extremum2(x1, x2, "smaller")


# ---- element-wise math ---------------------------------------------------------------------------------------
@operation("x", shape=elementwise)
def sign(x):
    """-1, 0 or 1 by the sign of ``x`` (zero gradient)."""
    return xp_of(x).sign(x), lambda g: {"x": _zero_grad(x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def log1p(x):
    """``log(1 + x)``, accurate for small ``x``."""
    x = _floating(x)
    return xp_of(x).log1p(x), lambda g: {"x": g / (1 + x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def expm1(x):
    """``exp(x) - 1``, accurate for small ``x``."""
    x = _floating(x)
    out = xp_of(x).expm1(x)
    return out, lambda g: {"x": g * (out + 1)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def reciprocal(x):
    """``1 / x``."""
    x = _floating(x)
    out = 1 / x
    return out, lambda g: {"x": -g * out * out}


@operation("x", shape=elementwise, dtype=_float_dtype)
def sin(x):
    """The sine."""
    x = _floating(x)
    return xp_of(x).sin(x), lambda g: {"x": g * xp_of(x).cos(x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def cos(x):
    """The cosine."""
    x = _floating(x)
    return xp_of(x).cos(x), lambda g: {"x": -g * xp_of(x).sin(x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def erf(x):
    """The error function (``nnkit.backend.erf``)."""
    x = _floating(x)
    scale = 2 / math.sqrt(math.pi)
    return backend.erf(x), lambda g: {"x": g * scale * xp_of(x).exp(-x * x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def floor(x):
    """The largest integer not above ``x`` (as a float; zero gradient)."""
    x = _floating(x)
    return xp_of(x).floor(x), lambda g: {"x": _zero_grad(x)}


@operation("x", shape=elementwise, dtype=_float_dtype)
def ceil(x):
    """The smallest integer not below ``x`` (as a float; zero gradient)."""
    x = _floating(x)
    return xp_of(x).ceil(x), lambda g: {"x": _zero_grad(x)}


@operation("x", shape=elementwise)
def round(x, decimals=0):
    """``x`` rounded to ``decimals`` decimals, halves to even (zero gradient)."""
    return xp_of(x).round(x, decimals), lambda g: {"x": _zero_grad(x)}


@operation("x1", "x2", shape=elementwise)
def floor_divide(x1, x2):
    """``floor(x1 / x2)``, broadcast (zero gradient)."""
    return xp_of(x1, x2).floor_divide(x1, x2), lambda g: {"x1": _zero_grad(x1), "x2": _zero_grad(x2)}


def _mod_dtype(dtypes, arguments):
    name = _result_dtype(dtypes)
    return "int32" if name == "bool" else name


@operation("x1", "x2", shape=elementwise, dtype=_mod_dtype)
def mod(x1, x2):
    """``x1 - floor(x1 / x2) * x2``, broadcast (the sign of ``x2``, as Python's ``%``). Gradients: ``1`` for
    ``x1``, ``-floor(x1 / x2)`` for ``x2``."""
    xp = xp_of(x1, x2)
    if all(isinstance(v, bool) or getattr(v, "dtype", None) == bool for v in (x1, x2)):
        x1 = xp.asarray(x1, dtype="int32")
    out = xp.mod(x1, x2)

    def backward(g):
        return {"x1": unbroadcast(g, _shape(x1)) if _is_float(x1) else None,
                "x2": unbroadcast(-g * xp.floor_divide(x1, x2), _shape(x2)) if _is_float(x2) else None}
    return out, backward


# ---- scans and reductions ------------------------------------------------------------------------------------
def _cumsum_shape(x, axis=None, dtype=None):
    if axis is None:
        return (None,) if None in x else (math.prod(x),)
    normalize_axis(axis, len(x))
    return x


def _cumsum_dtype(dtypes, arguments):
    name = numpy.dtype(arguments["dtype"]).name if arguments["dtype"] is not None else _first_dtype(dtypes, arguments)
    return "int32" if name == "bool" else name


@operation("x", shape=_cumsum_shape, dtype=_cumsum_dtype)
def cumsum(x, axis=None, dtype=None):
    """The running sum along ``axis`` (of the flattened ``x`` when None), in ``dtype`` (default ``x``'s; bools
    sum as int32)."""
    xp = xp_of(x)
    x = xp.asarray(x)
    dtype = numpy.dtype(dtype) if dtype is not None else (numpy.dtype("int32") if x.dtype == bool else x.dtype)
    out = xp.cumsum(x, axis=axis, dtype=dtype)

    def backward(g):
        if not (_is_float(x) and dtype.kind == "f"):
            return {"x": None}
        along = 0 if axis is None else axis
        grad = xp.flip(xp.cumsum(xp.flip(g, along), axis=along), along)
        return {"x": grad.reshape(x.shape).astype(x.dtype, copy=False)}
    return out, backward


def _prod_dtype(dtypes, arguments):
    if arguments["dtype"] is not None:
        return numpy.dtype(arguments["dtype"]).name
    name = _first_dtype(dtypes, arguments)
    return {"bool": "int32", "int8": "int32", "int16": "int32", "uint8": "uint32", "uint16": "uint32"}.get(name, name)


@operation("x", shape=_reduction_shape, dtype=_prod_dtype)
def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis`` (all axes when None). The gradient of each entry is the product of the others
    (exact with zeros)."""
    xp = xp_of(x)
    axes = normalize_axis(axis, x.ndim)
    if dtype is None:
        dtype = _prod_dtype([x.dtype.name], {"dtype": None})
    out = xp.prod(x, axis=axes, keepdims=keepdims, dtype=numpy.dtype(dtype))

    def backward(g):
        if not (_is_float(x) and out.dtype.kind == "f"):
            return {"x": None}
        inner = tuple(range(x.ndim - len(axes), x.ndim))
        moved = xp.moveaxis(x, axes, inner)
        rest, count = moved.shape[:x.ndim - len(axes)], math.prod(moved.shape[x.ndim - len(axes):])
        if count == 0:
            return {"x": xp.zeros(x.shape, g.dtype)}
        flat = moved.reshape(rest + (count,)).astype(g.dtype, copy=False)
        ones = xp.ones(rest + (1,), g.dtype)
        before = xp.concatenate([ones, xp.cumprod(flat[..., :-1], axis=-1)], axis=-1)
        after = xp.flip(xp.concatenate([ones, xp.cumprod(xp.flip(flat, -1)[..., :-1], axis=-1)], axis=-1), -1)
        grad = (g.reshape(rest + (1,)) * before * after).reshape(moved.shape)
        return {"x": xp.moveaxis(grad, inner, axes)}
    return out, backward


def _moments(x, axis):
    x = _floating(x)
    axes = normalize_axis(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    centered = x - x.mean(axis=axes, keepdims=True)
    return x, axes, count, centered, (centered * centered).mean(axis=axes, keepdims=True)


@operation("x", shape=_reduction_shape, dtype=_float_dtype)
def var(x, axis=None, keepdims=False):
    """The variance over ``axis`` (all axes when None; the biased estimate, ``ddof=0``)."""
    x, axes, count, centered, variance = _moments(x, axis)
    out = variance if keepdims else variance.reshape(reduced_shape(x.shape, axes, False))
    return out, lambda g: {"x": _spread(g, x.shape, axes, keepdims) * centered * (2 / builtins.max(count, 1))}


@operation("x", shape=_reduction_shape, dtype=_float_dtype)
def std(x, axis=None, keepdims=False):
    """The standard deviation over ``axis`` (all axes when None; ``ddof=0``); zero gradient where it is 0."""
    xp = xp_of(x)
    x, axes, count, centered, variance = _moments(x, axis)
    deviation = xp.sqrt(variance)
    out = deviation if keepdims else deviation.reshape(reduced_shape(x.shape, axes, False))

    def backward(g):
        scale = xp.where(deviation > 0, 1 / (count * xp.where(deviation > 0, deviation, 1)), 0)
        return {"x": _spread(g, x.shape, axes, keepdims) * centered * scale}
    return out, backward


@operation("x", shape=_reduction_shape, dtype=_float_dtype)
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis`` (all axes when None), computed stably; the gradient is the softmax."""
    xp = xp_of(x)
    x = _floating(x)
    axes = normalize_axis(axis, x.ndim)
    peak = x.max(axis=axes, keepdims=True) if x.size else xp.zeros(reduced_shape(x.shape, axes, True), x.dtype)
    peak = xp.where(xp.isfinite(peak), peak, 0)
    total = xp.log(xp.exp(x - peak).sum(axis=axes, keepdims=True)) + peak
    out = total if keepdims else total.reshape(reduced_shape(x.shape, axes, False))
    return out, lambda g: {"x": _spread(g, x.shape, axes, keepdims) * xp.exp(x - total)}


def _arg_shape(x, axis=None, keepdims=False):
    if axis is None:
        return (1,) * len(x) if keepdims else ()
    return reduced_shape(x, axis, keepdims)


def _arg_extremum(x, axis, keepdims, function):
    xp = xp_of(x)
    if axis is None and keepdims:
        out = function(x.reshape(-1)).reshape((1,) * x.ndim)
    else:
        out = function(x, axis=axis, keepdims=keepdims) if axis is not None else function(x)
    return xp.asarray(out).astype("int32"), lambda g: {"x": None}


@operation("x", shape=_arg_shape, dtype=_int32_dtype)
def argmax(x, axis=None, keepdims=False):
    """The index of the largest entry along ``axis`` (of the flattened ``x`` when None); int32, no gradient."""
    return _arg_extremum(x, axis, keepdims, xp_of(x).argmax)


@operation("x", shape=_arg_shape, dtype=_int32_dtype)
def argmin(x, axis=None, keepdims=False):
    """The index of the smallest entry along ``axis`` (of the flattened ``x`` when None); int32, no gradient."""
    return _arg_extremum(x, axis, keepdims, xp_of(x).argmin)


def _count_nonzero_shape(x, axis=None):
    return reduced_shape(x, axis, False)


@operation("x", shape=_count_nonzero_shape, dtype=_int32_dtype)
def count_nonzero(x, axis=None):
    """The number of non-zero entries over ``axis`` (all axes when None); int32, no gradient."""
    x = xp_of(x).asarray(x)
    axes = normalize_axis(axis, x.ndim)
    return (x != 0).sum(axis=axes).astype("int32"), lambda g: {"x": None}


# ---- norms ---------------------------------------------------------------------------------------------------
_MATRIX_ORDS = (None, "fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def _norm_axes(ndim, ord, axis):
    """The axes a norm reduces (in the order given: it matters for matrix norms) and whether it is a matrix norm."""
    if axis is None:
        if ord is None:
            return tuple(range(ndim)), False
        if ndim not in (1, 2):
            raise ValueError(f"nnkit.ops.norm: with ord={ord!r} and axis=None, x must be 1-D or 2-D; "
                             f"received a tensor of rank {ndim}.")
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(normalize_axis(a, ndim)[0] for a in axes)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"Invalid `ord` argument for vector norm. Received: ord={ord}")
        return axes, False
    if len(axes) == 2 and axes[0] != axes[1]:
        if ord not in _MATRIX_ORDS:
            raise ValueError(f"Invalid `ord` argument for matrix norm. Received: ord={ord}")
        return axes, True
    raise ValueError(f"nnkit.ops.norm: axis must be an int or a pair of distinct axes; received axis={axis!r}.")


def _norm_shape(x, ord=None, axis=None, keepdims=False):
    axes, _ = _norm_axes(len(x), ord, axis)
    return reduced_shape(x, axes, keepdims)


def _tied_share(values, extreme, axes):
    hits = values == extreme
    return hits / hits.sum(axis=axes, keepdims=True)


def _vector_norm(x, ord, axes):
    """``(norm with keepdims, backward(g with keepdims))`` of a vector norm over ``axes``."""
    xp = xp_of(x)
    magnitude = xp.abs(x)
    if ord is None or ord == 2:
        out = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        return out, lambda g: g * x * xp.where(out > 0, 1 / xp.where(out > 0, out, 1), 0)
    if ord == 1:
        return magnitude.sum(axis=axes, keepdims=True), lambda g: g * xp.sign(x)
    if ord in (math.inf, -math.inf):
        out = (magnitude.max if ord > 0 else magnitude.min)(axis=axes, keepdims=True)
        return out, lambda g: g * xp.sign(x) * _tied_share(magnitude, out, axes).astype(x.dtype, copy=False)
    if ord == 0:
        return (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype), lambda g: xp.zeros_like(x)
    p = float(ord)
    out = ((magnitude ** p).sum(axis=axes, keepdims=True)) ** (1 / p)
    return out, lambda g: g * xp.sign(x) * magnitude ** (p - 1) * out ** (1 - p)


def _matrix_norm(x, ord, axes):
    """``(norm with keepdims, backward(g with keepdims))`` of a matrix norm over ``axes`` (rows, columns)."""
    xp = xp_of(x)
    if ord in (None, "fro"):
        return _vector_norm(x, None, tuple(sorted(axes)))
    rows, columns = axes
    kept = reduced_shape(x.shape, axes, True)
    if ord in (1, -1, math.inf, -math.inf):
        summed, over = (rows, columns) if ord in (1, -1) else (columns, rows)
        totals = xp.abs(x).sum(axis=summed, keepdims=True)
        out = (totals.max if ord > 0 else totals.min)(axis=over, keepdims=True)
        return out, lambda g: g * xp.sign(x) * _tied_share(totals, out, over).astype(x.dtype, copy=False)
    moved = xp.moveaxis(x, axes, (-2, -1))
    u, s, vh = xp.linalg.svd(moved, full_matrices=False)
    if ord == "nuc":
        out, direction = s.sum(axis=-1), u @ vh
    else:
        k = 0 if ord == 2 else -1
        out, direction = s[..., k], u[..., :, k:k + 1 if k == 0 else None] @ vh[..., k:k + 1 if k == 0 else None, :]

    def backward(g):
        return xp.moveaxis(g.reshape(out.shape + (1, 1)) * direction, (-2, -1), axes)
    return out.reshape(kept), backward


@operation("x", shape=_norm_shape, dtype=_float_dtype)
def norm(x, ord=None, axis=None, keepdims=False):
    """A vector or matrix norm (``keras.ops.norm``, in Keras' linalg): over one axis the vector norms (``ord``
    None or 2, 1, inf, -inf, 0, any p), over two axes the matrix norms (None or "fro", "nuc", 1, -1, inf, -inf,
    2, -2); with ``axis=None`` and ``ord=None`` the 2-norm of all entries."""
    x = _floating(x)
    axes, matrix = _norm_axes(x.ndim, ord, axis)
    out, backward = (_matrix_norm if matrix else _vector_norm)(x, ord, axes)
    kept = out.shape
    if not keepdims:
        out = out.reshape(reduced_shape(x.shape, axes, False))
    return out, lambda g: {"x": backward(g.reshape(kept))}


# ---- indexing ------------------------------------------------------------------------------------------------
def _nested_shape(value):
    """The shape of an index argument as the shape rule sees it: a tensor's shape, or the nesting of a Python
    list of numbers (whose leaves arrive as the shape ``()``)."""
    if value is None:
        return ()
    if isinstance(value, list) or (isinstance(value, tuple) and any(isinstance(v, (tuple, list)) for v in value)):
        return (len(value),) + (_nested_shape(value[0]) if value else ())
    return tuple(value)


def _as_indices(indices, xp):
    indices = xp.asarray(indices)
    return indices if indices.dtype.kind in "iu" else indices.astype("int64")


def _one_hot_axis(axis, ndim):
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"axis must be -1 or between [0, {ndim}), but received {axis}.")
    return axis % (ndim + 1)


def _one_hot_shape(x, num_classes, axis=-1, dtype=None, sparse=False):
    shape = list(x)
    shape.insert(_one_hot_axis(axis, len(x)), num_classes)
    return tuple(shape)


def _one_hot_dtype(dtypes, arguments):
    return numpy.dtype(arguments["dtype"] or backend.floatx()).name


@operation("x", shape=_one_hot_shape, dtype=_one_hot_dtype)
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """The one-hot encoding of the integers ``x`` (a new axis of ``num_classes`` at ``axis``; entries outside
    ``[0, num_classes)`` encode as zeros), in ``dtype`` (default floatx). No gradient; ``sparse`` is refused."""
    if sparse:
        raise ValueError("nnkit.ops.one_hot: sparse=True is not supported (nnkit has no sparse tensors).")
    xp = xp_of(x)
    x = _as_indices(x, xp)
    out = (x[..., None] == xp.arange(num_classes)).astype(numpy.dtype(dtype or backend.floatx()))
    return xp.moveaxis(out, -1, _one_hot_axis(axis, x.ndim)), lambda g: {"x": None}


def _take_shape(x, indices, axis=None):
    indices = _nested_shape(indices)
    if axis is None:
        return indices
    axis = normalize_axis(axis, len(x))[0]
    return tuple(x[:axis]) + indices + tuple(x[axis + 1:])


@operation("x", "indices", shape=_take_shape, dtype=_first_dtype)
def take(x, indices, axis=None):
    """The entries of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when None); negative indices
    count from the end. Repeated indices sum their gradients; ``indices`` get none."""
    xp = xp_of(x)
    indices = _as_indices(indices, xp)
    out = xp.take(x, indices, axis=axis)

    def backward(g):
        if not _is_float(x):
            return {"x": None, "indices": None}
        if axis is None:
            grad = xp.zeros(x.size, g.dtype)
            backend.scatter_add(grad, indices.reshape(-1), g.reshape(-1))
            return {"x": grad.reshape(x.shape), "indices": None}
        a = normalize_axis(axis, x.ndim)[0]
        span = tuple(range(a, a + indices.ndim))
        moved = xp.moveaxis(g, span, tuple(range(indices.ndim)))
        grad = xp.zeros((x.shape[a],) + x.shape[:a] + x.shape[a + 1:], g.dtype)
        backend.scatter_add(grad, indices.reshape(-1), moved.reshape((indices.size,) + grad.shape[1:]))
        return {"x": xp.moveaxis(grad, 0, a), "indices": None}
    return out, backward


def _take_along_axis_shape(x, indices, axis=None):
    if axis is None:
        return tuple(indices)
    if len(x) != len(indices):
        raise ValueError(f"take_along_axis: x and indices must have the same rank; received shapes {x} and "
                         f"{indices}.")
    axis = normalize_axis(axis, len(x))[0]
    shape = broadcast_shapes(x[:axis] + (1,) + x[axis + 1:], indices[:axis] + (1,) + indices[axis + 1:])
    return shape[:axis] + (indices[axis],) + shape[axis + 1:]


@operation("x", "indices", shape=_take_along_axis_shape, dtype=_first_dtype)
def take_along_axis(x, indices, axis=None):
    """``x``'s entries at ``indices`` along ``axis`` (NumPy's ``take_along_axis``; the flattened ``x`` when
    None); the other axes broadcast. Repeated indices sum their gradients; ``indices`` get none."""
    xp = xp_of(x)
    indices = _as_indices(indices, xp)
    source = x.reshape(-1) if axis is None else x
    a = 0 if axis is None else normalize_axis(axis, x.ndim)[0]
    out = xp.take_along_axis(source, indices, axis=a)

    def backward(g):
        if not _is_float(x):
            return {"x": None, "indices": None}
        # the flat position in ``source`` of each output entry (the other axes broadcast), then one 1-D scatter
        positions, stride = 0, 1
        for d in reversed(range(source.ndim)):
            size = source.shape[d]
            along = xp.where(indices < 0, indices + size, indices) if d == a else \
                xp.arange(size).reshape((-1,) + (1,) * (source.ndim - d - 1))
            positions = positions + along * stride
            stride *= size
        positions = xp.broadcast_to(positions, g.shape)
        grad = xp.zeros(source.size, g.dtype)
        backend.scatter_add(grad, positions.reshape(-1), g.reshape(-1))
        return {"x": grad.reshape(x.shape), "indices": None}
    return out, backward


# ---- repetition, splitting, stacking -------------------------------------------------------------------------
def _tile_layout(shape, repeats):
    repeats = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    rank = builtins.max(len(shape), len(repeats))
    return (1,) * (rank - len(shape)) + tuple(shape), (1,) * (rank - len(repeats)) + repeats


def _tile_shape(x, repeats):
    shape, repeats = _tile_layout(x, repeats)
    return tuple(None if size is None else size * r for size, r in zip(shape, repeats))


@operation("x", shape=_tile_shape)
def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (NumPy's ``tile``); the gradient sums the copies."""
    xp = xp_of(x)
    shape, reps = _tile_layout(x.shape, repeats)

    def backward(g):
        interleaved = tuple(size for pair in zip(reps, shape) for size in pair)
        grad = g.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(shape), 2)))
        return {"x": grad.reshape(x.shape)}
    return xp.tile(x, reps), backward


def _repeat_counts(repeats):
    if isinstance(repeats, int):
        return repeats
    counts = [int(r) for r in numpy.asarray(backend.to_host(repeats)).reshape(-1)]
    return counts[0] if len(counts) == 1 else counts


def _repeat_shape(x, repeats, axis=None):
    counts = _repeat_counts(repeats)
    if axis is None:
        size = None if None in x else math.prod(x)
    else:
        axis = normalize_axis(axis, len(x))[0]
        size = x[axis]
    if isinstance(counts, int):
        total = None if size is None else size * counts
    else:
        if size is not None and size != len(counts):
            raise ValueError(f"repeat: {len(counts)} repeats for an axis of size {size}.")
        total = builtins.sum(counts)
    return (total,) if axis is None else tuple(x[:axis]) + (total,) + tuple(x[axis + 1:])


@operation("x", shape=_repeat_shape)
def repeat(x, repeats, axis=None):
    """Each entry of ``x`` repeated ``repeats`` times (an int, or one count per entry) along ``axis`` (of the
    flattened ``x`` when None); the gradient sums the copies."""
    xp = xp_of(x)
    counts = _repeat_counts(repeats)
    source = x.reshape(-1) if axis is None else x
    a = 0 if axis is None else normalize_axis(axis, x.ndim)[0]
    out = xp.repeat(source, counts, axis=a)  # counts: an int or a Python list (what CuPy's repeat takes)

    def backward(g):
        if isinstance(counts, int):
            grad = g.reshape(source.shape[:a] + (source.shape[a], counts) + source.shape[a + 1:]).sum(axis=a + 1)
        else:
            owners = xp.repeat(xp.arange(source.shape[a]), counts)
            grad = xp.zeros((source.shape[a],) + source.shape[:a] + source.shape[a + 1:], g.dtype)
            backend.scatter_add(grad, owners, xp.moveaxis(g, a, 0))
            grad = xp.moveaxis(grad, 0, a)
        return {"x": grad.reshape(x.shape)}
    return out, backward


def _split_sizes(size, indices_or_sections):
    """The sizes of the pieces of an axis of ``size`` (None: unknown) as NumPy's ``split`` cuts it."""
    if isinstance(indices_or_sections, int):
        if size is None:
            return [None] * indices_or_sections
        if size % indices_or_sections:
            raise ValueError(f"split: an axis of size {size} does not split into {indices_or_sections} equal "
                             f"sections.")
        return [size // indices_or_sections] * indices_or_sections
    points = [int(i) for i in indices_or_sections]
    if size is not None:
        bounds = [0] + points + [size]
        return [len(range(size)[start:stop]) for start, stop in zip(bounds, bounds[1:])]
    bounds = [0] + points
    known = [builtins.max(0, stop - start) if start >= 0 and stop >= 0 else None
             for start, stop in zip(bounds, bounds[1:])]
    return known + [None]


def _split_shape(x, indices_or_sections, axis=0):
    axis = normalize_axis(axis, len(x))[0]
    return [tuple(x[:axis]) + (size,) + tuple(x[axis + 1:]) for size in _split_sizes(x[axis], indices_or_sections)]


@operation("x", shape=_split_shape)
def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` equal pieces (an int) or at the given indices: a
    list of tensors, whose gradients are joined back."""
    xp = xp_of(x)
    a = normalize_axis(axis, x.ndim)[0]
    pieces = xp.split(x, indices_or_sections if isinstance(indices_or_sections, int)
                      else [int(i) for i in indices_or_sections], axis=a)

    def backward(gs):
        dtype = next((g.dtype for g in gs if g is not None), x.dtype)
        gs = [xp.zeros(piece.shape, dtype) if g is None else g for g, piece in zip(gs, pieces)]
        return {"x": xp.concatenate(gs, axis=a)}
    return list(pieces), backward


def _stack_shape(x, axis=0):
    shape = broadcast_shapes(*x)
    if builtins.any(len(s) != len(shape) for s in x):
        raise ValueError(f"stack: every tensor must have the same shape; received {list(x)}.")
    shape = list(shape)
    shape.insert(normalize_axis(axis, len(shape) + 1)[0], len(x))
    return tuple(shape)


@operation("x", shape=_stack_shape)
def stack(x, axis=0):
    """The tensors ``x`` (of one shape) joined along a new axis ``axis``."""
    xp = xp_of(*x)
    x = [xp.asarray(item) for item in x]
    a = normalize_axis(axis, x[0].ndim + 1)[0]

    def backward(g):
        return {"x": [g[(slice(None),) * a + (i,)] for i in range(len(x))]}
    return xp.stack(x, axis=a), backward


# ---- products: einsum and dot --------------------------------------------------------------------------------
def _letter_sizes(specs, shapes):
    """``{letter: size}`` over the operands (a size of 1 broadcasts; None where none is known)."""
    sizes = {}
    for spec, shape in zip(specs, shapes):
        for letter, size in zip(spec, shape):
            known = sizes.get(letter, 1)
            if size is None:
                sizes[letter] = known if known not in (1, None) else None
            elif size != 1:
                if known not in (1, None) and known != size:
                    raise ValueError(f"einsum: the size of '{letter}' is {known} in one operand and {size} in "
                                     f"another.")
                sizes[letter] = size
            else:
                sizes.setdefault(letter, 1)
    return sizes


@functools.lru_cache(maxsize=None)
def parse_einsum(subscripts, ranks):
    """``(specs, output)``: the equation ``subscripts`` for operands of ``ranks``, spelled out: the ellipsis
    replaced by unused letters (right-aligned, as NumPy broadcasts it), the implicit output (``"ij,jk"``) made
    explicit (its ellipsis, then the letters seen once, in alphabetical order)."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(ranks):
        raise ValueError(f"einsum: {subscripts!r} names {len(specs)} operands; received {len(ranks)}.")
    if any(not (c.isalpha() or c in ",.->") for c in subscripts) or any(s.count("...") > 1 or
                                                                       s.replace("...", "").count(".")
                                                                       for s in specs + [output]):
        raise ValueError(f"einsum: invalid subscripts {subscripts!r}.")
    free = [c for c in string.ascii_letters if c not in subscripts]
    elided = [rank - len(spec) + 3 for spec, rank in zip(specs, ranks) if "..." in spec]
    width = builtins.max(elided, default=0)
    broadcast = "".join(free[:width])
    spelled = []
    for spec, rank in zip(specs, ranks):
        if "..." in spec:
            count = rank - len(spec) + 3
            if count < 0:
                raise ValueError(f"einsum: operand spec {spec!r} has more letters than the operand's {rank} axes.")
            spec = spec.replace("...", broadcast[width - count:])
        if len(spec) != rank:
            raise ValueError(f"einsum: operand spec {spec!r} does not fit an operand of rank {rank}.")
        spelled.append(spec)
    if arrow:
        output = output.replace("...", broadcast)
    else:
        counts = collections.Counter("".join(spelled))
        output = broadcast + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in broadcast))
    if len(set(output)) != len(output) or any(c not in "".join(spelled) for c in output):
        raise ValueError(f"einsum: invalid output subscripts in {subscripts!r}.")
    return tuple(spelled), output


@functools.lru_cache(maxsize=None)
def einsum_gradient_equation(specs, output, index, shapes):
    """The backward of ``z = einsum(",".join(specs) + "->" + output, *operands)`` for operand ``index`` of the
    operands of ``shapes``: ``(equation, extra, dropped)``. ``einsum(equation, *others, dz, *identities)``, with
    an identity matrix of each size in ``extra`` (one per letter repeated within the operand: its diagonal),
    is the gradient once the axes ``dropped`` (summed by this operand alone, or broadcast from size 1) are put
    back by broadcasting. For two operands without repeated letters or broadcasting it is the equation of
    ``nnkit.layers.einsum_dense.einsum_gradient_equations``."""
    spec, shape = specs[index], shapes[index]
    others = [s for i, s in enumerate(specs) if i != index]
    elsewhere = set("".join(others) + output)
    sizes = _letter_sizes(specs, shapes)
    fresh = iter(c for c in string.ascii_letters if c not in "".join(specs) + output)
    result, identities, extra, dropped, seen = [], [], [], [], set()
    for position, letter in enumerate(spec):
        if letter in seen:
            renamed = next(fresh)
            identities.append(letter + renamed)
            extra.append(shape[position])
            result.append(renamed)
        elif spec.count(letter) > 1:
            seen.add(letter)
            result.append(letter)
        elif letter not in elsewhere or (shape[position] == 1 and sizes[letter] != 1):
            dropped.append(position)
        else:
            result.append(letter)
    equation = ",".join(others + [output] + identities) + "->" + "".join(result)
    return equation, tuple(extra), tuple(dropped)


def _einsum_flags(specs, shapes):
    sizes = _letter_sizes(specs, shapes)
    return math.prod(size or 1 for size in sizes.values()) >= (1 << 17)


def _einsum_backward(specs, output, operands):
    """The backward of ``einsum`` (spelled-out ``specs -> output``) on ``operands``: each operand's gradient is
    the einsum of the others with the output gradient (``einsum_gradient_equation``), as a function computed only
    where the gradient is needed (as ``matmul``'s: a layer's data needs none)."""
    shapes = tuple(tuple(a.shape) for a in operands)
    optimize = len(operands) > 2 or _einsum_flags(specs, shapes)

    def gradient(g, index):
        xp = xp_of(g)
        operand = operands[index]
        equation, extra, dropped = einsum_gradient_equation(specs, output, index, shapes)
        others = [a for i, a in enumerate(operands) if i != index]
        identities = [xp.eye(size, dtype=g.dtype) for size in extra]
        grad = xp.einsum(equation, *others, g, *identities, optimize=optimize)
        if dropped:
            kept = [size for position, size in enumerate(operand.shape) if position not in dropped]
            full = [1 if position in dropped else kept.pop(0) for position in range(operand.ndim)]
            grad = xp.broadcast_to(grad.reshape(full), operand.shape)
        return grad.astype(operand.dtype, copy=False)

    def backward(g):
        return [functools.partial(gradient, g, index) if _is_float(operand) else None
                for index, operand in enumerate(operands)]
    return backward


def _einsum_shape(subscripts, operands):
    specs, output = parse_einsum(subscripts, tuple(len(shape) for shape in operands))
    sizes = _letter_sizes(specs, operands)
    return tuple(sizes[letter] for letter in output)


@operation("operands", shape=_einsum_shape)
def _einsum(subscripts, operands):
    """``einsum(subscripts, *operands)`` with the operands as one list (the op behind ``einsum``)."""
    xp = xp_of(*operands)
    operands = [xp.asarray(a) for a in operands]
    specs, output = parse_einsum(subscripts, tuple(a.ndim for a in operands))
    equation = ",".join(specs) + "->" + output
    shapes = tuple(tuple(a.shape) for a in operands)
    out = xp.einsum(equation, *operands, optimize=len(operands) > 2 or _einsum_flags(specs, shapes))
    backward = _einsum_backward(specs, output, operands)
    return out, lambda g: {"operands": backward(g)}


_einsum.name = "einsum"


def einsum(subscripts, *operands):
    """Einstein summation (NumPy's ``einsum``): ellipses, implicit outputs, repeated letters (diagonals, traces)
    and size-1 broadcasting. The gradient of each operand is the einsum of the others with the output's
    gradient, the operand's subscripts as the output (a diagonal through an identity matrix)."""
    return _einsum(subscripts, list(operands))


def _dot_equation(rank1, rank2):
    letters = string.ascii_letters
    a = letters[:rank1]
    if rank2 == 1:
        return (a, a[-1]), a[:-1]
    b = letters[rank1:rank1 + rank2 - 2] + a[-1] + letters[rank1 + rank2 - 2]
    return (a, b), a[:-1] + b[:-2] + b[-1]


def _dot_shape(x1, x2):
    if not x1 or not x2:
        return broadcast_shapes(x1, x2)
    if x1[-1] is not None and x2[-1 if len(x2) == 1 else -2] not in (None, x1[-1]):
        raise ValueError(f"dot: shapes {x1} and {x2} do not fit (the last axis of x1 against the "
                         f"{'only' if len(x2) == 1 else 'second to last'} axis of x2).")
    if len(x2) == 1:
        return tuple(x1[:-1])
    return tuple(x1[:-1]) + tuple(x2[:-2]) + (x2[-1],)


@operation("x1", "x2", shape=_dot_shape)
def dot(x1, x2):
    """NumPy's ``dot``: a product with a scalar, the inner product of vectors, the matrix product, or for N-d
    arrays the sum over ``x1``'s last axis and ``x2``'s second to last (its only one if 1-D)."""
    if _shape(x1) in (None, ()) or _shape(x2) in (None, ()):
        return multiply.function(x1, x2)
    xp = xp_of(x1, x2)
    specs, output = _dot_equation(x1.ndim, x2.ndim)
    backward = _einsum_backward(specs, output, [x1, x2])

    def gradients(g):
        d1, d2 = backward(g)
        return {"x1": d1, "x2": d2}
    return xp.dot(x1, x2), gradients


# ---- axes ----------------------------------------------------------------------------------------------------
def _swapaxes_shape(x, axis1, axis2):
    shape = list(x)
    a, b = normalize_axis(axis1, len(x))[0], normalize_axis(axis2, len(x))[0]
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


@operation("x", shape=_swapaxes_shape)
def swapaxes(x, axis1, axis2):
    """``x`` with axes ``axis1`` and ``axis2`` interchanged."""
    return xp_of(x).swapaxes(x, axis1, axis2), lambda g: {"x": xp_of(g).swapaxes(g, axis1, axis2)}


def _moveaxis_order(ndim, source, destination):
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length.")
    source = [normalize_axis(a, ndim)[0] for a in source]
    destination = [normalize_axis(a, ndim)[0] for a in destination]
    order = [a for a in range(ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return order


def _moveaxis_shape(x, source, destination):
    return tuple(x[a] for a in _moveaxis_order(len(x), source, destination))


@operation("x", shape=_moveaxis_shape)
def moveaxis(x, source, destination):
    """``x`` with its axes ``source`` moved to positions ``destination`` (ints or sequences), the others in
    order."""
    order = _moveaxis_order(x.ndim, source, destination)
    inverse = sorted(range(x.ndim), key=order.__getitem__)
    return x.transpose(order), lambda g: {"x": g.transpose(inverse)}


def _flip_shape(x, axis=None):
    normalize_axis(axis, len(x))
    return tuple(x)


@operation("x", shape=_flip_shape)
def flip(x, axis=None):
    """``x`` with the order of its entries reversed along ``axis`` (an int, a tuple; all axes when None)."""
    xp = xp_of(x)
    axes = normalize_axis(axis, x.ndim)
    return xp.flip(x, axes), lambda g: {"x": xp.flip(g, axes)}


# ---- padding -------------------------------------------------------------------------------------------------
_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")
_PAD_MODES = ("constant", "empty", "circular", "linear_ramp", "maximum", "mean", "median", "minimum") + _INDEX_MODES


def _pad_pairs(pad_width, ndim):
    """``pad_width`` as ``ndim`` ``(before, after)`` pairs (NumPy's forms: an int, a pair, pairs)."""
    widths = numpy.asarray(backend.to_host(pad_width) if hasattr(pad_width, "shape") else pad_width)
    if widths.dtype.kind not in "iu" and widths.size:
        raise ValueError(f"pad: pad_width must hold integers; received {pad_width!r}.")
    if widths.size == 1:
        widths = widths.reshape(1, 1)
    elif widths.ndim == 1 and widths.size == 2:
        widths = widths.reshape(1, 2)
    try:
        pairs = numpy.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of rank {ndim}.") from None
    if (pairs < 0).any():
        raise ValueError(f"pad: pad widths must not be negative; received {pad_width!r}.")
    return tuple((int(before), int(after)) for before, after in pairs)


def _pad_shape(x, pad_width, mode="constant", constant_values=None):
    pairs = _pad_pairs(pad_width, len(x))
    return tuple(None if size is None else size + before + after for size, (before, after) in zip(x, pairs))


@operation("x", shape=_pad_shape)
def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (``((before, after), ...)``, a pair for every axis, or an int) in NumPy's
    ``mode`` ("circular" is "wrap"). Gradients for "constant", "empty", "edge", "reflect", "symmetric" and
    "wrap" (the padding's copies sum back into their sources); the statistic modes ("mean", "maximum",
    "linear_ramp"...) compute forward only."""
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}; received mode={mode!r}.")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"Argument `constant_values` can only be provided when `mode == 'constant'`. "
                         f"Received: mode={mode}")
    xp = xp_of(x)
    mode = "wrap" if mode == "circular" else mode
    pairs = _pad_pairs(pad_width, x.ndim)
    options = {"constant_values": constant_values} if constant_values is not None else {}
    out = xp.pad(x, pairs, mode=mode, **options)

    def backward(g):
        if not _is_float(x):
            return {"x": None}
        if mode in ("constant", "empty"):
            return {"x": g[tuple(slice(before, before + size) for (before, _), size in zip(pairs, x.shape))]}
        if mode not in _INDEX_MODES:
            raise NotImplementedError(f"nnkit.ops.pad: no gradient for mode={mode!r}; use one of "
                                      f"{('constant',) + _INDEX_MODES}.")
        grad = g
        for axis, (pair, size) in enumerate(zip(pairs, x.shape)):
            if pair == (0, 0):
                continue
            sources = xp.asarray(numpy.pad(numpy.arange(size), pair, mode=mode))
            folded = xp.zeros((size,) + grad.shape[:axis] + grad.shape[axis + 1:], g.dtype)
            backend.scatter_add(folded, sources, xp.moveaxis(grad, axis, 0))
            grad = xp.moveaxis(folded, 0, axis)
        return {"x": grad}
    return out, backward


# ---- constants -----------------------------------------------------------------------------------------------
def _full_like_dtype(dtypes, arguments):
    if arguments["dtype"] is not None:
        return numpy.dtype(arguments["dtype"]).name
    return _first_dtype(dtypes, arguments)


def _full_like_shape(x, fill_value, dtype=None):
    return tuple(x)


@operation("x", shape=_full_like_shape, dtype=_full_like_dtype)
def full_like(x, fill_value, dtype=None):
    """An array of ``x``'s shape (and dtype, unless given) filled with ``fill_value``; no gradient."""
    xp = xp_of(x)
    x = xp.asarray(x)
    return xp.full(x.shape, fill_value, dtype=numpy.dtype(dtype) if dtype is not None else x.dtype), \
        lambda g: {"x": None}


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (included unless ``endpoint`` is False), a
    constant backend array (floatx unless ``dtype``); ``(values, step)`` with ``retstep``. ``start`` and ``stop``
    may be arrays, the values then run along ``axis``."""
    def value(v):
        return backend.to_device(numpy.asarray(v)) if isinstance(v, (list, tuple)) else v
    return backend.xp().linspace(value(start), value(stop), num, endpoint=endpoint, retstep=retstep,
                                 dtype=numpy.dtype(dtype or backend.floatx()), axis=axis)
