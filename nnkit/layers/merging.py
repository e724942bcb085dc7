"""Merge layers (Keras 3's): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and their
functional forms (``add([a, b])`` is ``Add()([a, b])``), each with its backward pass.

A merge layer takes a list of inputs: ``build`` and ``compute_output_shape`` get a list of shapes (batch axis
None), ``forward`` a list of arrays, and ``backward(dy)`` returns a list of gradients, one per input, each of
its input's shape. ``forward_masked(inputs, mask)`` takes one mask (or None) per input.

Element-wise merges broadcast as Keras does: the batch sizes must agree and the other axes are aligned from
the right (a lower-rank input gets new axes after its batch axis), so ``(N, 4)`` merges with ``(N, 3, 4)``
and ``(N, 3, 1)``. Where an input was broadcast, its gradient is summed back to its shape.
"""
import itertools
import operator

from .. import backend
from .._arguments import integer, is_integer
from .base import Layer


class _MultiInput(Layer):
    """Base of the merge layers: checks that the input is a list of the right length and names the layer
    in its errors. Subclasses set the count rule and write the shape checks in ``compute_output_shape``."""
    min_inputs, max_inputs = 2, None
    count_rule = "A merge layer should be called on a list of at least 2 inputs"

    def _error(self, message):
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}): {message}")

    def _checked_shapes(self, input_shape):
        """``input_shape`` as a list of tuples, checked to be a list of shapes of the right length."""
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise self._error("A merge layer should be called on a list of inputs. "
                              f"Received: input_shape={input_shape} (not a list of shapes)")
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < self.min_inputs or (self.max_inputs and len(shapes) > self.max_inputs):
            raise self._error(f"{self.count_rule}. Received: input_shape={shapes}")
        return shapes

    def _shapes_of(self, inputs):
        """The shapes of the arrays in ``inputs``, checked as ``build`` checks shapes."""
        if not isinstance(inputs, (list, tuple)):
            raise self._error("A merge layer should be called on a list of inputs. Received: inputs of shape "
                              f"{tuple(getattr(inputs, 'shape', ()))} (not a list of tensors)")
        shapes = self._checked_shapes([tuple(x.shape) for x in inputs])
        self.compute_output_shape(shapes)
        return shapes

    def _checked_masks(self, inputs, mask):
        """One mask (or None) per input."""
        if mask is None:
            return [None] * len(inputs)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise self._error("The lists `inputs` and `mask` should have the same length. "
                              f"Received: {len(inputs)} inputs and mask={mask!r}")
        return list(mask)

    def build(self, input_shape):
        """Check the shapes (a merge layer has no weights)."""
        self.compute_output_shape(input_shape)


class _Merge(_MultiInput):
    """Base of the element-wise merges. Subclasses write ``_merge(xs)`` and ``_merge_backward(dy)`` (gradients of
    the output's shape) on inputs already brought to one rank; the base broadcasts, checks shapes, sums gradients
    back over broadcast axes and merges the masks (logical AND of the masks given; None when none is)."""

    def compute_output_shape(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        batch_sizes = {s[0] for s in shapes} - {None}
        if len(batch_sizes) > 1:
            raise self._error(f"Cannot merge tensors with different batch sizes. Received tensors with shapes {shapes}")
        output_shape = shapes[0][1:]
        for shape in shapes[1:]:
            output_shape = self._broadcast(output_shape, shape[1:])
        return (batch_sizes.pop() if batch_sizes else None,) + output_shape

    def _broadcast(self, shape1, shape2):
        """Keras' element-wise shape rule on shapes without the batch axis: aligned from the right, 1 broadcasts,
        None matches anything (and stays None)."""
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        lead = len(shape1) - len(shape2)
        output_shape = list(shape1[:lead])
        for i, j in zip(shape1[lead:], shape2):
            if i is not None and j is not None and 1 not in (i, j) and i != j:
                raise self._error(f"Inputs have incompatible shapes. Received shapes {shape1} and {shape2}")
            output_shape.append(None if None in (i, j) else j if i == 1 else i)
        return tuple(output_shape)

    def forward(self, inputs, training=False):
        self._shapes = self._shapes_of(inputs)
        rank = max(x.ndim for x in inputs)
        xs = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]
        return self._merge(xs)

    def backward(self, dy):
        return [_sum_to_shape(g, shape) for g, shape in zip(self._merge_backward(dy), self._shapes)]

    def forward_masked(self, inputs, mask, training=False):
        given = [m for m in self._checked_masks(inputs, mask) if m is not None]
        output_mask = None if not given else given[0]
        for m in given[1:]:
            output_mask = output_mask & m
        return self.forward(inputs, training), output_mask


def _sum_to_shape(grad, shape):
    """``grad`` (of the broadcast output's shape) summed over the axes where an input of ``shape`` was broadcast."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    expanded = shape[:1] + (1,) * (grad.ndim - len(shape)) + tuple(shape[1:])
    axes = tuple(a for a, (n, m) in enumerate(zip(expanded, grad.shape)) if n == 1 and m != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


class Add(_Merge):
    """Adds a list of inputs element-wise: ``Add()([a, b])`` is ``a + b``.

    Input shape: a list of at least 2 shapes that broadcast (see the module docstring).
    Output shape: the broadcast shape.

    Example:
        >>> Add()([numpy.ones((2, 3)), numpy.ones((2, 3))]).shape
        (2, 3)
    """

    def _merge(self, xs):
        self._count = len(xs)
        return sum(xs[1:], xs[0])

    def _merge_backward(self, dy):
        return [dy] * self._count


class Subtract(_Merge):
    """Subtracts the second of exactly two inputs from the first: ``Subtract()([a, b])`` is ``a - b``."""
    min_inputs = max_inputs = 2
    count_rule = "A `Subtract` layer should be called on exactly 2 inputs"

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _merge_backward(self, dy):
        return [dy, -dy]


class Multiply(_Merge):
    """Multiplies a list of inputs element-wise: ``Multiply()([a, b])`` is ``a * b``."""

    def _merge(self, xs):
        self._xs = xs
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def _merge_backward(self, dy):
        grads = []
        for i in range(len(self._xs)):
            grad = dy
            for j, x in enumerate(self._xs):
                if j != i:
                    grad = grad * x
            grads.append(grad)
        return grads


class Average(_Merge):
    """Averages a list of inputs element-wise: ``Average()([a, b])`` is ``(a + b) / 2``."""

    def _merge(self, xs):
        self._count = len(xs)
        return sum(xs[1:], xs[0]) / self._count

    def _merge_backward(self, dy):
        return [dy / self._count] * self._count


class _Extremum(_Merge):
    """Maximum and Minimum. The gradient goes to the input that holds the result; where several inputs tie,
    all of it goes to the first of them (the lowest index), the others get zero."""
    _op = None      # "maximum" or "minimum"
    _beats = None   # operator.gt or operator.lt

    def _merge(self, xs):
        xp = backend.get_array_module(xs[0])
        y, self._count, self._winner = xs[0], len(xs), 0
        for i, x in enumerate(xs[1:], start=1):
            self._winner = xp.where(self._beats(x, y), i, self._winner)  # strict: a tie keeps the earlier
            y = getattr(xp, self._op)(y, x)
        return y

    def _merge_backward(self, dy):
        return [dy * (self._winner == i) for i in range(self._count)]


class Maximum(_Extremum):
    """Element-wise maximum of a list of inputs. Ties: the gradient goes to the first input holding the maximum."""
    _op, _beats = "maximum", operator.gt


class Minimum(_Extremum):
    """Element-wise minimum of a list of inputs. Ties: the gradient goes to the first input holding the minimum."""
    _op, _beats = "minimum", operator.lt


class Concatenate(_MultiInput):
    """Concatenates a list of inputs along ``axis``.

    Args:
        axis: the concatenation axis (default -1, the last).

    Input shape: a list of at least 1 shape, all of one rank and equal on every axis but ``axis``.
    Output shape: the inputs' shape with the sizes along ``axis`` summed.
    Mask: Keras' rule. With masks on some inputs, each missing mask counts as all True, each mask is
    broadcast over its input's trailing axes, the masks are concatenated along ``axis`` and reduced with
    "any" over the last axis.

    Example:
        >>> Concatenate(axis=1)([numpy.ones((2, 2, 5)), numpy.ones((2, 1, 5))]).shape
        (2, 3, 5)
    """
    min_inputs = 1
    count_rule = "A `Concatenate` layer should be called on a list of at least 1 input"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = integer("Concatenate", "axis", axis)

    def _axis(self, shapes):
        rank = len(shapes[0])
        if not -rank <= self.axis < rank:
            raise self._error(f"axis={self.axis} is out of range for inputs of rank {rank}. "
                              f"Received: input_shape={shapes}")
        return self.axis % rank

    def compute_output_shape(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        axis = self._axis(shapes)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or any(
                len({s[a] for s in shapes} - {None}) > 1 for a in range(rank) if a != axis):
            raise self._error("A `Concatenate` layer requires inputs with matching shapes except for the "
                              f"concatenation axis. Received: input_shape={shapes}")
        sizes = [s[axis] for s in shapes]
        output_shape = list(shapes[0])
        output_shape[axis] = None if None in sizes else sum(sizes)
        return tuple(output_shape)

    def forward(self, inputs, training=False):
        shapes = self._shapes_of(inputs)
        self._concat_axis = axis = self._axis(shapes)
        self._sizes = [s[axis] for s in shapes]
        return backend.get_array_module(inputs[0]).concatenate(inputs, axis=self._concat_axis)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        ends = list(itertools.accumulate(self._sizes))[:-1]
        return [xp.ascontiguousarray(g) for g in xp.split(dy, ends, axis=self._concat_axis)]

    def forward_masked(self, inputs, mask, training=False):
        masks = self._checked_masks(inputs, mask)
        y = self.forward(inputs, training)
        if all(m is None for m in masks):
            return y, None
        xp = backend.get_array_module(y)
        full = [xp.ones(x.shape, dtype=bool) if m is None else
                xp.broadcast_to(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x.shape) for x, m in zip(inputs, masks)]
        return y, xp.concatenate(full, axis=self._concat_axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_MultiInput):
    """Dot product of two inputs along one axis of each, sample by sample (Keras' ``batch_dot``).

    Args:
        axes: an int (the same axis of both inputs) or a pair ``(axis of the first, axis of the second)``;
            negative axes count from the end; never 0 (the batch axis).
        normalize: L2-normalise both inputs along their dot axes first, as Keras does
            (``x / sqrt(max(sum(x**2), 1e-12))``), so the output is the cosine similarity.

    Input shape: two shapes of rank >= 2 with equal sizes along the dot axes.
    Output shape: ``(batch,)`` + the first input's other axes + the second input's other axes; ``(batch, 1)``
    when nothing is left (two ``(batch, n)`` inputs). Mask: none.

    Example:
        >>> Dot(axes=(1, 2))([numpy.ones((1, 5, 2)), numpy.ones((1, 2, 5))]).shape
        (1, 2, 2)
    """
    min_inputs = max_inputs = 2
    count_rule = "A `Dot` layer should be called on a list of 2 inputs"

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not is_integer(axes):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Dot: invalid type for argument `axes`: it should be a list or an int. "
                                f"Received: axes={axes!r}")
            if len(axes) != 2:
                raise ValueError(f"Dot: invalid format for argument `axes`: it should contain two elements. "
                                 f"Received: axes={axes!r}")
            if not all(is_integer(a) for a in axes):
                raise ValueError(f"Dot: invalid format for argument `axes`: list elements should be integers. "
                                 f"Received: axes={axes!r}")
        self.axes = int(axes) if is_integer(axes) else tuple(int(a) for a in axes)
        self.normalize = bool(normalize)

    def _dot_axes(self, shapes):
        """The two dot axes, non-negative, checked against the two input shapes."""
        s1, s2 = shapes
        if len(s1) < 2 or len(s2) < 2:
            raise self._error("Cannot do batch_dot on inputs with rank < 2. "
                              f"Received inputs with shapes {s1} and {s2}.")
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        if not all(-len(s) <= a < len(s) for a, s in zip(pair, shapes)):
            raise self._error(f"axes={self.axes} is out of range for inputs of shapes {s1} and {s2}.")
        a1, a2 = (a % len(s) for a, s in zip(pair, shapes))
        if 0 in (a1, a2):
            raise self._error("Cannot perform batch_dot over axis 0 (the batch axis). Received: "
                              f"axes={self.axes} for inputs of shapes {s1} and {s2}")
        if None not in (s1[a1], s2[a2]) and s1[a1] != s2[a2]:
            raise self._error(f"Incompatible input shapes: axis values {s1[a1]} (at axis {a1}) != {s2[a2]} "
                              f"(at axis {a2}). Full input shapes: {s1}, {s2}")
        if None not in (s1[0], s2[0]) and s1[0] != s2[0]:
            raise self._error("Cannot do batch_dot on inputs with different batch sizes. "
                              f"Received inputs with shapes {s1} and {s2}.")
        return a1, a2

    def compute_output_shape(self, input_shape):
        s1, s2 = shapes = self._checked_shapes(input_shape)
        a1, a2 = self._dot_axes(shapes)
        rest = s1[1:a1] + s1[a1 + 1:] + s2[1:a2] + s2[a2 + 1:]
        return (s1[0],) + (rest or (1,))

    def forward(self, inputs, training=False):
        """Notation: N batch, K the dot axes' size, P and Q the sizes of the first and second input's other axes."""
        shapes = self._shapes_of(inputs)
        xp = backend.get_array_module(inputs[0])
        self._axes_now = a1, a2 = self._dot_axes(shapes)
        x1, x2 = inputs
        self._normalized = [_l2_normalize(x1, a1), _l2_normalize(x2, a2)] if self.normalize else None
        if self.normalize:
            x1, x2 = self._normalized[0][0], self._normalized[1][0]
        N, K = x1.shape[0], x1.shape[a1]
        x1_moved, x2_moved = xp.moveaxis(x1, a1, -1), xp.moveaxis(x2, a2, 1)
        self._moved_shapes = x1_moved.shape, x2_moved.shape
        self._X, self._Y = x1_moved.reshape(N, -1, K), x2_moved.reshape(N, K, -1)   # (N, P, K), (N, K, Q)
        return (self._X @ self._Y).reshape(self.compute_output_shape(shapes))

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        a1, a2 = self._axes_now
        dZ = dy.reshape(self._X.shape[0], self._X.shape[1], self._Y.shape[2])   # (N, P, Q)
        # ==== dx1 ====
        dx1 = xp.moveaxis((dZ @ self._Y.transpose(0, 2, 1)).reshape(self._moved_shapes[0]), -1, a1)
        # ==== dx2 ====
        dx2 = xp.moveaxis((self._X.transpose(0, 2, 1) @ dZ).reshape(self._moved_shapes[1]), 1, a2)
        if self.normalize:
            dx1 = _l2_normalize_backward(dx1, *self._normalized[0], a1)
            dx2 = _l2_normalize_backward(dx2, *self._normalized[1], a2)
        return [xp.ascontiguousarray(dx1), xp.ascontiguousarray(dx2)]

    def forward_masked(self, inputs, mask, training=False):
        self._checked_masks(inputs, mask)
        return self.forward(inputs, training), None

    def get_config(self):
        axes = self.axes if isinstance(self.axes, int) else list(self.axes)
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    """``(x / norm, norm, live)`` with ``norm = sqrt(max(sum(x**2, axis), 1e-12))`` (keepdims) and ``live`` where
    the floor is not reached (there the norm depends on x)."""
    xp = backend.get_array_module(x)
    square_sum = (x * x).sum(axis=axis, keepdims=True)
    norm = xp.sqrt(xp.maximum(square_sum, 1e-12))
    return x / norm, norm, square_sum > 1e-12


def _l2_normalize_backward(d_normalized, normalized, norm, live, axis):
    """Gradient of ``x / norm`` from that of its output: ``(g - u * sum(g * u)) / norm`` with u = x / norm where the
    norm is live, ``g / norm`` where it is the constant floor."""
    projection = (d_normalized * normalized).sum(axis=axis, keepdims=True) * live
    return (d_normalized - normalized * projection) / norm


def add(inputs, **kwargs):
    """Functional form of Add: ``add([a, b])`` is ``Add()([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of Subtract: ``subtract([a, b])`` is ``Subtract()([a, b])``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of Multiply: ``multiply([a, b])`` is ``Multiply()([a, b])``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of Average: ``average([a, b])`` is ``Average()([a, b])``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of Maximum: ``maximum([a, b])`` is ``Maximum()([a, b])``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of Minimum: ``minimum([a, b])`` is ``Minimum()([a, b])``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of Concatenate: ``concatenate([a, b], axis=1)`` is ``Concatenate(axis=1)([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of Dot: ``dot([a, b], axes=1)`` is ``Dot(axes=1)([a, b])`` (axes default -1, as Keras')."""
    return Dot(axes=axes, **kwargs)(inputs)
