"""Keras 3's random draws (``keras.random``) on the active backend: normal, uniform, truncated_normal, randint,
categorical, shuffle and dropout.

``seed`` is, as in Keras, one of:

- an int: stateless, the same values at every call with that seed;
- a ``SeedGenerator``: a new seed at every call, the sequence reproducible from the generator's initial seed;
- None: nnkit's global generator (``nnkit.backend.device_rng()``, seeded by ``nnkit.utils.set_random_seed``).

Every draw is built from the uniform ``random(shape, dtype)`` that the generators of both backends offer (NumPy's
Generator, CuPy's RandomState), so it runs alike on NumPy and CuPy: normals by the Box-Muller transform, truncated
normals by redrawing what lies beyond two standard deviations, integers by scaling, categorical samples by the
Gumbel-max trick. ``dropout``, ``shuffle`` and ``categorical`` are ops: on symbolic tensors they become nodes of
the model's graph (drawing anew at each run unless ``seed`` is an int), and dropout and shuffle have gradients.
"""
import math
import random as python_random

import numpy

from . import backend
from .layers.base import unique_name
from .ops.dispatch import operation
from .ops.shapes import xp_of


class SeedGenerator:
    """A seed that changes at every draw it is given to: ``normal(shape, seed=generator)`` twice gives two
    different draws, and two generators made with the same ``seed`` give the same sequence (Keras'
    ``keras.random.SeedGenerator``).

    Args:
        seed: the initial seed (an int); None draws one from Python's ``random`` (seeded by
            ``nnkit.utils.set_random_seed``).
        name: a name (default: a unique one).

    ``state`` is Keras' ``[seed, counter]`` pair (a NumPy int64 array); ``next()`` returns it and advances it.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name or unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = python_random.randint(1, int(1e9))
        if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = numpy.array([int(seed), 0], dtype=numpy.int64)

    def next(self, ordered=True):
        """The current ``[seed, counter]`` (a copy); the state advances (the counter by one, or with
        ``ordered=False`` to a scrambled value, as Keras)."""
        value = self.state.copy()
        if ordered:
            self.state[1] += 1
        else:
            self.state = (self.state + 1) * 5387 % 933199
        return value

    def get_config(self):
        """The constructor arguments: the initial seed as given (None stays None) and the name."""
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """A generator from ``get_config``'s dict (back at the initial state)."""
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name!r} state={self.state.tolist()}>"


def _generator(seed):
    """The backend generator a draw reads: the global one for None, else a fresh one seeded from ``seed``."""
    if seed is None:
        return backend.device_rng()
    if isinstance(seed, SeedGenerator):
        key = seed.next()
    elif isinstance(seed, (int, numpy.integer)) and not isinstance(seed, bool):
        key = (int(seed), 0)
    else:
        raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
                         f"Received: seed={seed} (of type {type(seed)})")
    words = numpy.random.SeedSequence([int(v) % 2**64 for v in key]).generate_state(2, numpy.uint32)
    return backend.new_device_rng((int(words[0]) << 31) | (int(words[1]) >> 1))  # 63 bits: fits both backends


def _shape(shape):
    if isinstance(shape, (int, numpy.integer)):
        return (int(shape),)
    shape = tuple(shape)
    if any(size is None for size in shape):
        raise ValueError(f"Random draws need a fully known shape. Received: shape={shape}")
    return tuple(int(size) for size in shape)


def _float_dtype(name, dtype):
    dtype = numpy.dtype(dtype or backend.floatx())
    if dtype.kind != "f":
        raise ValueError(f"`nnkit.random.{name}` requires a floating point `dtype`. Received: dtype={dtype}")
    return dtype


def _uniform01(rng, shape, dtype):
    """Uniform values in [0, 1): drawn in float32 for float32 (and narrower), else in float64."""
    draw = numpy.float32 if numpy.dtype(dtype).itemsize <= 4 else numpy.float64
    return rng.random(shape, dtype=draw)


def _standard_normal(rng, shape):
    """Float64 standard normal values by the Box-Muller transform (two values per pair of uniforms)."""
    count = math.prod(shape)
    half = (count + 1) // 2
    u1 = rng.random((half,), dtype=numpy.float64)
    u2 = rng.random((half,), dtype=numpy.float64)
    xp = xp_of(u1)
    radius = xp.sqrt(-2 * xp.log1p(-u1))  # log(1 - u1): u1 < 1, so finite
    angle = (2 * math.pi) * u2
    return xp.concatenate([radius * xp.cos(angle), radius * xp.sin(angle)])[:count].reshape(shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Values from a normal distribution of ``mean`` and ``stddev`` (``dtype`` defaults to floatx)."""
    dtype = _float_dtype("normal", dtype)
    return (mean + stddev * _standard_normal(_generator(seed), _shape(shape))).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Values from the uniform distribution on ``[minval, maxval)`` (``dtype``, a float dtype, defaults to
    floatx)."""
    dtype = _float_dtype("uniform", dtype)
    u = _uniform01(_generator(seed), _shape(shape), dtype)
    return (minval + (maxval - minval) * u).astype(dtype, copy=False)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Values from a normal distribution of ``mean`` and ``stddev``, any beyond two standard deviations drawn
    again (Keras' truncated normal)."""
    dtype = _float_dtype("truncated_normal", dtype)
    rng = _generator(seed)
    z = _standard_normal(rng, _shape(shape))
    xp = xp_of(z)
    outside = xp.abs(z) > 2
    count = int(outside.sum())
    while count:
        z[outside] = _standard_normal(rng, (count,))
        outside = xp.abs(z) > 2
        count = int(outside.sum())
    return (mean + stddev * z).astype(dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers from the uniform distribution on ``[minval, maxval)`` (``dtype`` an integer dtype)."""
    dtype = numpy.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"`nnkit.random.randint` requires an integer `dtype`. Received: dtype={dtype}")
    minval, maxval = int(minval), int(maxval)
    if maxval <= minval:
        raise ValueError(f"`nnkit.random.randint` needs minval < maxval. Received: minval={minval}, maxval={maxval}")
    span = maxval - minval
    if span > 2**53:
        raise ValueError("`nnkit.random.randint`: the range [minval, maxval) holds more than 2**53 values.")
    u = _generator(seed).random(_shape(shape), dtype=numpy.float64)
    xp = xp_of(u)
    offsets = xp.minimum(xp.floor(u * span), span - 1)  # u < 1, so floor(u * span) < span; the minimum is a guard
    return (offsets.astype(numpy.int64) + minval).astype(dtype)


def _categorical_shape(logits, num_samples, dtype="int32", seed=None):
    if len(logits) != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, num_classes]. Received a tensor "
                         f"of shape {logits}.")
    return (logits[0], int(num_samples))


@operation("logits", shape=_categorical_shape, dtype=lambda dtypes, arguments: numpy.dtype(arguments["dtype"]).name)
def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` ``(batch_size, num_classes)``, each drawn from
    ``softmax(row)`` (by the Gumbel-max trick): a ``(batch_size, num_samples)`` tensor of ``dtype``."""
    xp = xp_of(logits)
    logits = logits if hasattr(logits, "shape") else xp.asarray(logits)
    _categorical_shape(tuple(logits.shape), num_samples)
    u = _generator(seed).random((logits.shape[0], int(num_samples), logits.shape[1]), dtype=numpy.float64)
    gumbel = -xp.log(-xp.log1p(-u))  # -log(-log(1 - u)), 1 - u in (0, 1]
    samples = (logits.astype(numpy.float64)[:, None, :] + gumbel).argmax(axis=-1)
    return samples.astype(numpy.dtype(dtype)), lambda g: {"logits": None}


def _shuffle_shape(x, axis=0, seed=None):
    return x


@operation("x", shape=_shuffle_shape)
def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order (one permutation of whole slices, as Keras'
    TensorFlow and PyTorch backends do for axis 0). The gradient is unshuffled."""
    xp = xp_of(x)
    x = x if hasattr(x, "shape") else xp.asarray(x)
    axis = axis % x.ndim
    order = xp.asarray(_generator(seed).permutation(x.shape[axis]))
    inverse = xp.argsort(order)
    return xp.take(x, order, axis=axis), lambda g: {"x": xp.take(g, inverse, axis=axis)}


def _dropout_shape(inputs, rate, noise_shape=None, seed=None):
    return inputs


def _noise_shape(noise_shape, shape):
    if noise_shape is None:
        return tuple(shape)
    noise_shape = tuple(noise_shape)
    if len(noise_shape) != len(shape) or any(n is not None and n not in (1, d) for n, d in zip(noise_shape, shape)):
        raise ValueError(f"nnkit.random.dropout: noise_shape {noise_shape} does not broadcast over inputs of shape "
                         f"{tuple(shape)}.")
    return tuple(d if n is None else int(n) for n, d in zip(noise_shape, shape))


@operation("inputs", shape=_dropout_shape)
def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout, always applied: each entry is zeroed with probability ``rate`` and the others scaled by
    ``1 / (1 - rate)``; ``noise_shape`` (None entries: the input's sizes) shares the mask over the axes of size 1.
    The gradient goes through the same mask."""
    if not 0 <= rate <= 1:
        raise ValueError(f"nnkit.random.dropout: `rate` must lie in [0, 1]. Received: rate={rate}")
    xp = xp_of(inputs)
    inputs = inputs if hasattr(inputs, "shape") else xp.asarray(inputs)
    if inputs.dtype.kind != "f":
        inputs = inputs.astype(backend.floatx())
    if rate == 0:
        return inputs, lambda g: {"inputs": g}
    if rate == 1:
        return xp.zeros_like(inputs), lambda g: {"inputs": xp.zeros_like(g)}
    keep = _uniform01(_generator(seed), _noise_shape(noise_shape, inputs.shape), inputs.dtype) >= rate
    mask = keep.astype(inputs.dtype) * inputs.dtype.type(1 / (1 - rate))
    return inputs * mask, lambda g: {"inputs": g * mask}
