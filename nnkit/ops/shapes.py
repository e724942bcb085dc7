"""Shape rules of the ops (sizes may be None: unknown until the data comes) and the gradient's inverse of
broadcasting."""
from .. import backend


def broadcast_shapes(*shapes):
    """NumPy's broadcasting of ``shapes`` (tuples, or None for a Python number), None where a size is unknown."""
    shapes = [shape for shape in shapes if shape is not None]
    rank = max((len(shape) for shape in shapes), default=0)
    result = []
    for axis in range(rank):
        sizes = [shape[axis - rank + len(shape)] for shape in shapes if axis - rank + len(shape) >= 0]
        known = {size for size in sizes if size is not None and size != 1}
        if len(known) > 1:
            raise ValueError(f"Shapes {tuple(shapes)} cannot be broadcast together.")
        if known:
            result.append(known.pop())
        elif any(size is None for size in sizes):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def elementwise(**shapes):
    """The rule of an element-wise op: its tensor arguments broadcast together."""
    return broadcast_shapes(*[shape for shape in shapes.values() if isinstance(shape, tuple) or shape is None])


def unbroadcast(grad, shape):
    """``grad`` summed back to ``shape`` (None: a Python number, whose gradient is not needed)."""
    if shape is None or grad is None:
        return None
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, size in enumerate(shape)
                                       if size == 1 and grad.shape[extra + i] != 1)
    total = grad.sum(axis=axes, keepdims=True) if axes else grad
    return total.reshape(shape)


def normalize_axis(axis, ndim):
    """``axis`` (an int, a tuple, or None for all) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}.")
        result.append(a % ndim)
    return tuple(sorted(result))


def reduced_shape(shape, axis, keepdims):
    """The shape after reducing ``axis`` (see ``normalize_axis``)."""
    axes = normalize_axis(axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes)


def xp_of(*values):
    """The array module of the first array among ``values`` (NumPy for Python numbers only)."""
    for value in values:
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            return backend.get_array_module(value)
    return backend.xp()
