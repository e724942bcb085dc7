"""MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D (channels-last)."""
from .. import backend, primitives
from .base import Layer
from .conv import pair, padding_mode


class _Pooling2D(Layer):
    """Shared by the two windowed poolings: arguments, geometry and shape checks."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = pair(kind, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else pair(kind, "strides", strides)
        self.padding = padding_mode(kind, padding)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, H, W, C = input_shape
        if H is None or W is None:
            return (N, None, None, C)
        OH, OW, _, _ = self._geometry(H, W)
        return (N, OH, OW, C)

    def _check_rank(self, shape):
        if len(shape) != 4:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects 4-D input "
                             f"(batch, height, width, channels), but received input of shape {tuple(shape)}.")

    def _geometry(self, H, W):
        (KH, KW), (SH, SW) = self.pool_size, self.strides
        OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, 1, 1, self.padding)
        if OH == 0 or OW == 0:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): the pool size {self.pool_size} is "
                             f"larger than the input's {H}x{W} pixels with padding='valid'.")
        return OH, OW, PH, PW

    def _pool_args(self, x):
        """``(KH, KW, SH, SW, PH, PW, OH, OW)`` for ``x``, after checking its rank."""
        self._check_rank(x.shape)
        OH, OW, PH, PW = self._geometry(x.shape[1], x.shape[2])
        return self.pool_size + self.strides + (PH, PW, OH, OW)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """Max pooling over ``pool_size`` windows.

    Args:
        pool_size: an integer or a pair ``(KH, KW)`` (default ``(2, 2)``).
        strides: an integer or a pair; defaults to ``pool_size``.
        padding: ``'valid'`` or ``'same'`` (padding never wins the maximum).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, C)``.
    The gradient of each window goes to its first maximum (row-major), as in TensorFlow and PyTorch.

    Example:
        >>> MaxPooling2D((2, 2))(numpy.ones((2, 26, 26, 32))).shape
        (2, 13, 13, 32)
    """

    def forward(self, x, training=False):
        self._args, self._x_shape = self._pool_args(x), x.shape
        y, self._saved = primitives.max_pool2d(x, *self._args)
        return y

    def backward(self, dy):
        return primitives.max_pool2d_backward(dy, self._saved, self._x_shape, *self._args)


class AveragePooling2D(_Pooling2D):
    """Average pooling over ``pool_size`` windows.

    Args:
        pool_size: an integer or a pair ``(KH, KW)`` (default ``(2, 2)``).
        strides: an integer or a pair; defaults to ``pool_size``.
        padding: ``'valid'`` or ``'same'`` (with 'same', a window's mean is over its pixels inside the image).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, C)``.

    Example:
        >>> AveragePooling2D(2)(numpy.ones((2, 5, 5, 3))).shape
        (2, 2, 2, 3)
    """

    def forward(self, x, training=False):
        self._args, self._x_shape = self._pool_args(x), x.shape
        return primitives.avg_pool2d(x, *self._args)

    def backward(self, dy):
        return primitives.avg_pool2d_backward(dy, self._x_shape, *self._args)


class GlobalAveragePooling2D(Layer):
    """The mean over the spatial axes: ``(batch, H, W, C) -> (batch, C)``.

    Args:
        keepdims: keep the spatial axes with length 1, giving ``(batch, 1, 1, C)``.

    Example:
        >>> GlobalAveragePooling2D()(numpy.ones((2, 7, 7, 64))).shape
        (2, 64)
    """

    def __init__(self, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        self._check_rank(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, _, _, C = input_shape
        return (N, 1, 1, C) if self.keepdims else (N, C)

    def _check_rank(self, shape):
        if len(shape) != 4:
            raise ValueError(f"Layer '{self.name}' (GlobalAveragePooling2D) expects 4-D input "
                             f"(batch, height, width, channels), but received input of shape {tuple(shape)}.")

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        self._x_shape = x.shape
        return x.mean(axis=(1, 2), keepdims=self.keepdims)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        N, H, W, C = self._x_shape
        share = dy.reshape(N, 1, 1, C) * dy.dtype.type(1.0 / (H * W))
        return xp.broadcast_to(share, self._x_shape).copy()

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}
