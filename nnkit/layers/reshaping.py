"""Shape layers (Keras 3's): Reshape, Permute, RepeatVector, and Masking and Identity, which keep the shape.

None of them has weights; each backward undoes its forward's index map (a reshape, the inverse transposition,
a sum over the repeats). Reshape, Permute and RepeatVector drop an incoming mask, as Keras' layers without
masking support do; Masking makes one, and Identity passes it through.
"""
import math

import numpy

from .. import backend
from .._arguments import is_integer, number
from .base import Layer


class Reshape(Layer):
    """Reshapes each sample to ``target_shape``.

    Args:
        target_shape: the shape of one output sample, without the batch axis; one entry may be -1, inferred
            from the input's size.

    Input shape: any, with as many values per sample as ``target_shape`` holds.
    Output shape: ``(batch, *target_shape)``.

    Example:
        >>> Reshape((-1, 2))(numpy.zeros((5, 3, 4))).shape
        (5, 6, 2)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)):
            raise ValueError(f"Reshape: expected a tuple of integers for `target_shape`. "
                             f"Received: target_shape={target_shape!r}")
        target_shape = tuple(target_shape)
        if any(not is_integer(d) or d < -1 for d in target_shape):
            raise ValueError("Reshape: each dimension in `target_shape` must be a non-negative integer, or `-1` "
                             f"for a single unknown dimension. Received: target_shape={target_shape}")
        if target_shape.count(-1) > 1:
            raise ValueError("Reshape: there must be at most one unknown dimension (-1) in `target_shape`. "
                             f"Received: target_shape={target_shape}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(tuple(input_shape[1:]))

    def _resolved(self, sample_shape):
        """``target_shape`` with its -1 worked out for samples of ``sample_shape`` (None while unknown)."""
        target = self.target_shape
        if None in sample_shape:
            return tuple(None if d == -1 else d for d in target)
        size, known = math.prod(sample_shape), math.prod(d for d in target if d != -1)
        if -1 not in target:
            if size != known:
                raise self._error("The total size of the tensor must be unchanged.", sample_shape)
            return target
        if known == 0 or size % known:
            raise self._error("The total size of the tensor must be unchanged, however, the input size cannot "
                              "be divided by the specified dimensions in target_shape.", sample_shape)
        return tuple(size // known if d == -1 else d for d in target)

    def _error(self, message, sample_shape):
        return ValueError(f"Layer '{self.name}' (Reshape): {message} Received: input_shape={sample_shape}, "
                          f"target_shape={self.target_shape}")

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self._resolved(tuple(x.shape[1:])))

    def forward_masked(self, x, mask, training=False):
        return self.forward(x, training), None

    def backward(self, dy):
        return dy.reshape(self._shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permutes the axes of each sample: ``Permute((2, 1))`` swaps the two axes after the batch axis.

    Args:
        dims: the permutation of the sample axes, numbered from 1 (the batch axis stays first).

    Input shape: ``(batch, d_1, ..., d_k)`` with ``k = len(dims)``.
    Output shape: ``(batch, d_dims[0], ..., d_dims[k-1])``.

    Example:
        >>> Permute((2, 1))(numpy.zeros((5, 10, 64))).shape
        (5, 64, 10)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (tuple, list)) or not all(is_integer(d) for d in dims):
            raise ValueError(f"Permute: expected a tuple of integers for `dims`. Received: dims={dims!r}")
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Permute: invalid permutation argument `dims`. The set of indices in `dims` must be "
                             f"consecutive and start from 1. Received dims={dims}")
        self.dims = tuple(int(d) for d in dims)
        self._inverse = tuple(int(a) for a in numpy.argsort((0,) + self.dims))

    def build(self, input_shape):
        self._check_rank(input_shape)

    def _check_rank(self, shape):
        if len(shape) != len(self.dims) + 1:
            raise ValueError(f"Layer '{self.name}' (Permute) with dims={self.dims} expects an input of rank "
                             f"{len(self.dims) + 1}, but received input of shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        return x.transpose((0,) + self.dims)

    def forward_masked(self, x, mask, training=False):
        return self.forward(x, training), None

    def backward(self, dy):
        return dy.transpose(self._inverse)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeats each input vector ``n`` times.

    Args:
        n: the number of repeats (a positive integer).

    Input shape: ``(batch, features)``.
    Output shape: ``(batch, n, features)``.

    Example:
        >>> RepeatVector(3)(numpy.zeros((5, 32))).shape
        (5, 3, 32)
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)):
            raise TypeError(f"RepeatVector: expected an integer value for `n`. Received: n={n!r} ({type(n).__name__})")
        if n <= 0:
            raise ValueError(f"RepeatVector: expected a positive integer for `n`. Received: n={n}")
        self.n = int(n)

    def build(self, input_shape):
        self._check_rank(input_shape)

    def _check_rank(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Layer '{self.name}' (RepeatVector) expects an input of rank 2 (batch, features), "
                             f"but received input of shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        xp = backend.get_array_module(x)
        return xp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1])).copy()

    def forward_masked(self, x, mask, training=False):
        return self.forward(x, training), None

    def backward(self, dy):
        return dy.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Masking(Layer):
    """Marks the time steps whose features all equal ``mask_value`` as padding, for the layers after it.

    The output mask is ``any(x != mask_value, axis=-1)``, ``(batch, timesteps)`` with True for a real step;
    recurrent layers skip the masked steps. The masked steps' values are set to 0, as in Keras.

    Args:
        mask_value: the value that marks padding (default 0.0).

    Input shape: ``(batch, timesteps, features)`` (any rank: the last axis holds the features).
    Output shape: the input's.

    Example:
        >>> x = numpy.ones((2, 3, 4)); x[0, 2] = 0
        >>> y, mask = Masking().forward_masked(x, None)
        >>> mask.tolist()
        [[True, True, False], [True, True, True]]
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = number("Masking", "mask_value", mask_value)  # (NaN would equal no step: mask nothing)

    def forward(self, x, training=False):
        return self.forward_masked(x, None, training)[0]

    def forward_masked(self, x, mask, training=False):
        keep = (x != self.mask_value).any(axis=-1, keepdims=True)
        self._keep = keep
        return x * keep, keep[..., 0]

    def backward(self, dy):
        return dy * self._keep

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Identity(Layer):
    """Returns its input unchanged (a placeholder); a mask passes through.

    Input shape: any. Output shape: the input's.
    """

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy
