"""Property tests of the NumPy family of ``nnkit.ops`` (``numpy.py``, ``numpy_more.py`` and the array ops of
``core.py``).

Every op is drawn on random shapes (broadcast shapes for the binary element-wise ones) and checked three ways:

1. forward: against a float64 NumPy reference written here;
2. backward: ``op.function(**args)`` gives ``(output, backward)``; ``backward(upstream)`` for a random upstream
   gradient is compared with float64 central differences of ``sum(output * upstream)`` (arguments without a
   gradient must get None);
3. symbolic: the op on ``nnkit.Input``s (None batch sizes) gives a shape compatible with the eager output's (and
   the exact shape with known batch sizes) and the eager dtype; a ``nnkit.Model`` built from it computes what the
   eager op computes.
"""
import math

import hypothesis.extra.numpy as hnp
import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnkit
from nnkit import backend, ops
from nnkit.layers.einsum_dense import einsum_gradient_equations
from nnkit.ops import core, numpy as base, numpy_more as more

PROPERTY = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EPSILON = 1e-6
MAX_CHECKS = 16  # entries per argument checked by central differences


# ---- drawing arguments -----------------------------------------------------------------------------------------
def shape_of(data, min_dims=1, max_dims=3, min_side=1, max_side=4):
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))


def broadcast_of(data, count=2, min_dims=0, max_dims=3):
    return data.draw(hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=min_dims, max_dims=max_dims,
                                                       min_side=1, max_side=4)).input_shapes


def rng_of(data):
    return numpy.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))


def normal(rng, shape):
    return numpy.asarray(rng.standard_normal(shape))


def away_from_zero(rng, shape, low=0.5, high=2.0):
    return numpy.asarray(rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape))


def axis_of(data, ndim, none=True):
    choices = list(range(-ndim, ndim)) + ([None] if none else [])
    return data.draw(st.sampled_from(choices))


def axes_of(data, ndim):
    """None, an int, or a tuple of distinct axes."""
    kind = data.draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return axis_of(data, ndim, none=False)
    return tuple(data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


def maybe_number(data, array):
    """``array``, or (sometimes, when it is 0-d) a Python float: Python numbers are constants of the op."""
    if numpy.ndim(array) == 0 and data.draw(st.booleans()):
        return float(array)
    return array


# ---- the cases -------------------------------------------------------------------------------------------------
class Case:
    """One op under test: ``draw(data) -> args`` (NumPy arrays and plain values), ``reference(**args)``, the
    tensor arguments that get a gradient (``wrt``; default: the float arrays among the op's tensors)."""

    def __init__(self, name, op, draw, reference, wrt=None, known_dtype_bug=None, rtol=1e-5, atol=1e-6):
        self.name, self.op, self._draw, self.reference = name, op, draw, reference
        self.wrt, self.known_dtype_bug, self.rtol, self.atol = wrt, known_dtype_bug, rtol, atol

    def draw(self, data):
        """The arguments, NumPy scalars (``0-d * 0-d``) as 0-d arrays; Python numbers stay numbers."""
        def array(value):
            if isinstance(value, numpy.generic):
                return numpy.asarray(value)
            if isinstance(value, list) and value and isinstance(value[0], (numpy.ndarray, numpy.generic)):
                return [numpy.asarray(item) for item in value]
            return value
        return {key: array(value) for key, value in self._draw(data).items()}

    def differentiable(self, args):
        """The tensor arguments that get a gradient (None: every float array)."""
        return self.wrt(args) if callable(self.wrt) else self.wrt

    def __repr__(self):
        return self.name


CASES = []


def case(name, op, draw, reference, **options):
    if isinstance(reference, numpy.ufunc):  # ufuncs take no keyword arguments
        reference = (lambda ufunc: lambda **args: ufunc(*args.values()))(reference)
    CASES.append(Case(name, op, draw, reference, **options))


def _binary(data, positive_first=False, nonzero_second=False):
    rng = rng_of(data)
    s1, s2 = broadcast_of(data)
    x1 = rng.uniform(0.5, 2.0, s1) if positive_first else normal(rng, s1)
    x2 = away_from_zero(rng, s2) if nonzero_second else normal(rng, s2)
    return {"x1": x1, "x2": maybe_number(data, x2)}


case("add", base.add, _binary, lambda x1, x2: numpy.add(x1, x2))
case("subtract", base.subtract, _binary, lambda x1, x2: numpy.subtract(x1, x2))
case("multiply", base.multiply, _binary, lambda x1, x2: numpy.multiply(x1, x2))
case("divide", base.divide, lambda d: _binary(d, nonzero_second=True), lambda x1, x2: numpy.divide(x1, x2))
case("power", base.power, lambda d: _binary(d, positive_first=True), lambda x1, x2: numpy.power(x1, x2))
case("maximum", more.maximum, _binary, lambda x1, x2: numpy.maximum(x1, x2))
case("minimum", more.minimum, _binary, lambda x1, x2: numpy.minimum(x1, x2))


def _division_safe(data):
    """Operands whose quotient stays at least 0.1 from an integer (where floor_divide and mod jump): x1 has the
    broadcast shape and is drawn as a quotient times x2."""
    rng = rng_of(data)
    s1, s2 = broadcast_of(data)
    out = numpy.broadcast_shapes(s1, s2)
    x2 = away_from_zero(rng, s2)
    quotient = rng.integers(-3, 3, size=out) + rng.uniform(0.1, 0.9, out)
    return {"x1": quotient * x2, "x2": maybe_number(data, x2)}


case("mod", more.mod, _division_safe, lambda x1, x2: numpy.mod(x1, x2))
case("floor_divide", more.floor_divide, _division_safe, lambda x1, x2: numpy.floor_divide(x1, x2))


def _discrete_pair(data):
    """Small integers as floats, so that ties (==) happen."""
    rng = rng_of(data)
    s1, s2 = broadcast_of(data)
    return {"x1": rng.integers(0, 3, s1).astype(float), "x2": maybe_number(data, rng.integers(0, 3, s2) * 1.0)}


for _name, _reference in [("equal", numpy.equal), ("not_equal", numpy.not_equal), ("greater", numpy.greater),
                          ("greater_equal", numpy.greater_equal), ("less", numpy.less),
                          ("less_equal", numpy.less_equal)]:
    case(_name, getattr(more, _name), _discrete_pair, _reference, wrt=())


def _bool_pair(data):
    rng = rng_of(data)
    s1, s2 = broadcast_of(data)
    return {"x1": rng.random(s1) < 0.5, "x2": rng.random(s2) < 0.5}


case("logical_and", more.logical_and, _bool_pair, numpy.logical_and, wrt=())
case("logical_or", more.logical_or, _bool_pair, numpy.logical_or, wrt=())
case("logical_not", more.logical_not, lambda d: {"x": rng_of(d).random(shape_of(d)) < 0.5}, numpy.logical_not,
     wrt=())


def _unary(values=normal):
    def draw(data):
        rng = rng_of(data)
        return {"x": numpy.asarray(values(rng, shape_of(data, min_dims=0)))}
    return draw


def _positive(rng, shape):
    return rng.uniform(0.3, 3.0, shape)


def _between_integers(rng, shape):
    """Values at least 0.1 from an integer (and from a half, where round turns)."""
    return rng.integers(-3, 3, shape) + rng.choice([0.15, 0.35, 0.65, 0.85], size=shape) + \
        rng.uniform(-0.05, 0.05, shape)


case("negative", base.negative, _unary(), numpy.negative)
case("exp", base.exp, _unary(), numpy.exp)
case("log", base.log, _unary(_positive), numpy.log)
case("sqrt", base.sqrt, _unary(_positive), numpy.sqrt)
case("square", base.square, _unary(), numpy.square)
case("abs", base.abs, _unary(away_from_zero), numpy.abs)
case("tanh", base.tanh, _unary(), numpy.tanh)
case("sign", more.sign, _unary(away_from_zero), numpy.sign)
case("log1p", more.log1p, _unary(lambda rng, shape: rng.uniform(-0.7, 3.0, shape)), numpy.log1p)
case("expm1", more.expm1, _unary(), numpy.expm1)
case("reciprocal", more.reciprocal, _unary(away_from_zero), lambda x: 1.0 / x)
case("sin", more.sin, _unary(), numpy.sin)
case("cos", more.cos, _unary(), numpy.cos)
case("erf", more.erf, _unary(), lambda x: numpy.vectorize(math.erf)(x))
case("floor", more.floor, _unary(_between_integers), numpy.floor)
case("ceil", more.ceil, _unary(_between_integers), numpy.ceil)


def _round(data):
    rng = rng_of(data)
    decimals = data.draw(st.sampled_from([0, 1, 2]))
    return {"x": _between_integers(rng, shape_of(data, min_dims=0)) / 10 ** decimals, "decimals": decimals}


case("round", more.round, _round, lambda x, decimals: numpy.round(x, decimals))


# ---- core ops on arrays -----------------------------------------------------------------------------------------
def _cast(data):
    rng = rng_of(data)
    return {"x": normal(rng, shape_of(data)), "dtype": data.draw(st.sampled_from(["float64", "int32"]))}


case("cast", core.cast, _cast, lambda x, dtype: x.astype(dtype),
     wrt=lambda args: ("x",) if numpy.dtype(args["dtype"]).kind == "f" else ())
case("stop_gradient", core.stop_gradient, _unary(), lambda x: x, wrt=())


def _like(data):
    rng = rng_of(data)
    return {"x": normal(rng, shape_of(data)), "dtype": data.draw(st.sampled_from([None, "float64", "int32"]))}


# core.zeros_like/ones_like have no dtype rule: on symbolic tensors they ignore dtype= (reported; see
# test_zeros_like_and_ones_like_symbolic_dtype).
case("zeros_like", core.zeros_like, _like, lambda x, dtype: numpy.zeros(x.shape, dtype or x.dtype), wrt=(),
     known_dtype_bug=lambda args: args["dtype"] is not None)
case("ones_like", core.ones_like, _like, lambda x, dtype: numpy.ones(x.shape, dtype or x.dtype), wrt=(),
     known_dtype_bug=lambda args: args["dtype"] is not None)


def _full_like(data):
    args = _like(data)
    args["fill_value"] = data.draw(st.sampled_from([0, 2, -1.5]))
    return args


case("full_like", more.full_like, _full_like,
     lambda x, fill_value, dtype: numpy.full(x.shape, fill_value, dtype or x.dtype), wrt=())


# ---- selection ----------------------------------------------------------------------------------------------------
def _where(data):
    rng = rng_of(data)
    s0, s1, s2 = broadcast_of(data, count=3)
    return {"condition": rng.random(s0) < 0.5, "x1": normal(rng, s1), "x2": maybe_number(data, normal(rng, s2))}


case("where", more.where, _where, lambda condition, x1, x2: numpy.where(condition, x1, x2))


def _clip(data):
    rng = rng_of(data)
    s0, s1, s2 = broadcast_of(data, count=3)
    low = -numpy.abs(normal(rng, s1)) - 0.1
    high = numpy.abs(normal(rng, s2)) + 0.1
    return {"x": 1.5 * normal(rng, s0), "x_min": maybe_number(data, low), "x_max": maybe_number(data, high)}


case("clip", more.clip, _clip, lambda x, x_min, x_max: numpy.minimum(numpy.maximum(x, x_min), x_max))


# ---- reductions and scans ----------------------------------------------------------------------------------------
def _reduction(values=normal, keepdims=True):
    def draw(data):
        rng = rng_of(data)
        shape = shape_of(data)
        args = {"x": values(rng, shape), "axis": axes_of(data, len(shape))}
        if keepdims:
            args["keepdims"] = data.draw(st.booleans())
        return args
    return draw


def _distinct(rng, shape):
    """Normal values with no ties (max, min, argmax and the inf-norms are not smooth at ties)."""
    return rng.permutation(math.prod(shape)).reshape(shape) * 0.3 + rng.uniform(-0.05, 0.05, shape)


case("sum", base.sum, _reduction(), lambda x, axis, keepdims: numpy.sum(x, axis=axis, keepdims=keepdims))
case("mean", base.mean, _reduction(), lambda x, axis, keepdims: numpy.mean(x, axis=axis, keepdims=keepdims))
case("max", base.max, _reduction(_distinct), lambda x, axis, keepdims: numpy.max(x, axis=axis, keepdims=keepdims))
case("min", base.min, _reduction(_distinct), lambda x, axis, keepdims: numpy.min(x, axis=axis, keepdims=keepdims))
case("prod", more.prod, _reduction(), lambda x, axis, keepdims: numpy.prod(x, axis=axis, keepdims=keepdims))
case("var", more.var, _reduction(), lambda x, axis, keepdims: numpy.var(x, axis=axis, keepdims=keepdims))
case("std", more.std, _reduction(), lambda x, axis, keepdims: numpy.std(x, axis=axis, keepdims=keepdims))
case("logsumexp", more.logsumexp, _reduction(),
     lambda x, axis, keepdims: numpy.log(numpy.sum(numpy.exp(x), axis=axis, keepdims=keepdims)))


def _prod_with_zeros(data):
    args = _reduction()(data)
    x = args["x"]
    x[numpy.random.default_rng(x.size).random(x.shape) < 0.3] = 0.0  # zeros: the gradient must stay exact
    return args


case("prod_with_zeros", more.prod, _prod_with_zeros,
     lambda x, axis, keepdims: numpy.prod(x, axis=axis, keepdims=keepdims))


def _arg_reduction(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": _distinct(rng, shape), "axis": axis_of(data, len(shape)), "keepdims": data.draw(st.booleans())}


case("argmax", more.argmax, _arg_reduction, lambda x, axis, keepdims: numpy.argmax(x, axis=axis, keepdims=keepdims),
     wrt=())
case("argmin", more.argmin, _arg_reduction, lambda x, axis, keepdims: numpy.argmin(x, axis=axis, keepdims=keepdims),
     wrt=())


def _count_nonzero(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": rng.integers(0, 3, shape) * 1.0, "axis": axes_of(data, len(shape))}


case("count_nonzero", more.count_nonzero, _count_nonzero, lambda x, axis: numpy.count_nonzero(x, axis=axis),
     wrt=())


def _cumsum(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": normal(rng, shape), "axis": axis_of(data, len(shape))}


case("cumsum", more.cumsum, _cumsum, lambda x, axis: numpy.cumsum(x, axis=axis))


def _norm(data):
    rng = rng_of(data)
    kind = data.draw(st.sampled_from(["all", "vector", "matrix"]))
    if kind == "all":
        shape = shape_of(data)
        return {"x": normal(rng, shape), "ord": None, "axis": None, "keepdims": data.draw(st.booleans())}
    if kind == "vector":
        shape = shape_of(data)
        return {"x": _distinct(rng, shape), "ord": data.draw(st.sampled_from([None, 2, 1, math.inf, -math.inf, 0, 3,
                                                                                -1])),
                "axis": axis_of(data, len(shape), none=len(shape) == 1), "keepdims": data.draw(st.booleans())}
    shape = shape_of(data, min_dims=2)
    axis = tuple(data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=2, max_size=2, unique_by=lambda
                                    a: a % len(shape))))
    return {"x": _distinct(rng, shape), "ord": data.draw(st.sampled_from([None, "fro", "nuc", 1, -1, math.inf,
                                                                           -math.inf, 2, -2])),
            "axis": axis, "keepdims": data.draw(st.booleans())}


def _norm_reference(x, ord, axis, keepdims):
    if axis is None and ord is None:  # the 2-norm of all entries, whatever the rank
        value = numpy.sqrt(numpy.sum(x * x))
        return value.reshape((1,) * x.ndim) if keepdims else value
    return numpy.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


case("norm", more.norm, _norm, _norm_reference)


# ---- shapes -------------------------------------------------------------------------------------------------------
def _reshape(data):
    rng = rng_of(data)
    shape = shape_of(data)
    kind = data.draw(st.sampled_from(["flat", "first", "reversed", "split"]))
    newshape = {"flat": (-1,), "first": (shape[0], -1), "reversed": tuple(reversed(shape)),
                "split": (1, -1) + (1,)}[kind]
    return {"x": normal(rng, shape), "newshape": newshape}


case("reshape", base.reshape, _reshape, lambda x, newshape: numpy.reshape(x, newshape))


def _transpose(data):
    rng = rng_of(data)
    shape = shape_of(data)
    axes = data.draw(st.one_of(st.none(), st.permutations(range(len(shape))).map(tuple)))
    return {"x": normal(rng, shape), "axes": axes}


case("transpose", base.transpose, _transpose, lambda x, axes: numpy.transpose(x, axes))


def _expand_dims(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": normal(rng, shape), "axis": data.draw(st.integers(-len(shape) - 1, len(shape)))}


case("expand_dims", base.expand_dims, _expand_dims, lambda x, axis: numpy.expand_dims(x, axis))


def _squeeze(data):
    rng = rng_of(data)
    shape = list(shape_of(data))
    shape.insert(data.draw(st.integers(0, len(shape))), 1)
    ones = [i for i, size in enumerate(shape) if size == 1]
    # axis=None squeezes the batch axis only when its size is known: not on an Input with a None batch size
    return {"x": normal(rng, tuple(shape)), "axis": data.draw(st.sampled_from(([None] if shape[0] != 1 else [])
                                                                              + ones))}


case("squeeze", base.squeeze, _squeeze, lambda x, axis: numpy.squeeze(x, axis))


def _concatenate(data):
    rng = rng_of(data)
    shape = shape_of(data)
    axis = axis_of(data, len(shape), none=False)
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    xs = []
    for size in sizes:
        piece = list(shape)
        piece[axis] = size
        xs.append(normal(rng, tuple(piece)))
    return {"xs": xs, "axis": axis}


case("concatenate", base.concatenate, _concatenate, lambda xs, axis: numpy.concatenate(xs, axis))


def _getitem(data):
    rng = rng_of(data)
    shape = shape_of(data)
    key = []
    for size in shape[:data.draw(st.integers(0, len(shape)))]:  # one item per leading axis
        key.append(data.draw(st.one_of(st.integers(-size, size - 1),
                                       st.builds(slice, st.one_of(st.none(), st.integers(-size, size)),
                                                 st.one_of(st.none(), st.integers(-size, size)),
                                                 st.sampled_from([None, 1, 2, -1])))))
    for _ in range(data.draw(st.integers(0, 2))):  # new axes (None) anywhere: they take no axis of x
        key.insert(data.draw(st.integers(0, len(key))), None)
    if data.draw(st.booleans()):
        key.insert(data.draw(st.integers(0, len(key))), Ellipsis)
    return {"x": normal(rng, shape), "key": tuple(key)}


case("getitem", base.getitem, _getitem, lambda x, key: x[key])


def _swapaxes(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": normal(rng, shape), "axis1": axis_of(data, len(shape), none=False),
            "axis2": axis_of(data, len(shape), none=False)}


case("swapaxes", more.swapaxes, _swapaxes, lambda x, axis1, axis2: numpy.swapaxes(x, axis1, axis2))


def _moveaxis(data):
    rng = rng_of(data)
    shape = shape_of(data)
    count = data.draw(st.integers(1, len(shape)))
    source = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=count, max_size=count, unique=True))
    destination = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=count, max_size=count,
                                     unique_by=lambda a: a % len(shape)))
    if count == 1 and data.draw(st.booleans()):
        source, destination = source[0], destination[0]
    return {"x": normal(rng, shape), "source": source, "destination": destination}


case("moveaxis", more.moveaxis, _moveaxis, lambda x, source, destination: numpy.moveaxis(x, source, destination))


def _flip(data):
    rng = rng_of(data)
    shape = shape_of(data)
    return {"x": normal(rng, shape), "axis": axes_of(data, len(shape))}


case("flip", more.flip, _flip, lambda x, axis: numpy.flip(x, axis))


def _tile(data):
    rng = rng_of(data)
    shape = shape_of(data)
    repeats = data.draw(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=4)))
    return {"x": normal(rng, shape), "repeats": repeats}


case("tile", more.tile, _tile, lambda x, repeats: numpy.tile(x, repeats))


def _repeat(data):
    rng = rng_of(data)
    shape = shape_of(data)
    axis = axis_of(data, len(shape))
    size = math.prod(shape) if axis is None else shape[axis]
    repeats = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=size, max_size=size)))
    return {"x": normal(rng, shape), "repeats": repeats, "axis": axis}


case("repeat", more.repeat, _repeat, lambda x, repeats, axis: numpy.repeat(x, repeats, axis))


def _split(data):
    rng = rng_of(data)
    shape = list(shape_of(data))
    axis = axis_of(data, len(shape), none=False)
    if data.draw(st.booleans()):
        sections = data.draw(st.integers(1, 3))
        shape[axis] *= sections
    else:
        sections = sorted(data.draw(st.lists(st.integers(0, shape[axis]), min_size=1, max_size=3)))
    return {"x": normal(rng, tuple(shape)), "indices_or_sections": sections, "axis": axis}


case("split", more.split, _split,
     lambda x, indices_or_sections, axis: numpy.split(x, indices_or_sections, axis))


def _stack(data):
    rng = rng_of(data)
    shape = shape_of(data, min_dims=0)
    count = data.draw(st.integers(1, 3))
    return {"x": [normal(rng, shape) for _ in range(count)], "axis": data.draw(st.integers(-len(shape) - 1,
                                                                                           len(shape)))}


case("stack", more.stack, _stack, lambda x, axis: numpy.stack(x, axis))


def _pad(data):
    rng = rng_of(data)
    shape = shape_of(data, min_side=2)
    mode = data.draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap", "circular"]))
    limit = 1 if mode in ("reflect",) else 3
    form = data.draw(st.sampled_from(["int", "pair", "pairs"]))
    if form == "int":
        pad_width = data.draw(st.integers(0, limit))
    elif form == "pair":
        pad_width = tuple(data.draw(st.lists(st.integers(0, limit), min_size=2, max_size=2)))
    else:
        pad_width = tuple(tuple(data.draw(st.lists(st.integers(0, limit), min_size=2, max_size=2))) for _ in shape)
    values = data.draw(st.sampled_from([None, 1.5])) if mode == "constant" else None
    return {"x": normal(rng, shape), "pad_width": pad_width, "mode": mode, "constant_values": values}


def _pad_reference(x, pad_width, mode, constant_values):
    options = {"constant_values": constant_values} if constant_values is not None else {}
    return numpy.pad(x, pad_width, mode="wrap" if mode == "circular" else mode, **options)


case("pad", more.pad, _pad, _pad_reference)


# ---- indexing -----------------------------------------------------------------------------------------------------
def _take(data):
    rng = rng_of(data)
    shape = shape_of(data)
    axis = axis_of(data, len(shape))
    size = math.prod(shape) if axis is None else shape[axis]
    indices = rng.integers(-size, size, shape_of(data, min_dims=0, max_dims=2))
    if data.draw(st.booleans()):
        indices = indices.tolist()  # a Python list (or int) of indices
    return {"x": normal(rng, shape), "indices": indices, "axis": axis}


case("take", more.take, _take, lambda x, indices, axis: numpy.take(x, indices, axis))


def _take_along_axis(data):
    rng = rng_of(data)
    shape = shape_of(data)
    if data.draw(st.booleans()):
        size = math.prod(shape)
        return {"x": normal(rng, shape), "indices": rng.integers(-size, size, data.draw(st.integers(1, 6))),
                "axis": None}
    axis = axis_of(data, len(shape), none=False)
    index_shape = list(shape)
    index_shape[axis] = data.draw(st.integers(1, 4))
    for d in range(len(shape)):  # the other axes broadcast: size 1 on either side
        if d != axis and data.draw(st.integers(0, 3)) == 0:
            index_shape[d] = 1
    return {"x": normal(rng, shape), "indices": rng.integers(-shape[axis], shape[axis], tuple(index_shape)),
            "axis": axis}


case("take_along_axis", more.take_along_axis, _take_along_axis,
     lambda x, indices, axis: numpy.take_along_axis(x if axis is not None else x.reshape(-1), indices,
                                                    axis if axis is not None else 0))


def _one_hot(data):
    rng = rng_of(data)
    shape = shape_of(data)
    classes = data.draw(st.integers(1, 5))
    return {"x": rng.integers(-1, classes + 1, shape), "num_classes": classes,
            "axis": data.draw(st.integers(-1, len(shape))), "dtype": data.draw(st.sampled_from([None, "int32"])),
            "sparse": False}


def _one_hot_reference(x, num_classes, axis, dtype, sparse):
    valid = (x >= 0) & (x < num_classes)
    encoded = numpy.eye(num_classes)[numpy.where(valid, x, 0)] * valid[..., None]
    return numpy.moveaxis(encoded, -1, axis % (x.ndim + 1)).astype(dtype or backend.floatx())


case("one_hot", more.one_hot, _one_hot, _one_hot_reference, wrt=())


# ---- products -----------------------------------------------------------------------------------------------------
def _matmul(data):
    rng = rng_of(data)
    b1, b2 = broadcast_of(data, max_dims=2)
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    return {"x1": normal(rng, b1 + (n, k)), "x2": normal(rng, b2 + (k, m))}


case("matmul", base.matmul, _matmul, lambda x1, x2: numpy.matmul(x1, x2))


def _dot(data):
    rng = rng_of(data)
    rank1, rank2 = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    shape1 = shape_of(data, min_dims=rank1, max_dims=rank1)
    shape2 = list(shape_of(data, min_dims=rank2, max_dims=rank2))
    if rank1 and rank2:
        shape2[-1 if rank2 == 1 else -2] = shape1[-1]
    return {"x1": normal(rng, shape1), "x2": maybe_number(data, normal(rng, tuple(shape2)))}


case("dot", more.dot, _dot, lambda x1, x2: numpy.dot(x1, x2))

EQUATIONS = ["ij,jk->ik", "ij,jk", "i,i", "i,i->i", "ij,j->i", "ij->", "ij->ji", "ii->i", "ii", "iij->ij",
             "bij,bjk->bik", "...ij,...jk->...ik", "...i,...i", "ij...,jk...->ik...", "abc,cd,db->ad", "i,j->ij",
             "ij,ij->ij", "iJ,Jk->ik", "bhqd,bhkd->bhqk"]


def _einsum(data):
    rng = rng_of(data)
    equation = data.draw(st.sampled_from(EQUATIONS))
    inputs = equation.split("->")[0].split(",")
    sizes = {c: data.draw(st.integers(1, 3)) for c in "".join(inputs) if c != "."}
    batch = broadcast_of(data, count=len(inputs), max_dims=2)
    operands = []
    for spec, extra in zip(inputs, batch):
        letters = [sizes[c] for c in spec.replace("...", "")]
        if spec.startswith("..."):
            shape = tuple(extra) + tuple(letters)
        elif spec.endswith("..."):
            shape = tuple(letters) + tuple(extra)
        else:
            shape = tuple(letters)
        operands.append(normal(rng, shape))
    if equation == "ij,ij->ij" and data.draw(st.booleans()):
        operands[0] = operands[0][:1]  # a labeled axis of size 1 broadcasts
    return {"subscripts": equation, "operands": operands}


def _einsum_reference(subscripts, operands):
    if subscripts == "ij,jk->ik":  # one written out by loops, the rest through numpy.einsum
        a, b = operands
        return numpy.array([[sum(a[i, j] * b[j, k] for j in range(a.shape[1])) for k in range(b.shape[1])]
                            for i in range(a.shape[0])]).reshape(a.shape[0], b.shape[1])
    return numpy.einsum(subscripts, *operands)


case("einsum", more._einsum, _einsum, _einsum_reference)


# ---- the checks -----------------------------------------------------------------------------------------------
def on_device(value):
    """NumPy arrays (in lists too) onto the backend; other values as they are."""
    if isinstance(value, numpy.ndarray):
        return backend.to_device(value)
    if isinstance(value, list) and value and isinstance(value[0], numpy.ndarray):
        return [on_device(item) for item in value]
    return value


def host(value):
    """Backend arrays (in lists too) as NumPy arrays."""
    if isinstance(value, (list, tuple)):
        return [host(item) for item in value]
    return numpy.asarray(backend.to_host(value))


def tensor_leaves(case, args):
    """``[(name, index or None, array)]``: the float arrays among the op's tensor arguments."""
    leaves = []
    for name in case.op.tensors:
        value = args.get(name)
        items = list(enumerate(value)) if isinstance(value, list) and value and \
            isinstance(value[0], numpy.ndarray) else [(None, value)]
        for index, item in items:
            if isinstance(item, numpy.ndarray) and item.dtype.kind == "f":
                leaves.append((name, index, item))
    return leaves


def objective(case, args, upstream):
    """``sum(output * upstream)`` (over every output of a several-output op), in float64 on the host."""
    out, _ = case.op.function(**{key: on_device(value) for key, value in args.items()})
    outs = out if isinstance(out, list) else [out]
    return sum(float(numpy.sum(host(o) * u)) for o, u in zip(outs, upstream))


def resolved(grads):
    """An op's ``{argument: gradient}`` with the lazy gradients (functions of no arguments) computed."""
    def one(grad):
        if isinstance(grad, list):
            return [one(item) for item in grad]
        return grad() if callable(grad) else grad
    return {key: one(value) for key, value in grads.items()}


def check_gradients(case, args, seed):
    """The op's backward for a random upstream gradient against central differences of ``objective``, on up to
    ``MAX_CHECKS`` entries of each float argument; the arguments without a gradient must get None."""
    rng = numpy.random.default_rng(seed)
    out, backward = case.op.function(**{key: on_device(value) for key, value in args.items()})
    outs = out if isinstance(out, list) else [out]
    upstream = [rng.standard_normal(numpy.shape(host(o))) for o in outs]
    grads = resolved(backward([backend.to_device(u) for u in upstream] if isinstance(out, list) else
                              backend.to_device(upstream[0])))
    differentiable = case.differentiable(args)
    wanted = {(name, index) for name, index, _ in tensor_leaves(case, args)
              if differentiable is None or name in differentiable}
    for name in case.op.tensors:
        value = grads.get(name) if isinstance(grads, dict) else None
        items = value if isinstance(value, list) else [value]
        for index, grad in enumerate(items):
            key = (name, index if isinstance(value, list) else None)
            if key not in wanted:
                assert grad is None, f"{case.name}: {name} should get no gradient"
    for name, index, array in tensor_leaves(case, args):
        if (name, index) not in wanted:
            continue
        analytic = grads[name][index] if index is not None else grads[name]
        assert analytic is not None, f"{case.name}: no gradient for {name}"
        analytic = host(analytic)
        assert analytic.shape == array.shape, f"{case.name}: gradient of {name} has shape {analytic.shape}"
        numeric = numpy.zeros(array.shape)
        flat = rng.permutation(array.size)[:MAX_CHECKS]
        for i in flat:
            position = numpy.unravel_index(i, array.shape)
            values = []
            for step in (EPSILON, -EPSILON):
                shifted = array.copy()
                shifted[position] += step
                changed = dict(args)
                if index is None:
                    changed[name] = shifted
                else:
                    changed[name] = list(args[name])
                    changed[name][index] = shifted
                values.append(objective(case, changed, upstream))
            numeric[position] = (values[0] - values[1]) / (2 * EPSILON)
            numpy.testing.assert_allclose(analytic[position], numeric[position], rtol=case.rtol, atol=case.atol,
                                          err_msg=f"{case.name}: d/d{name}{list(position)} with {args}")


@pytest.mark.parametrize("case", CASES, ids=repr)
@PROPERTY
@given(data=st.data())
def test_forward_matches_numpy(case, backend_name, data):
    args = case.draw(data)
    out = case.op(**{key: on_device(value) for key, value in args.items()})
    want = case.reference(**args)
    if isinstance(want, list):
        assert isinstance(out, list) and len(out) == len(want)
    got, want = host(out), [numpy.asarray(w) for w in want] if isinstance(want, list) else numpy.asarray(want)
    for g, w in zip(got if isinstance(want, list) else [got], want if isinstance(want, list) else [want]):
        assert g.shape == w.shape, f"{case.name}: shape {g.shape}, want {w.shape}"
        assert g.dtype.kind == w.dtype.kind or (g.dtype.kind in "iu" and w.dtype.kind in "iu"), \
            f"{case.name}: dtype {g.dtype}, want {w.dtype}"
        numpy.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=repr)
@PROPERTY
@given(data=st.data())
def test_backward_matches_central_differences(case, backend_name, data):
    check_gradients(case, case.draw(data), data.draw(st.integers(0, 2 ** 16)))


#: Existing ops whose float32 gradients come out float64 (reported, not fixed here): max/min's tie share is
#: ``hits / hits.sum(...)``, a float64 array (nnkit/ops/numpy.py, ``_extremum``).
GRADIENT_DTYPE_BUGS = {"max", "min"}


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in GRADIENT_DTYPE_BUGS], ids=repr)
@PROPERTY
@given(data=st.data())
def test_gradients_keep_the_float32_dtype(case, backend_name, data):
    args = {key: _as_float32(value) for key, value in case.draw(data).items()}
    out, backward = case.op.function(**{key: on_device(value) for key, value in args.items()})
    outs = out if isinstance(out, list) else [out]
    if host(outs[0]).dtype.kind != "f":
        return
    upstream = [backend.to_device(numpy.ones(numpy.shape(host(o)), numpy.float32)) for o in outs]
    grads = resolved(backward(upstream if isinstance(out, list) else upstream[0]))
    for name, index, array in tensor_leaves(case, args):
        grad = grads.get(name)
        grad = grad[index] if index is not None and grad is not None else grad
        if grad is not None:
            assert host(grad).dtype == numpy.float32, f"{case.name}: the gradient of {name} is {host(grad).dtype}"
            assert host(grad).shape == array.shape


@pytest.mark.parametrize("op", [base.max, base.min], ids=lambda op: op.name)
def test_max_and_min_gradients_keep_the_float32_dtype(op):
    x = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    _, backward = op.function(x, axis=1)
    assert backward(numpy.ones(2, numpy.float32))["x"].dtype == numpy.float32


def _as_float32(value):
    if isinstance(value, numpy.ndarray) and value.dtype == numpy.float64:
        return value.astype(numpy.float32)
    if isinstance(value, list) and value and isinstance(value[0], numpy.ndarray):
        return [_as_float32(item) for item in value]
    return value


def _symbolic_arguments(case, args, batch_known):
    """The args with each array tensor (rank >= 1) replaced by an Input; returns (args, inputs, arrays)."""
    inputs, arrays = [], []

    def symbolic(array):
        if not isinstance(array, numpy.ndarray) or array.ndim == 0:
            return on_device(array)
        tensor = nnkit.Input(batch_shape=array.shape if batch_known else (None,) + array.shape[1:],
                             dtype=array.dtype.name)
        inputs.append(tensor)
        arrays.append(array)
        return tensor
    result = dict(args)
    for name in case.op.tensors:
        value = args.get(name)
        if isinstance(value, list) and value and isinstance(value[0], numpy.ndarray):
            result[name] = [symbolic(item) for item in value]
        else:
            result[name] = symbolic(value)
    return result, inputs, arrays


@pytest.mark.parametrize("case", CASES, ids=repr)
@PROPERTY
@given(data=st.data())
def test_symbolic_call_and_model(case, backend_name, data):
    args = {key: _as_float32(value) for key, value in case.draw(data).items()}
    eager = case.op(**{key: on_device(value) for key, value in args.items()})
    eager_outs = eager if isinstance(eager, list) else [eager]
    for batch_known in (True, False):
        symbolic_args, inputs, arrays = _symbolic_arguments(case, args, batch_known)
        if not inputs:
            return  # only 0-d tensors: nothing symbolic to build
        out = case.op(**symbolic_args)
        outs = out if isinstance(out, list) else [out]
        assert len(outs) == len(eager_outs)
        for tensor, value in zip(outs, eager_outs):
            shape = tuple(numpy.shape(host(value)))
            assert len(tensor.shape) == len(shape), f"{case.name}: {tensor.shape} against {shape}"
            if batch_known:
                assert tensor.shape == shape, f"{case.name}: {tensor.shape} against {shape}"
            else:
                assert all(s is None or s == e for s, e in zip(tensor.shape, shape)), \
                    f"{case.name}: {tensor.shape} against {shape}"
            if case.known_dtype_bug and case.known_dtype_bug(args):
                continue
            assert tensor.dtype == numpy.asarray(host(value)).dtype.name, \
                f"{case.name}: symbolic dtype {tensor.dtype}, eager {host(value).dtype}"
    model = nnkit.Model(inputs if len(inputs) > 1 else inputs[0], out)
    predicted = model([on_device(a) for a in arrays] if len(arrays) > 1 else on_device(arrays[0]))
    for got, want in zip(predicted if isinstance(out, list) else [predicted], eager_outs):
        numpy.testing.assert_allclose(host(got), host(want), rtol=1e-5, atol=1e-6)


# ---- specific behaviours ----------------------------------------------------------------------------------------
def test_every_op_of_the_family_is_covered():
    ops_under_test = {case.op for case in CASES}
    for module in (base, more):
        for name, value in vars(module).items():
            if isinstance(value, type(base.add)) and not name.startswith("_"):
                assert value in ops_under_test, f"{module.__name__}.{name} has no property test"
    for name in ("cast", "stop_gradient", "zeros_like", "ones_like"):
        assert getattr(core, name) in ops_under_test


def test_ties_split_the_gradient_evenly(backend_name):
    x = backend.to_device(numpy.array([1.0, 2.0, 3.0]))
    y = backend.to_device(numpy.array([1.0, 1.0, 3.0]))
    g = backend.to_device(numpy.ones(3))
    for op, first in ((more.maximum, [0.5, 1.0, 0.5]), (more.minimum, [0.5, 0.0, 0.5])):
        grads = op.function(x, y)[1](g)
        numpy.testing.assert_allclose(host(grads["x1"]), first)
        numpy.testing.assert_allclose(host(grads["x2"]), 1 - numpy.array(first))


def test_clip_passes_the_gradient_at_its_bounds(backend_name):
    x = backend.to_device(numpy.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    out, backward = more.clip.function(x, -1.0, 1.0)
    numpy.testing.assert_allclose(host(out), [-1, -1, 0, 1, 1])
    grads = backward(backend.to_device(numpy.ones(5)))
    numpy.testing.assert_allclose(host(grads["x"]), [0, 1, 1, 1, 0])
    assert grads["x_min"] is None and grads["x_max"] is None


def test_output_dtypes_follow_keras(backend_name):
    x = backend.to_device(numpy.arange(6, dtype=numpy.int32).reshape(2, 3))
    f = backend.to_device(numpy.ones((2, 3), numpy.float32))
    assert more.equal(f, 1.0).dtype == bool
    assert more.argmax(f, axis=1).dtype == numpy.int32
    assert more.count_nonzero(x).dtype == numpy.int32
    assert more.sin(x).dtype == numpy.float32  # integers become floatx in float-valued ops
    assert more.var(x).dtype == numpy.float32
    assert more.cumsum(x > 2).dtype == numpy.int32
    assert more.prod(x.astype(numpy.int16)).dtype == numpy.int32
    assert more.one_hot(x, 6).dtype == numpy.float32
    assert more.clip(f, 0, 2).dtype == numpy.float32
    assert more.take(x, [0, 1]).dtype == numpy.int32
    for op, args, dtype in ((more.sin, (x,), "float32"), (more.argmax, (f,), "int32"), (more.equal, (f, 1.0), "bool"),
                            (more.cumsum, (x,), "int32"), (more.one_hot, (x, 6), "float32"),
                            (more.count_nonzero, (f,), "int32"), (more.logsumexp, (x,), "float32")):
        tensors = [nnkit.Input(batch_shape=a.shape, dtype=str(a.dtype)) if hasattr(a, "shape") else a for a in args]
        assert op(*tensors).dtype == dtype, op.name
        assert str(op(*args).dtype) == dtype, op.name


def test_where_without_branches(backend_name):
    condition = backend.to_device(numpy.array([[True, False], [False, True]]))
    rows, columns = more.where(condition)
    assert host(rows).tolist() == [0, 1] and host(columns).tolist() == [0, 1]
    with pytest.raises(ValueError, match="data-dependent"):
        more.where(nnkit.Input((2,), dtype="bool"))
    with pytest.raises(ValueError):
        more.where(condition, 1.0)


def test_split_with_unknown_sizes_and_an_unused_piece_trains(backend_name):
    inputs = nnkit.Input((6,))
    first, second = more.split(inputs, 2, axis=1)
    assert first.shape == (None, 3) and second.shape == (None, 3)
    assert [t.shape for t in more.split(inputs, 2, axis=0)] == [(None, 6), (None, 6)]
    assert [t.shape for t in more.split(inputs, [2, 5], axis=1)] == [(None, 2), (None, 3), (None, 1)]
    assert [t.shape for t in more.split(inputs, [1], axis=0)] == [(1, 6), (None, 6)]
    outputs = nnkit.layers.Dense(1)(first)  # the second piece has no consumer: its gradient is zero
    model = nnkit.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = numpy.random.default_rng(0).standard_normal((16, 6)).astype("float32")
    history = model.fit(x, x[:, :1] * 2, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_model_of_new_ops_passes_gradcheck(backend_name):
    backend.set_floatx("float64")
    inputs = nnkit.Input((4, 6))
    hidden = nnkit.layers.Dense(6)(inputs)
    left, right = more.split(hidden, 2, axis=-1)
    mixed = more.einsum("bij,bkj->bik", left, right)
    gathered = more.take_along_axis(mixed, numpy.array([[[0], [2], [1], [3]]]), axis=-1)
    outputs = more.where(more.greater(gathered, 0), more.sin(gathered), more.clip(gathered, -0.3, 0.3)) + \
        more.logsumexp(mixed, axis=-1, keepdims=True) + more.norm(mixed, axis=-1, keepdims=True)
    model = nnkit.Model(inputs, more.stack([more.cumsum(outputs, axis=1), more.tile(outputs, (1, 1, 1))], axis=-1))
    x = numpy.random.default_rng(1).standard_normal((3, 4, 6))
    result = nnkit.utils.gradcheck(model, x)
    assert result.max_relative_error < 1e-5, result


def test_einsum_gradient_equation_agrees_with_einsum_dense():
    for equation in ("abc,cde->abde", "ab,bc->ac", "abc,cd->abd", "ab,b->a", "abc,dc->abd", "abc,cd->ad"):
        inputs, output = equation.split("->")
        specs = tuple(inputs.split(","))
        sizes = {letter: 2 + i for i, letter in enumerate(sorted(set(inputs) - {","}))}
        shapes = tuple(tuple(sizes[c] for c in spec) for spec in specs)
        for index, (theirs, summed) in enumerate(einsum_gradient_equations(equation)):
            ours, extra, dropped = more.einsum_gradient_equation(specs, output, index, shapes)
            ours_inputs, ours_output = ours.split("->")
            theirs_inputs, theirs_output = theirs.split("->")
            # the same operands (the other one and dz, in another order), output and summed axes
            assert sorted(ours_inputs.split(",")) == sorted(theirs_inputs.split(","))
            assert (ours_output, extra, dropped) == (theirs_output, (), summed)


def test_einsum_spells_out_numpy_equations():
    assert more.parse_einsum("ij,jk", (2, 2)) == (("ij", "jk"), "ik")
    assert more.parse_einsum("bA", (2,)) == (("bA",), "Ab")
    specs, output = more.parse_einsum("...ij,j...->...i", (4, 2))
    assert len(specs[0]) == 4 and len(specs[1]) == 2 and output.endswith("i") and len(output) == 3
    with pytest.raises(ValueError):
        more.parse_einsum("ij,jk->ik", (2,))
    with pytest.raises(ValueError):
        more.parse_einsum("ij->ii", (2,))


def test_einsum_public_signature(backend_name):
    a = backend.to_device(numpy.arange(6.0).reshape(2, 3))
    b = backend.to_device(numpy.arange(12.0).reshape(3, 4))
    numpy.testing.assert_allclose(host(more.einsum("ij,jk->ik", a, b)), host(a) @ host(b))
    tensor = more.einsum("ij,jk->ik", nnkit.Input((3,)), b)
    assert tensor.shape == (None, 4)


def test_linspace(backend_name):
    numpy.testing.assert_allclose(host(more.linspace(0, 1, 5)), numpy.linspace(0, 1, 5))
    values, step = more.linspace(0, 2, 4, endpoint=False, retstep=True)
    assert step == 0.5 and host(values).dtype == numpy.float32
    numpy.testing.assert_allclose(host(more.linspace([0, 1], [1, 3], 3, axis=1)),
                                  numpy.linspace([0, 1], [1, 3], 3, axis=1))
    assert host(more.linspace(0, 4, 5, dtype="int32")).dtype == numpy.int32


def test_refused_arguments(backend_name):
    x = backend.to_device(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match="sparse"):
        more.one_hot(backend.to_device(numpy.array([0, 1])), 2, sparse=True)
    with pytest.raises(ValueError, match="constant_values"):
        more.pad(x, 1, mode="edge", constant_values=2)
    out, backward = more.pad.function(x, 1, mode="mean")
    assert host(out).shape == (4, 5)
    with pytest.raises(NotImplementedError, match="mean"):
        backward(backend.to_device(numpy.ones((4, 5))))
    with pytest.raises(ValueError, match="ord"):
        more.norm(x, ord="fro", axis=1)
    with pytest.raises(ValueError, match="equal sections"):
        more.split(nnkit.Input((5,)), 2, axis=1)


def test_zeros_like_and_ones_like_symbolic_dtype():
    inputs = nnkit.Input((3,))
    assert core.zeros_like(inputs, dtype="int32").dtype == "int32"
    assert core.ones_like(inputs, dtype="int32").dtype == "int32"


def test_numpy_scalars_are_tensors_not_constants(backend_name):
    """A full reduction on NumPy gives a NumPy scalar (``numpy.float64`` is a ``float``): the new ops treat it as a
    0-d tensor with a gradient, not as a Python constant."""
    scalar = base.sum.function(numpy.ones((2, 3)))[0]
    for op in (more.maximum, more.minimum, more.mod, more.where):
        args = (numpy.asarray(True), scalar, numpy.float64(1.5)) if op is more.where else (scalar, numpy.float64(1.5))
        _, backward = op.function(*args)
        grads = backward(numpy.asarray(1.0))
        assert all(grads[name] is not None for name in ("x1", "x2")), op.name


def test_existing_binary_ops_keep_the_gradient_of_numpy_scalars():
    scalar = base.sum.function(numpy.ones((2, 3)))[0]
    _, backward = base.multiply.function(numpy.ones(3), scalar)
    assert backward(numpy.ones(3))["x2"] is not None


def test_matmul_with_a_vector_operand_differentiates_on_a_tape():
    x = numpy.array([1.0, 2.0, 3.0])
    w = numpy.array([[1.0, 0.5], [2.0, -1.0], [0.0, 4.0]])
    with nnkit.GradientTape() as tape:
        tape.watch([x, w])
        total = ops.sum(ops.matmul(x, w))  # x @ w, a vector
    dx, dw = tape.gradient(total, [x, w])
    numpy.testing.assert_allclose(dx, w.sum(axis=1))
    numpy.testing.assert_allclose(dw, numpy.repeat(x[:, None], 2, axis=1))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "mean"])
def test_float_valued_ops_give_floatx_for_integer_inputs(name):
    op = getattr(ops, name)
    assert op(numpy.array([1, 4])).dtype == numpy.float32
    assert op(nnkit.Input((2,), dtype="int32")).dtype == "float32"
    assert ops.divide(numpy.array([1, 3]), numpy.array([2, 2])).dtype == numpy.float32
