"""UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D: reshaping of the steps or pixels, channels-last.

Zero padding and cropping are each other's adjoint: the backward of one is the forward of the other.
"""
import numpy

from .. import backend
from ..primitives import image as image_ops
from .base import Layer, positive_int
from .conv import pair


class _Spatial(Layer):
    """Shared by the layers over ``(batch, steps, channels)`` (``rank = 1``) or NHWC images (``rank = 2``)."""
    rank = 1

    def _check_rank(self, shape):
        if len(shape) != self.rank + 2:
            axes = "(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)"
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {self.rank + 2}-D input {axes}, "
                             f"but received input of shape {tuple(shape)}.")

    def forward_masked(self, x, mask, training=False):
        """As in Keras, the layer does not support masking: the mask stops here."""
        return self.forward(x, training=training), None


# ---- upsampling --------------------------------------------------------------------------------------------------

class UpSampling1D(_Spatial):
    """Repeats each step ``size`` times along the time axis.

    Args:
        size: the upsampling factor (default 2).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, steps * size, features)``.

    Example:
        >>> UpSampling1D(size=2)(numpy.arange(6.0).reshape(1, 3, 2))[0].tolist()
        [[0.0, 1.0], [0.0, 1.0], [2.0, 3.0], [2.0, 3.0], [4.0, 5.0], [4.0, 5.0]]
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = positive_int("UpSampling1D", "size", size)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, T, C = input_shape
        return (N, None if T is None else T * self.size, C)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        return backend.get_array_module(x).repeat(x, self.size, axis=1)

    def backward(self, dy):
        N, T, C = dy.shape
        return dy.reshape(N, T // self.size, self.size, C).sum(axis=2)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_Spatial):
    """Upsamples NHWC images by ``size = (SH, SW)``: each pixel repeated (``'nearest'``) or bilinear interpolation.

    Bilinear interpolation is Keras 3's ``ops.image.resize`` (without antialiasing): half-pixel centres, output
    pixel ``i`` reads input position ``(i + 0.5) / SH - 0.5`` (clamped to the image), between its two neighbours;
    it runs as one small interpolation GEMM per axis (``nnkit.primitives.image``).

    Args:
        size: an integer or a pair ``(SH, SW)`` (default ``(2, 2)``).
        interpolation: ``'nearest'`` (default) or ``'bilinear'``.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H * SH, W * SW, C)``.

    Example:
        >>> UpSampling2D(size=(2, 3))(numpy.ones((1, 4, 4, 3))).shape
        (1, 8, 12, 3)
    """
    rank = 2

    def __init__(self, size=(2, 2), interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = pair("UpSampling2D", "size", size)
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: expected interpolation 'nearest' or 'bilinear'. "
                             f"Received: interpolation={interpolation!r}")

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, H, W, C = input_shape
        return (N,) + tuple(None if d is None else d * s for d, s in zip((H, W), self.size)) + (C,)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        xp = backend.get_array_module(x)
        (_, H, W, _), (SH, SW) = x.shape, self.size
        self._x_shape = x.shape
        if self.interpolation == "nearest":
            return xp.repeat(xp.repeat(x, SH, axis=1), SW, axis=2)
        self._rows = xp.asarray(image_ops.interpolation_matrix(H, H * SH), dtype=x.dtype)    # (OH, H)
        self._cols = xp.asarray(image_ops.interpolation_matrix(W, W * SW), dtype=x.dtype)    # (OW, W)
        return image_ops.resize(x, self._rows, self._cols)

    def backward(self, dy):
        (N, H, W, C), (SH, SW) = self._x_shape, self.size
        if self.interpolation == "nearest":
            return dy.reshape(N, H, SH, W, SW, C).sum(axis=(2, 4))
        return image_ops.resize_backward(dy, self._rows, self._cols)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


# ---- zero padding and cropping -------------------------------------------------------------------------------------

def margin_pair(layer_name, argument, value):
    """``n`` or ``(before, after)`` as a pair of non-negative integers, else a ValueError naming the layer."""
    values = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, numpy.integer)) or v < 0
                               for v in values):
        raise ValueError(f"{layer_name}: expected a non-negative integer or a pair of them for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return tuple(int(v) for v in values)


def margin_pairs(layer_name, argument, value):
    """``n``, ``(symmetric_height, symmetric_width)`` or ``((top, bottom), (left, right))`` as a pair of pairs."""
    if not isinstance(value, (tuple, list)):
        value = (value, value)
    if len(value) != 2:
        raise ValueError(f"{layer_name}: expected an integer, a pair, or a pair of pairs for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return tuple(margin_pair(layer_name, argument, v) for v in value)


def pad(x, margins):
    """``x`` with ``margins[i] = (before, after)`` zeros around spatial axis ``i + 1``."""
    xp = backend.get_array_module(x)
    shape = (x.shape[0],) + tuple(d + a + b for d, (a, b) in zip(x.shape[1:-1], margins)) + (x.shape[-1],)
    out = xp.zeros(shape, dtype=x.dtype)
    out[_inner(margins)] = x
    return out


def crop(x, margins):
    """``x`` without ``margins[i] = (before, after)`` entries at the ends of spatial axis ``i + 1``."""
    return backend.get_array_module(x).ascontiguousarray(x[_inner(margins)])


def _inner(margins):
    return (slice(None),) + tuple(slice(a, -b if b else None) for a, b in margins) + (slice(None),)


class _Margins(_Spatial):
    """Zero padding (``sign = 1``) or cropping (``sign = -1``) by ``self._margins()``, per spatial axis."""
    sign = 1

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, *spatial, C = input_shape
        out = [None if d is None else d + self.sign * sum(m) for d, m in zip(spatial, self._margins())]
        if self.sign < 0 and any(o is not None and o <= 0 for o in out):
            kind = type(self).__name__
            raise ValueError(f"Layer '{self.name}' ({kind}): the values in `cropping` should be smaller than the "
                             f"corresponding spatial dimension of the input. Received: input_shape="
                             f"{tuple(input_shape)}, cropping={self.cropping}")
        return (N, *out, C)

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)  # checks the rank and, for cropping, the size
        return pad(x, self._margins()) if self.sign > 0 else crop(x, self._margins())

    def backward(self, dy):
        return crop(dy, self._margins()) if self.sign > 0 else pad(dy, self._margins())


class ZeroPadding1D(_Margins):
    """Adds zero steps at the start and end of the time axis.

    Args:
        padding: an integer (as many zeros at both ends) or a pair ``(before, after)`` (default 1).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, before + steps + after, features)``.

    Example:
        >>> ZeroPadding1D(padding=(1, 2))(numpy.ones((2, 3, 4))).shape
        (2, 6, 4)
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = margin_pair("ZeroPadding1D", "padding", padding)

    def _margins(self):
        return (self.padding,)

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding)}


class ZeroPadding2D(_Margins):
    """Adds rows and columns of zeros around NHWC images.

    Args:
        padding: an integer (the same on all four sides), a pair ``(symmetric_height, symmetric_width)``, or a pair
            of pairs ``((top, bottom), (left, right))`` (default ``(1, 1)``).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, top + H + bottom, left + W + right, C)``.

    Example:
        >>> ZeroPadding2D(padding=((1, 0), (2, 2)))(numpy.ones((2, 3, 3, 1))).shape
        (2, 4, 7, 1)
    """
    rank = 2

    def __init__(self, padding=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.padding = margin_pairs("ZeroPadding2D", "padding", padding)

    def _margins(self):
        return self.padding

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class Cropping1D(_Margins):
    """Removes steps at the start and end of the time axis.

    Args:
        cropping: an integer (as many steps at both ends) or a pair ``(before, after)`` (default ``(1, 1)``).

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, steps - before - after, features)``.

    Example:
        >>> Cropping1D(cropping=1)(numpy.ones((2, 5, 4))).shape
        (2, 3, 4)
    """
    sign = -1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = margin_pair("Cropping1D", "cropping", cropping)

    def _margins(self):
        return (self.cropping,)

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(_Margins):
    """Removes rows and columns at the borders of NHWC images.

    Args:
        cropping: an integer (the same on all four sides), a pair ``(symmetric_height, symmetric_width)``, or a pair
            of pairs ``((top, bottom), (left, right))`` (default ``((0, 0), (0, 0))``).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H - top - bottom, W - left - right, C)``.

    Example:
        >>> Cropping2D(cropping=((2, 2), (4, 4)))(numpy.ones((2, 28, 28, 3))).shape
        (2, 24, 20, 3)
    """
    rank = 2
    sign = -1

    def __init__(self, cropping=((0, 0), (0, 0)), **kwargs):
        super().__init__(**kwargs)
        self.cropping = margin_pairs("Cropping2D", "cropping", cropping)

    def _margins(self):
        return self.cropping

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping]}
