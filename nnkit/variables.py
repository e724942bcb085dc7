"""``nnkit.Variable``: a named, assignable array (Keras' ``keras.Variable``), the state of metrics and of code that
keeps its own (optimizers' and layers' weights live in the model's flat buffers instead)."""
import numpy

from . import backend, initializers


class HoldsArray:
    """What reads like an array for a class whose ``value`` is one (a Variable, a GradientTape Tensor)."""

    @property
    def shape(self):
        """The value's shape."""
        return tuple(self.value.shape)

    @property
    def dtype(self):
        """The value's dtype."""
        return self.value.dtype

    @property
    def ndim(self):
        """The value's number of axes."""
        return self.value.ndim

    def numpy(self):
        """The value as a NumPy array (a copy)."""
        return backend.to_host(self.value).copy()

    def __array__(self, dtype=None, copy=None):
        array = backend.to_host(self.value)
        return array if dtype is None else array.astype(dtype)

    def __float__(self):
        return float(backend.to_host(self.value))


class Variable(HoldsArray):
    """An array on the backend that is updated in place: ``assign``, ``assign_add``, ``assign_sub``.

    Args:
        initializer: an initial value (array or number), or an initializer name / object called with ``shape``.
        shape: the shape, when ``initializer`` is an initializer.
        dtype: defaults to the value's (floatx for an initializer or a Python float).
        trainable: accepted for Keras compatibility (nnkit trains layers' weights, not free variables).
        name: the variable's name.
    """

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None):
        if isinstance(initializer, str) or callable(initializer):
            dtype = numpy.dtype(dtype or backend.floatx())
            value = numpy.asarray(initializers.get(initializer)(tuple(shape or ()), dtype), dtype=dtype)
        else:
            value = initializer if backend.is_device_array(initializer) else numpy.asarray(initializer)
            if dtype is None and value.dtype.kind == "f" and not isinstance(initializer, numpy.ndarray):
                dtype = backend.floatx()
            value = value.astype(dtype) if dtype is not None else value
        self.value = backend.to_device(value).copy()
        self._initial = self.value.copy()
        self.trainable, self.name = trainable, name or "variable"

    def assign(self, value):
        """Set the value (broadcast to the shape, cast to the dtype); returns the variable."""
        self.value[...] = _plain(value)
        return self

    def assign_add(self, value):
        """Add to the value in place; returns the variable."""
        self.value += _plain(value)
        return self

    def assign_sub(self, value):
        """Subtract from the value in place; returns the variable."""
        self.value -= _plain(value)
        return self

    def reset(self):
        """Back to the initial value."""
        self.value[...] = self._initial

    def __repr__(self):
        return f"<nnkit.Variable {self.name} shape={self.shape} dtype={self.dtype} value={self.numpy()!r}>"

    # arithmetic reads the value (as Keras variables do)
    def __add__(self, other):
        return self.value + _plain(other)

    __radd__ = __add__

    def __sub__(self, other):
        return self.value - _plain(other)

    def __rsub__(self, other):
        return _plain(other) - self.value

    def __mul__(self, other):
        return self.value * _plain(other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self.value / _plain(other)

    def __rtruediv__(self, other):
        return _plain(other) / self.value

    def __neg__(self):
        return -self.value


def _plain(value):
    """A Variable's (or a tape Tensor's) array; anything else on the backend."""
    if isinstance(value, Variable):
        return value.value
    inner = getattr(value, "value", None)  # a GradientTape Tensor
    if inner is not None and hasattr(inner, "shape"):
        return inner
    return value if backend.is_device_array(value) or isinstance(value, (int, float)) else backend.to_device(
        numpy.asarray(value))
