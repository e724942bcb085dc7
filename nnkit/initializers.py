"""Weight initializers (Keras' names and defaults). They draw on the host with nnkit's seeded generator."""
import math

import numpy

from . import backend
from ._registry import Registry

registry = Registry("initializer")


def _fans(shape):
    """Keras' fan computation: Dense (in, out); Conv (KH, KW, C_in, C_out) scaled by the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base of the weight initializers.

    ``initializer(shape, dtype=None)`` returns a NumPy array of ``shape`` in ``dtype`` (default
    ``backend.floatx()``), drawn on the host from ``backend.host_rng()`` so that ``set_random_seed`` makes it
    reproducible. Subclasses write ``draw``.
    """
    def __call__(self, shape, dtype=None):
        dtype = numpy.dtype(dtype or backend.floatx())
        return self.draw(tuple(shape), backend.host_rng()).astype(dtype, copy=False)

    def draw(self, shape, rng):
        """Return a float NumPy array of ``shape`` drawn with ``rng`` (a ``numpy.random.Generator``); the caller casts it."""
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments (by default every instance attribute), so that ``type(self)(**config)`` rebuilds it."""
        return dict(vars(self))


@registry.register("zeros")
class Zeros(Initializer):
    """All zeros."""
    def draw(self, shape, rng):
        return numpy.zeros(shape)


@registry.register("ones")
class Ones(Initializer):
    """All ones."""
    def draw(self, shape, rng):
        return numpy.ones(shape)


@registry.register("constant")
class Constant(Initializer):
    """Every element equal to ``value`` (default 0.0)."""
    def __init__(self, value=0.0):
        self.value = value

    def draw(self, shape, rng):
        return numpy.full(shape, self.value, dtype=numpy.float64)


@registry.register("random_normal")
class RandomNormal(Initializer):
    """Normal with ``mean`` (default 0.0) and ``stddev`` (default 0.05)."""
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def draw(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)


@registry.register("random_uniform")
class RandomUniform(Initializer):
    """Uniform in ``[minval, maxval)``, by default ``[-0.05, 0.05)``."""
    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = minval, maxval

    def draw(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)


class VarianceScaling(Initializer):
    """Keras' variance scaling: variance ``scale / fan`` with ``mode`` choosing the fan."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def draw(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        # Truncated at two standard deviations; 0.8796 is the stddev of a unit normal so truncated.
        stddev = math.sqrt(variance) / 0.87962566103423978
        values = rng.normal(0.0, 1.0, shape)
        outside = numpy.abs(values) > 2
        while outside.any():
            values[outside] = rng.normal(0.0, 1.0, int(outside.sum()))
            outside = numpy.abs(values) > 2
        return values * stddev


@registry.register("glorot_uniform")
class GlorotUniform(VarianceScaling):
    """Glorot & Bengio (2010): uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""
    def __init__(self):
        super().__init__(1.0, "fan_avg", "uniform")


@registry.register("glorot_normal")
class GlorotNormal(VarianceScaling):
    """Glorot & Bengio (2010): a normal truncated at two standard deviations, scaled so that its standard
    deviation is ``sqrt(2 / (fan_in + fan_out))``.
    """
    def __init__(self):
        super().__init__(1.0, "fan_avg", "truncated_normal")


@registry.register("he_uniform")
class HeUniform(VarianceScaling):
    """He et al. (2015): uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""
    def __init__(self):
        super().__init__(2.0, "fan_in", "uniform")


@registry.register("he_normal")
class HeNormal(VarianceScaling):
    """He et al. (2015): a normal truncated at two standard deviations with standard deviation ``sqrt(2 / fan_in)``."""
    def __init__(self):
        super().__init__(2.0, "fan_in", "truncated_normal")


@registry.register("lecun_normal")
class LecunNormal(VarianceScaling):
    """LeCun et al. (1998): a normal truncated at two standard deviations with standard deviation ``sqrt(1 / fan_in)``."""
    def __init__(self):
        super().__init__(1.0, "fan_in", "truncated_normal")


@registry.register("lecun_uniform")
class LecunUniform(VarianceScaling):
    """LeCun et al. (1998): uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""
    def __init__(self):
        super().__init__(1.0, "fan_in", "uniform")


@registry.register("orthogonal")
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix, from the QR decomposition of a Gaussian one (Saxe et al. 2014)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def draw(self, shape, rng):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = numpy.linalg.qr(flat)
        q *= numpy.sign(numpy.diag(r))
        if rows < cols:
            q = q.T
        return numpy.ascontiguousarray(self.gain * q[:rows, :cols].reshape(shape))


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``), a ``{"class_name", "config"}`` dict, or an instance or callable (returned as it is)."""
    return registry.get(identifier)


def serialize(initializer):
    """``{"class_name": ..., "config": {...}}`` for a model file; the fixed presets of VarianceScaling
    (GlorotUniform, HeNormal, ...) take no arguments and store an empty config.
    """
    config = {} if isinstance(initializer, VarianceScaling) and type(initializer) is not VarianceScaling \
        else initializer.get_config()
    return {"class_name": type(initializer).__name__, "config": config}
