"""Regularization by noise: SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout.

Each is the identity at inference (``training=False``) and draws its noise in training from nnkit.backend's
generators, as Dropout does: the global one (``nnkit.utils.set_random_seed``), or one of its own when given
``seed``. The backward multiplies by what the forward multiplied the input with.
"""
import math

from .. import backend
from .._arguments import number
from .base import Layer
from .core import Dropout


def standard_normal(rng, shape, dtype):
    """Standard-normal draws of ``dtype`` from one of nnkit.backend's generators, which draw uniforms on
    [0, 1): Box & Muller (1958), ``sqrt(-2 log(1 - u1)) * cos(2 pi u2)``."""
    u1, u2 = rng.random(shape, dtype=dtype), rng.random(shape, dtype=dtype)
    xp = backend.get_array_module(u1)
    return xp.sqrt(-2 * xp.log1p(-u1)) * xp.cos((2 * math.pi) * u2)


class _SpatialDropout(Dropout):
    """Dropout of whole channels: one draw per (sample, channel), shared by every position."""
    rank = None

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def build(self, input_shape):
        self._check_rank(input_shape)

    def _mask_shape(self, input_shape):
        return self._channel_mask_shape(self._check_rank(tuple(input_shape)))

    def _check_rank(self, shape):
        if len(shape) != self.rank:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects an input of rank {self.rank}, "
                             f"but received input of shape {tuple(shape)}.")
        return shape

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return config


class SpatialDropout1D(_SpatialDropout):
    """Spatial 1D dropout: in training, zeroes whole channels (the same ones at every time step) with
    probability ``rate`` and scales the others by ``1 / (1 - rate)``; the identity at inference (Tompson et al.
    2015, https://arxiv.org/abs/1411.4280).

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).

    Input shape: ``(batch, steps, channels)``. Output shape: the same.
    """
    rank = 3

    def _channel_mask_shape(self, shape):
        return (shape[0], 1, shape[2])


class SpatialDropout2D(_SpatialDropout):
    """Spatial 2D dropout: in training, zeroes whole feature maps with probability ``rate`` and scales the
    others by ``1 / (1 - rate)``; the identity at inference (Tompson et al. 2015).

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (the default, ``None``: nnkit's layout) or ``"channels_first"``.
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).

    Input shape: ``(batch, height, width, channels)`` (``(batch, channels, height, width)`` with
    ``channels_first``). Output shape: the same.
    """
    rank = 4

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"SpatialDropout2D: expected `data_format` to be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format or "channels_last"

    def _channel_mask_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` in training; the identity at inference.

    Args:
        stddev: the noise's standard deviation, in [0, 1] (as Keras).
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).

    Input shape: any. Output shape: the same.
    """
    _rng = Dropout._rng  # the same generators as Dropout

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = number("GaussianNoise", "stddev", stddev, low=0, high=1)
        self.seed = seed
        self._own_rng = None

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x
        return x + self.stddev * standard_normal(self._rng(), x.shape, x.dtype)

    def backward(self, dy):
        return dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Dropout):
    """Multiplies the input by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in
    training (Srivastava et al. 2014, section 10); the identity at inference. The mean is kept.

    Args:
        rate: the drop probability of the equivalent Dropout, in [0, 1).
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).

    Input shape: any. Output shape: the same.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        stddev = math.sqrt(self.rate / (1 - self.rate))
        self._mask = 1 + stddev * standard_normal(self._rng(), x.shape, x.dtype)
        return x * self._mask

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return config


class AlphaDropout(Dropout):
    """Dropout for self-normalizing networks (SELU; Klambauer et al. 2017, https://arxiv.org/abs/1706.02515): in
    training, sets a ``rate`` fraction of the inputs to SELU's negative saturation value ``-alpha * scale`` and
    applies the affine map ``a * x + b`` that keeps the mean and variance of zero-mean, unit-variance inputs;
    the identity at inference.

    Args:
        rate: fraction of the inputs to drop, in [0, 1).
        noise_shape: shape of the mask, broadcast over the input; ``None`` entries take the input's size.
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).

    Input shape: any. Output shape: the same.
    """
    #: SELU's constants: ``alpha_p = -ALPHA * SCALE`` is the value a dropped input takes before the affine map.
    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        alpha_p = -self.ALPHA * self.SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        keep = self._rng().random(self._mask_shape(x.shape), dtype=x.dtype) >= self.rate
        self._mask = keep * x.dtype.type(a)   # the backward's factor, as Dropout's
        return x * self._mask + (~keep * x.dtype.type(a * alpha_p) + x.dtype.type(b))
