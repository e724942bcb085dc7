"""Embedding: integer indices to dense vectors, with a scatter-add backward."""
from .. import backend, initializers, regularizers
from .base import Layer, positive_int


class Embedding(Layer):
    """Turns indices into rows of a ``(input_dim, output_dim)`` matrix: ``embeddings[x]``.

    Args:
        input_dim: vocabulary size (largest index + 1).
        output_dim: size of each vector.
        embeddings_initializer: 'random_uniform' (Keras' "uniform": RandomUniform(-0.05, 0.05)).
        embeddings_regularizer: None.
        mask_zero: True makes index 0 padding: the layer emits the mask ``x != 0`` that recurrent layers
            use to skip padded steps (index 0 then should not be a real token).
        input_length: accepted for Keras 2 scripts; fixes the input shape to ``(batch, input_length)``.

    Input shape: ``(batch, ...)`` integers (floats holding integers are accepted, as ``fit`` passes them).
    Output shape: ``(batch, ..., output_dim)``.

    Example:
        >>> layer = Embedding(1000, 64)
        >>> layer(numpy.array([[4, 20, 7]])).shape
        (1, 3, 64)
    """

    accepts_indices = True  # integer data for it keep their dtype in fit / predict (nnkit.trainer)

    def __init__(self, input_dim, output_dim, embeddings_initializer="random_uniform", embeddings_regularizer=None,
                 mask_zero=False, input_length=None, **kwargs):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (positive_int("Embedding", "input_length", input_length),)
        super().__init__(**kwargs)
        self.input_dim = positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length

    def build(self, input_shape):
        self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                        initializer=self.embeddings_initializer,
                        regularizer=self.embeddings_regularizer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        indices = x.astype(xp.int64) if x.dtype.kind == "f" else x.astype(xp.int64, copy=False)
        if indices.size and (x.dtype.kind == "f" and bool((indices != x).any())):
            raise ValueError(f"Layer '{self.name}' (Embedding) expects integer indices, but received "
                             f"non-integer values in an input of shape {tuple(x.shape)}.")
        if indices.size:
            low, high = int(indices.min()), int(indices.max())
            if low < 0 or high >= self.input_dim:
                raise ValueError(f"Layer '{self.name}' (Embedding) expects indices in [0, {self.input_dim}), "
                                 f"but received {low if low < 0 else high} (input shape {tuple(x.shape)}).")
        self._indices = indices
        return self.embeddings[indices]

    def forward_masked(self, x, mask, training=False):
        y = self.forward(x, training=training)
        return y, (self._indices != 0 if self.mask_zero else mask)

    def backward(self, dy):
        # ==== dE: rows hit several times accumulate (scatter-add) ====
        if "embeddings" in self.grads:
            grad = self.grads["embeddings"]
            grad[...] = 0
            backend.scatter_add(grad, self._indices.reshape(-1), dy.reshape(-1, self.output_dim))
        # Indices have no gradient.
        if not self.needs_input_gradient:
            return None
        return backend.get_array_module(dy).zeros(self._indices.shape, dtype=dy.dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}
