"""Image augmentation layers with Keras' names and arguments: RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomCrop, RandomContrast, RandomBrightness.

Active only in training (``fit``, or a call with ``training=True``), where each image of the batch gets a random
transform of its own; at inference they pass the images through (RandomCrop crops the centre). The random
parameters are drawn on the host with NumPy, from a generator of the layer's own when it is given ``seed=``
(else from nnkit's global one, see ``set_random_seed``), so one seed gives the same transforms on the CPU and
the GPU; the images are transformed where they live. They have no input gradient in training: they belong at
the start of a model, where their input is the data.
"""
import numpy

from .. import backend
from ..primitives import image
from .base import Layer, positive_int
from .preprocessing import check_images, float_input, sized_output_shape

HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL = "horizontal", "vertical", "horizontal_and_vertical"


def factor_range(layer_name, argument, value, low, high, open_low=False):
    """Keras' ``factor`` arguments: a number ``f`` gives ``(-|f|, |f|)``, a pair its ends in order; each end in
    ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    pair = list(value) if isinstance(value, (list, tuple)) else [value]
    numbers = all(isinstance(v, (int, float, numpy.integer, numpy.floating)) and not isinstance(v, bool)
                  for v in pair)
    if len(pair) not in (1, 2) or not numbers or not all((low < v if open_low else low <= v) and v <= high
                                                          for v in pair):
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{layer_name}: expected `{argument}` to be a number or a pair of numbers in {interval}. "
                         f"Received: {argument}={value!r}")
    if len(pair) == 1:
        return -abs(float(value)), abs(float(value))
    return tuple(sorted(float(v) for v in pair))


def as_list(value):
    """A pair given as a tuple as a list (as JSON gives it back), anything else unchanged."""
    return list(value) if isinstance(value, tuple) else value


def value_range_pair(layer_name, value_range):
    """``value_range``: a pair of numbers ``(low, high)``, put in order."""
    if (not isinstance(value_range, (list, tuple)) or len(value_range) != 2
            or not all(isinstance(v, (int, float, numpy.integer, numpy.floating)) for v in value_range)):
        raise ValueError(f"{layer_name}: expected `value_range` to be a pair of numbers (low, high). "
                         f"Received: value_range={value_range!r}")
    return sorted(float(v) for v in value_range)


class _RandomImageLayer(Layer):
    """Shared by the augmentation layers: the seed and the generator, the image check, the identity at
    inference and the backward. Each layer writes ``transform(x, rng)``, the training-time transform of a batch
    with the random parameters drawn from the NumPy generator ``rng``."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer))):
            raise ValueError(f"{type(self).__name__}: expected an integer or None for `seed`. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own_rng = None
        self._transformed = False

    def build(self, input_shape):
        check_images(self, input_shape)

    def forward(self, x, training=False):
        x = float_input(x)
        check_images(self, x.shape)
        self._transformed = bool(training)
        return self.transform(x, self._rng()) if training else x

    def transform(self, x, rng):
        """The batch ``x (N, H, W, C)`` with a random transform per image drawn from ``rng``."""
        raise NotImplementedError

    def _rng(self):
        if self.seed is None:
            return backend.host_rng()
        if self._own_rng is None:
            self._own_rng = numpy.random.default_rng(self.seed)
        return self._own_rng

    def backward(self, dy):
        if not self.needs_input_gradient:
            return None
        if not self._transformed:
            return dy
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) has no input gradient in training: augmentation layers "
            f"go at the start of a model, where their input is the data, not after layers with weights.")

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomFlip(_RandomImageLayer):
    """Flips each image left-right and/or top-bottom with probability 1/2, in training.

    Args:
        mode: ``"horizontal"`` (left-right), ``"vertical"`` (top-bottom) or ``"horizontal_and_vertical"``
            (default; as in Keras 3, one draw per image flips it both ways or not at all).
        seed: an integer seeds a generator of the layer's own.

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL):
            raise ValueError(f"RandomFlip: expected `mode` 'horizontal', 'vertical' or 'horizontal_and_vertical'. "
                             f"Received: mode={mode!r}")
        self.mode = mode

    def transform(self, x, rng):
        xp = backend.get_array_module(x)
        flips = xp.asarray(rng.random(len(x)) <= 0.5)[:, None, None, None]
        if self.mode != VERTICAL:
            x = xp.where(flips, x[:, :, ::-1], x)
        if self.mode != HORIZONTAL:
            x = xp.where(flips, x[:, ::-1], x)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _RandomAffine(_RandomImageLayer):
    """Shared by the geometric layers: the sampling arguments; each writes ``transforms(rng, N, H, W)``, the
    ``(N, 8)`` Keras transforms of a batch (see ``nnkit.primitives.image``)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        kind = type(self).__name__
        if fill_mode not in image.FILL_MODES:
            raise ValueError(f"{kind}: expected `fill_mode` one of {', '.join(map(repr, image.FILL_MODES))}. "
                             f"Received: fill_mode={fill_mode!r}")
        if interpolation not in image.INTERPOLATIONS:
            raise ValueError(f"{kind}: expected `interpolation` 'bilinear' or 'nearest'. "
                             f"Received: interpolation={interpolation!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def transform(self, x, rng):
        N, H, W, _ = x.shape
        return image.affine_transform(x, self.transforms(rng, N, H, W), self.interpolation, self.fill_mode,
                                      self.fill_value)

    def transforms(self, rng, N, H, W):
        """The ``(N, 8)`` transforms of a batch, drawn from ``rng``."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


_FILL_ARGS = """fill_mode: how points outside the image are filled: ``"reflect"`` (default; ``d c b a | a b c d |
            d c b a``), ``"wrap"`` (``a b c d | a b c d``), ``"constant"`` (``fill_value``) or ``"nearest"``
            (``a a | a b c d | d d``).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: an integer seeds a generator of the layer's own.
        fill_value: the value of ``fill_mode="constant"`` (default 0)."""


class RandomRotation(_RandomAffine):
    __doc__ = f"""Rotates each image about its centre by a random angle, in training.

    Args:
        factor: a fraction of a full turn: ``f`` draws the angle from ``[-f * 360, f * 360]`` degrees, a pair
            ``(lower, upper)`` from ``[lower * 360, upper * 360]``; positive is counter-clockwise. In [-1, 1].
        {_FILL_ARGS}

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = factor_range("RandomRotation", "factor", factor, -1, 1)

    def transforms(self, rng, N, H, W):
        lower, upper = self.factor
        return image.rotation_transforms(rng.uniform(lower * 360, upper * 360, N), H, W)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_RandomAffine):
    __doc__ = f"""Zooms each image in or out about its centre by a random amount, in training.

    Args:
        height_factor: the vertical zoom as a fraction: ``f`` draws it from ``[-f, f]``, a pair ``(lower,
            upper)`` from that range; positive zooms out (shows more), negative zooms in. In (-1, 1].
        width_factor: the same for the horizontal zoom; None (default) zooms both ways alike (keeps the aspect
            ratio).
        {_FILL_ARGS}

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = as_list(height_factor), as_list(width_factor)
        self._height_range = factor_range("RandomZoom", "height_factor", height_factor, -1, 1, open_low=True)
        self._width_range = None if width_factor is None else factor_range(
            "RandomZoom", "width_factor", width_factor, -1, 1, open_low=True)

    def transforms(self, rng, N, H, W):
        height_zoom = 1 + rng.uniform(*self._height_range, N)
        width_zoom = height_zoom if self._width_range is None else 1 + rng.uniform(*self._width_range, N)
        return image.zoom_transforms(width_zoom, height_zoom, H, W)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomTranslation(_RandomAffine):
    __doc__ = f"""Shifts each image by a random number of pixels, in training.

    Args:
        height_factor: the vertical shift as a fraction of the height: ``f`` draws it from ``[-f, f]``, a pair
            ``(lower, upper)`` from that range; positive moves the image down. In [-1, 1].
        width_factor: the same for the horizontal shift (positive moves it right).
        {_FILL_ARGS}

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = as_list(height_factor), as_list(width_factor)
        self._height_range = factor_range("RandomTranslation", "height_factor", height_factor, -1, 1)
        self._width_range = factor_range("RandomTranslation", "width_factor", width_factor, -1, 1)

    def transforms(self, rng, N, H, W):
        dy = rng.uniform(*self._height_range, N) * H
        dx = rng.uniform(*self._width_range, N) * W
        return image.translation_transforms(dx, dy)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomCrop(_RandomImageLayer):
    """Crops a random ``(height, width)`` window of each image in training. At inference, and in training when
    an image is smaller than the window, it takes the largest centred window of the target's aspect ratio and
    resizes it (bilinear) to ``(height, width)`` instead, as Keras documents.

    Args:
        height, width: the output size.
        seed: an integer seeds a generator of the layer's own.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, height, width, C)``.
    """

    def __init__(self, height, width, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = positive_int("RandomCrop", "height", height)
        self.width = positive_int("RandomCrop", "width", width)

    def compute_output_shape(self, input_shape):
        return sized_output_shape(self, input_shape)

    def forward(self, x, training=False):
        x = float_input(x)
        check_images(self, x.shape)
        N, H, W, _ = x.shape
        self._transformed = bool(training) and H >= self.height and W >= self.width
        if self._transformed:
            return self.transform(x, self._rng())
        window = image.aspect_crop(H, W, self.height, self.width)
        y, self._saved = image.crop_and_resize(x, window, (self.height, self.width))
        return y

    def transform(self, x, rng):
        xp = backend.get_array_module(x)
        N, H, W, _ = x.shape
        rows = xp.asarray(rng.integers(0, H - self.height + 1, N))[:, None] + xp.arange(self.height)
        cols = xp.asarray(rng.integers(0, W - self.width + 1, N))[:, None] + xp.arange(self.width)
        return x[xp.arange(N)[:, None, None], rows[:, :, None], cols[:, None, :]]

    def backward(self, dy):
        if not self.needs_input_gradient or self._transformed:
            return super().backward(dy)
        return image.crop_and_resize_backward(dy, self._saved)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomContrast(_RandomImageLayer):
    """Scales each image's contrast by a random factor in training: every channel's pixels move away from (or
    towards) their mean, ``(x - mean) * c + mean``, then are clipped to ``value_range``.

    Args:
        factor: ``f`` draws ``c`` from ``[1 - f, 1 + f]``; a pair ``(lower, upper)`` from ``[1 - lower,
            1 + upper]``. Each in [0, 1].
        value_range: the ``(low, high)`` range of the pixels (default ``(0, 255)``).
        seed: an integer seeds a generator of the layer's own.

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        lower, upper = factor_range("RandomContrast", "factor", factor, 0, 1)
        self.factor = (upper, upper) if not isinstance(factor, (list, tuple)) else (lower, upper)
        self.value_range = value_range_pair("RandomContrast", value_range)

    def transform(self, x, rng):
        xp = backend.get_array_module(x)
        lower, upper = self.factor
        c = xp.asarray(rng.uniform(1 - lower, 1 + upper, len(x)), dtype=x.dtype)[:, None, None, None]
        mean = x.mean(axis=(1, 2), keepdims=True)
        return xp.clip((x - mean) * c + mean, *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": self.value_range}


class RandomBrightness(_RandomImageLayer):
    """Adds a random brightness to each image in training: ``x + d * (high - low)``, clipped to
    ``value_range = (low, high)``.

    Args:
        factor: ``f`` draws ``d`` from ``[-f, f]``, a pair ``(lower, upper)`` from that range. In [-1, 1]:
            -1 makes the image black (``low``), 1 white (``high``).
        value_range: the ``(low, high)`` range of the pixels (default ``(0, 255)``).
        seed: an integer seeds a generator of the layer's own.

    Input shape: ``(batch, H, W, C)``. Output shape: the same.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range("RandomBrightness", "factor", factor, -1, 1)
        self.value_range = value_range_pair("RandomBrightness", value_range)

    def transform(self, x, rng):
        xp = backend.get_array_module(x)
        low, high = self.value_range
        delta = xp.asarray(rng.uniform(*self.factor, len(x)) * (high - low), dtype=x.dtype)[:, None, None, None]
        return xp.clip(x + delta, low, high)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": self.value_range}
