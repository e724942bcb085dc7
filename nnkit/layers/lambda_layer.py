"""Lambda: a layer from a function of tensors, written with ``nnkit.ops`` (Keras' ``layers.Lambda``)."""
from .base import Layer


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer: the function is traced into a graph of ops on first
    use, so it trains like any layer (its ops carry their gradients) but has no weights of its own.

    Args:
        function: a function of the input tensor (or list of tensors) built from ``nnkit.ops`` and layers.
        output_shape: accepted for Keras compatibility; the shape comes from tracing the function.
        mask: accepted only as None (the input's mask passes through).
        arguments: keyword arguments passed to ``function``.

    Example:
        >>> double = Lambda(lambda x: x * 2)
        >>> double(numpy.ones((1, 2)))
        array([[2., 2.]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: function={function!r}")
        if mask is not None:
            raise ValueError("Lambda: nnkit supports mask=None only (the input's mask passes through).")
        self.function, self.output_shape_hint, self.arguments = function, output_shape, dict(arguments or {})

    def call(self, inputs):
        """``function(inputs, **arguments)``."""
        return self.function(inputs, **self.arguments)

    def get_config(self):
        raise TypeError(f"Lambda layer '{self.name}' wraps a Python function, which a config cannot hold; save "
                        f"the model's weights (save_weights) and rebuild it from code.")
