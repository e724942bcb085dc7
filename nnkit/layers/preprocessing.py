"""Preprocessing layers with Keras' names and arguments: Rescaling, Normalization, Resizing, CenterCrop.

They act alike in training and at inference, and each is a fixed linear map of its input, with the backward
that goes with it, so they may sit anywhere in a model. Images are NHWC with a batch axis; integer images
(uint8 pixels) come out as floats (``floatx``).
"""
import numpy

from .. import backend
from ..primitives import image
from .base import Layer, positive_int

#: Keras' ``backend.epsilon()``: the floor of Normalization's standard deviation.
EPSILON = 1e-7


def float_input(x):
    """Integer images as ``floatx`` (Keras' layers compute in floats); float inputs unchanged."""
    return x if x.dtype.kind == "f" else x.astype(backend.floatx())


def sized_output_shape(layer, input_shape):
    """The shape of ``layer``'s output images, ``(batch, layer.height, layer.width, channels)``."""
    check_images(layer, input_shape)
    return (input_shape[0], layer.height, layer.width, input_shape[3])


def check_images(layer, shape):
    """A ValueError naming ``layer`` unless ``shape`` is that of a batch of images ``(N, H, W, C)``."""
    if len(shape) != 4:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects images of rank 4 (batch, height, "
                         f"width, channels), but received input of shape {tuple(shape)}.")


def _numbers(layer_name, argument, value):
    """A float, or nested lists of floats (``scale=[1, 0.5, 0.25]`` scales each channel); all finite."""
    array = numpy.asarray(value)
    if array.dtype.kind not in "iuf" or not numpy.isfinite(array).all():
        raise ValueError(f"{layer_name}: expected a finite number or a list of finite numbers for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return float(array) if array.ndim == 0 else array.astype(float).tolist()


class Rescaling(Layer):
    """Rescales the input: ``x * scale + offset`` (``Rescaling(1 / 255)`` maps pixels to [0, 1]).

    Args:
        scale: a number, or a list broadcast over the last axes (one scale per channel).
        offset: a number or a list, likewise (default 0).

    Input shape: any. Output shape: the same.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _numbers("Rescaling", "scale", scale)
        self.offset = _numbers("Rescaling", "offset", offset)

    def forward(self, x, training=False):
        x = float_input(x)
        xp = backend.get_array_module(x)
        self._scale = xp.asarray(self.scale, dtype=x.dtype)
        return x * self._scale + xp.asarray(self.offset, dtype=x.dtype)

    def backward(self, dy):
        return dy * self._scale if self.needs_input_gradient else None

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Standardizes features: ``(x - mean) / sqrt(variance)`` with a mean and variance per index of the kept
    ``axis``, given or learned from data with ``adapt``.

    Args:
        axis: the axis (or tuple of axes) that keep their own statistics (default -1: per feature or channel);
            None: one mean and variance for everything.
        mean, variance: given statistics (both or neither), broadcast to the kept axes; the layer then has no
            weights. Without them the layer has Keras' three non-trainable weights ``mean``, ``variance`` (in
            the kept axes' shape) and ``count`` (an int32 scalar Keras keeps for old files and never updates),
            set by ``adapt``.
        invert: apply the inverse map, ``mean + x * sqrt(variance)``.

    The standard deviation is floored at 1e-7 (Keras' epsilon), so a constant feature does not divide by 0.

    Input shape: any, rank >= 1. Output shape: the same.

    Example:
        >>> layer = Normalization(axis=None)
        >>> layer.adapt(numpy.array([1.0, 2.0, 3.0, 4.0, 5.0]))
        >>> layer(numpy.array([1.0, 2.0, 3.0]))
        array([-1.4142135 , -0.70710677,  0.        ], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        axes = () if axis is None else tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if any(isinstance(a, bool) or not isinstance(a, (int, numpy.integer)) for a in axes):
            raise ValueError(f"Normalization: expected an integer, a tuple of integers or None for `axis`. "
                             f"Received: axis={axis!r}")
        self.axis = tuple(int(a) for a in axes)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both `mean` and `variance`, or neither. "
                             f"Received: mean={mean!r}, variance={variance!r}")
        if mean is not None:
            mean, variance = _numbers("Normalization", "mean", mean), _numbers("Normalization", "variance", variance)
            if numpy.shape(mean) != numpy.shape(variance):
                raise ValueError(f"Normalization: `mean` and `variance` must have the same shape. Received shapes "
                                 f"{numpy.shape(mean)} and {numpy.shape(variance)}.")
            if numpy.ndim(mean) > len(self.axis):
                raise ValueError(f"Normalization: `mean` has more axes ({numpy.ndim(mean)}) than `axis` keeps "
                                 f"({self.axis}).")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)

    def _kept_axes(self, shape):
        ndim = len(shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}' (Normalization): axis={self.axis} is out of range for input of "
                             f"shape {tuple(shape)}.")
        kept = tuple(sorted(a % ndim for a in self.axis))
        if any(shape[a] is None for a in kept):
            raise ValueError(f"Layer '{self.name}' (Normalization): the kept axes {self.axis} must have a known "
                             f"size. Received input shape {tuple(shape)}.")
        return kept

    def build(self, input_shape):
        self._kept = self._kept_axes(input_shape)
        self._broadcast = tuple(input_shape[a] if a in self._kept else 1 for a in range(len(input_shape)))
        shape = tuple(input_shape[a] for a in self._kept)
        if self.input_mean is None:
            self.add_weight(name="mean", shape=shape, initializer="zeros", trainable=False)
            self.add_weight(name="variance", shape=shape, initializer="ones", trainable=False)
            self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
            self.count = backend.xp().zeros((), dtype=numpy.int32)  # Keras' dtype "int"
            return
        # Given statistics align with the kept axes from the right, then broadcast over them.
        aligned = [1] * len(input_shape)
        for axis, size in zip(reversed(self._kept), reversed(numpy.shape(self.input_mean))):
            aligned[axis] = size
        try:
            self._given = [numpy.broadcast_to(numpy.reshape(value, aligned), self._broadcast)
                           for value in (self.input_mean, self.input_variance)]
        except ValueError:
            raise ValueError(f"Layer '{self.name}' (Normalization): mean and variance of shape "
                             f"{numpy.shape(self.input_mean)} do not broadcast to the kept axes {self.axis} of "
                             f"input shape {tuple(input_shape)}.") from None

    def adapt(self, data):
        """Set the ``mean`` and ``variance`` weights to those of ``data`` (an array: a batch of samples, NumPy or
        on the device), over every axis but the kept ones. Builds the layer on first use."""
        data = numpy.asarray(backend.to_host(data))
        if data.dtype.kind not in "biuf" or data.ndim == 0:
            raise TypeError(f"Layer '{self.name}' (Normalization): adapt() expects an array of numbers with a batch "
                            f"axis. Received dtype {data.dtype}, shape {data.shape}.")
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' (Normalization) was given its mean and variance; it cannot adapt.")
        kept = self._kept_axes(data.shape)
        if not self.built:
            self.build_for(data.shape if 0 in kept else (None,) + data.shape[1:])
        elif any(data.shape[a] != self.mean.shape[i] for i, a in enumerate(kept)):
            raise ValueError(f"Layer '{self.name}' (Normalization) was built for kept axes of sizes "
                             f"{tuple(self.mean.shape)}, but adapt() received data of shape {data.shape}.")
        reduce = tuple(a for a in range(data.ndim) if a not in kept)
        xp = backend.get_array_module(self.mean)
        self.mean[...] = xp.asarray(data.mean(axis=reduce, dtype=numpy.float64), dtype=self.mean.dtype)
        self.variance[...] = xp.asarray(data.var(axis=reduce, dtype=numpy.float64), dtype=self.variance.dtype)

    def forward(self, x, training=False):
        x = float_input(x)
        xp = backend.get_array_module(x)
        if x.ndim != len(self._broadcast) or any(x.shape[a] != self._broadcast[a] for a in self._kept):
            raise ValueError(f"Layer '{self.name}' (Normalization) expects inputs of shape "
                             f"{tuple(None if a not in self._kept else n for a, n in enumerate(self._broadcast))}, "
                             f"but received input of shape {tuple(x.shape)}.")
        if self.input_mean is None:
            mean, variance = (w.reshape(self._broadcast).astype(x.dtype) for w in (self.mean, self.variance))
        else:
            mean, variance = (xp.asarray(value, dtype=x.dtype) for value in self._given)
        self._std = xp.maximum(xp.sqrt(variance), x.dtype.type(EPSILON))
        return mean + x * self._std if self.invert else (x - mean) / self._std

    def backward(self, dy):
        if not self.needs_input_gradient:
            return None
        return dy * self._std if self.invert else dy / self._std

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert, "mean": self.input_mean,
                "variance": self.input_variance}


class _WindowResize(Layer):
    """A window of each image resized to ``(self.height, self.width)``: subclasses give ``window(H, W)`` as
    ``(top, left, height, width)`` (it may reach outside the image: padding) and ``resize_arguments()``."""

    def build(self, input_shape):
        check_images(self, input_shape)

    def compute_output_shape(self, input_shape):
        return sized_output_shape(self, input_shape)

    def window(self, H, W):
        """The ``(top, left, height, width)`` window of an ``H x W`` image that is resized."""
        raise NotImplementedError

    def resize_arguments(self):
        """``image.crop_and_resize``'s arguments after the output size (default: bilinear, zero padding)."""
        return ()

    def forward(self, x, training=False):
        x = float_input(x)
        check_images(self, x.shape)
        y, self._saved = image.crop_and_resize(x, self.window(*x.shape[1:3]), (self.height, self.width),
                                               *self.resize_arguments())
        return y

    def backward(self, dy):
        return image.crop_and_resize_backward(dy, self._saved) if self.needs_input_gradient else None


class Resizing(_WindowResize):
    """Resizes images to ``(height, width)``, with half-pixel centres and no antialiasing (Keras 3's resize).

    Args:
        height, width: the output size.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        crop_to_aspect_ratio: first take the largest centred window with the output's aspect ratio, so the
            image is not distorted.
        pad_to_aspect_ratio: first pad the short side equally on both sides with ``fill_value`` to (about) the
            output's aspect ratio.
        fill_mode: ``"constant"``, the only mode (as in Keras). fill_value: the padding value (default 0).
        antialias: False, the only choice.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, height, width, C)``.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, **kwargs):
        super().__init__(**kwargs)
        self.height = positive_int("Resizing", "height", height)
        self.width = positive_int("Resizing", "width", width)
        if interpolation not in image.INTERPOLATIONS:
            raise ValueError(f"Resizing: expected `interpolation` 'bilinear' or 'nearest' (nnkit has no bicubic or "
                             f"lanczos resize). Received: interpolation={interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: only fill_mode='constant' is supported. Received: fill_mode={fill_mode!r}")
        if antialias:
            raise ValueError("Resizing: nnkit resizes without antialiasing; expected antialias=False. "
                             "Received: antialias=True")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = False

    def window(self, H, W):
        if self.crop_to_aspect_ratio:
            return image.aspect_crop(H, W, self.height, self.width)
        if self.pad_to_aspect_ratio:
            return image.aspect_pad(H, W, self.height, self.width)
        return (0, 0, H, W)

    def resize_arguments(self):
        return self.interpolation, self.fill_value

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(_WindowResize):
    """Crops the central ``(height, width)`` window of each image. An image smaller than that on either side is
    instead cropped to the largest centred window of the target's aspect ratio and resized (bilinear) to it, as
    Keras does.

    Args:
        height, width: the output size.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, height, width, C)``.
    """

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height = positive_int("CenterCrop", "height", height)
        self.width = positive_int("CenterCrop", "width", width)

    def window(self, H, W):
        if H >= self.height and W >= self.width:
            return ((H - self.height) // 2, (W - self.width) // 2, self.height, self.width)
        return image.aspect_crop(H, W, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
