"""MaxPooling1D, AveragePooling1D (the 2-D pooling ops over ``(N, 1, T, C)``), GlobalMaxPooling1D,
GlobalAveragePooling1D (with Keras' mask) and GlobalMaxPooling2D."""
import math

from .. import backend, primitives
from .conv import int_tuple, padding_mode
from .spatial import _Spatial


class _Pooling1D(_Spatial):
    """Shared by the two windowed poolings: arguments, geometry and shape checks."""

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = int_tuple(kind, "pool_size", pool_size, 1)
        self.strides = self.pool_size if strides is None else int_tuple(kind, "strides", strides, 1)
        self.padding = padding_mode(kind, padding)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, T, C = input_shape
        return (N, None if T is None else self._pool_args(T)[-1], C)

    def _pool_args(self, T):
        """``(KH, KW, SH, SW, PH, PW, OH, OW)`` of the 2-D pooling of a ``(1, T)`` image."""
        (K,), (S,) = self.pool_size, self.strides
        _, OT, _, PT = primitives.conv_output_geometry(1, T, 1, K, 1, S, 1, 1, self.padding)
        if OT == 0:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): the pool size {K} is larger than the "
                             f"input's {T} steps with padding='valid'.")
        return (1, K, 1, S, 0, PT, 1, OT)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        N, T, C = x.shape
        self._args, self._x_shape = self._pool_args(T), (N, 1, T, C)
        return self._pool(x.reshape(self._x_shape)).reshape(N, -1, C)

    def backward(self, dy):
        N, _, T, C = self._x_shape
        return self._pool_backward(dy.reshape(N, 1, -1, C)).reshape(N, T, C)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class MaxPooling1D(_Pooling1D):
    """Max pooling over windows of ``pool_size`` steps.

    Args:
        pool_size: an integer (default 2).
        strides: an integer; defaults to ``pool_size``.
        padding: ``'valid'`` or ``'same'`` (padding never wins the maximum).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, new_steps, features)``.
    The gradient of each window goes to its first maximum, as in TensorFlow and PyTorch.

    Example:
        >>> MaxPooling1D(pool_size=2)(numpy.ones((2, 5, 3))).shape
        (2, 2, 3)
    """

    def _pool(self, x):
        y, self._saved = primitives.max_pool2d(x, *self._args)
        return y

    def _pool_backward(self, dy):
        return primitives.max_pool2d_backward(dy, self._saved, self._x_shape, *self._args)


class AveragePooling1D(_Pooling1D):
    """Average pooling over windows of ``pool_size`` steps.

    Args:
        pool_size: an integer (default 2).
        strides: an integer; defaults to ``pool_size``.
        padding: ``'valid'`` or ``'same'`` (with 'same', a window's mean is over its steps inside the input).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, new_steps, features)``.

    Example:
        >>> AveragePooling1D(pool_size=2, strides=1, padding="same")(numpy.ones((2, 5, 3))).shape
        (2, 5, 3)
    """

    def _pool(self, x):
        return primitives.avg_pool2d(x, *self._args)

    def _pool_backward(self, dy):
        return primitives.avg_pool2d_backward(dy, self._x_shape, *self._args)


class _GlobalPooling(_Spatial):
    """Shared by the global poolings: ``(batch, *spatial, C) -> (batch, C)`` or, with keepdims, ``(batch, 1.., C)``."""

    def __init__(self, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0],) + (1,) * self.rank * self.keepdims + (input_shape[-1],)

    def _output(self, y):
        """``y (N, C)`` with the spatial axes kept (length 1) when ``keepdims``."""
        return y.reshape((y.shape[0],) + (1,) * self.rank + (y.shape[1],)) if self.keepdims else y

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class _GlobalMaxPooling(_GlobalPooling):
    """The maximum over the spatial axes; its gradient goes to the first maximum (row-major), as MaxPooling's."""

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        self._x_shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])                     # (N, P, C)
        self._first = flat.argmax(axis=1)                                  # (N, C)
        return self._output(flat.max(axis=1))

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        N, C = self._x_shape[0], self._x_shape[-1]
        positions = xp.arange(math.prod(self._x_shape[1:-1]))
        winners = positions[None, :, None] == self._first[:, None, :]      # (N, P, C)
        return (winners * dy.reshape(N, 1, C)).reshape(self._x_shape)


class GlobalMaxPooling1D(_GlobalMaxPooling):
    """The maximum over the time axis: ``(batch, steps, features) -> (batch, features)``.

    Args:
        keepdims: keep the time axis with length 1, giving ``(batch, 1, features)``.

    A mask is not used (as in Keras) and stops here. The gradient goes to the first maximal step.

    Example:
        >>> GlobalMaxPooling1D()(numpy.ones((2, 5, 3))).shape
        (2, 3)
    """


class GlobalMaxPooling2D(_GlobalMaxPooling):
    """The maximum over the spatial axes: ``(batch, H, W, C) -> (batch, C)``.

    Args:
        keepdims: keep the spatial axes with length 1, giving ``(batch, 1, 1, C)``.

    The gradient goes to the first maximal pixel in row-major order.

    Example:
        >>> GlobalMaxPooling2D()(numpy.ones((2, 7, 7, 64))).shape
        (2, 64)
    """
    rank = 2


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the time axis: ``(batch, steps, features) -> (batch, features)``.

    With a mask (``(batch, steps)``, True = real step) the mean is over the unmasked steps only, as in Keras (a
    sample with every step masked gives zeros, where Keras divides 0 by 0). The output carries no mask.

    Args:
        keepdims: keep the time axis with length 1, giving ``(batch, 1, features)``.

    Example:
        >>> GlobalAveragePooling1D()(numpy.ones((2, 5, 3))).shape
        (2, 3)
    """

    def forward(self, x, training=False):
        return self.forward_masked(x, None, training)[0]

    def forward_masked(self, x, mask, training=False):
        self._check_rank(x.shape)
        xp = backend.get_array_module(x)
        N, T, C = self._x_shape = x.shape
        if mask is None:
            self._weights = None
            return self._output(x.mean(axis=1)), None
        if tuple(mask.shape) != (N, T):
            raise ValueError(f"Layer '{self.name}' (GlobalAveragePooling1D) expects a mask of shape {(N, T)} "
                             f"for inputs of shape {tuple(x.shape)}, but received a mask of shape "
                             f"{tuple(mask.shape)}.")
        kept = xp.asarray(mask).astype(bool)[:, :, None]                   # (N, T, 1)
        counts = xp.maximum(kept.sum(axis=1, keepdims=True), 1).astype(x.dtype)
        self._weights = kept / counts                                       # d y[n] / d x[n, t]
        return self._output(xp.where(kept, x, 0).sum(axis=1) / counts[:, 0]), None

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        N, T, C = self._x_shape
        dy = dy.reshape(N, 1, C)
        if self._weights is None:
            return xp.broadcast_to(dy * dy.dtype.type(1.0 / T), self._x_shape).copy()
        return dy * self._weights.astype(dy.dtype)
