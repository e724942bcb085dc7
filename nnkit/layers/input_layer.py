"""``Input``: the symbolic tensor a functional model (or a Sequential) starts from, and its ``InputLayer``."""
from .. import backend
from .._arguments import is_integer, positive_int, shape_tuple
from .base import Layer, unique_name
from .symbolic import Node


class InputLayer(Layer):
    """The layer behind ``Input``: it has no weights and passes its value through.

    Args:
        shape: the shape of one sample, without the batch axis (None for an axis of any size).
        batch_size: the fixed batch size, or None (any).
        dtype: the input's dtype name (default floatx; e.g. ``"int32"`` for the indices of an Embedding).
        batch_shape: the shape with the batch axis, instead of ``shape`` and ``batch_size``.
        name: defaults to ``input_layer``, ``input_layer_1``, ...
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        if shape is None and batch_shape is None:
            raise ValueError("Input needs `shape`, the shape of one sample, e.g. Input(shape=(784,)).")
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("Input takes `shape` or `batch_shape`, not both. "
                                 f"Received: shape={shape}, batch_shape={batch_shape}")
            batch_shape = tuple(batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        shape = shape_tuple("Input", "shape", (shape,) if is_integer(shape) else shape)
        if batch_size is not None:
            batch_size = positive_int("Input", "batch_size", batch_size)
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        self.batch_shape = (batch_size,) + shape
        self.input_dtype = str(dtype or backend.floatx().name)
        self.built = True
        self.input_shape = self.output_shape = self.batch_shape
        Node(self, None, self.batch_shape, self.input_dtype)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.input_dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A symbolic tensor to build a model from (Keras' ``keras.Input``).

    Args:
        shape: the shape of one sample, without the batch axis, e.g. ``(784,)`` or ``(28, 28, 1)``.
        batch_size, dtype, batch_shape, name: as in Keras (see ``InputLayer``).

    Example:
        >>> inputs = Input(shape=(784,))
        >>> outputs = layers.Dense(10, activation="softmax")(inputs)
        >>> model = nnkit.Model(inputs, outputs)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output
