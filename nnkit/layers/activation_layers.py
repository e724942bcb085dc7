"""Activation layers (Keras 3's): ReLU, LeakyReLU, PReLU (with a learned slope), ELU and Softmax (with a mask).

Each passes an incoming mask through; Softmax also applies it (masked positions get probability 0).
"""
import warnings

import numpy

from .. import activations, backend, initializers, regularizers
from .._arguments import non_negative_number, number
from .base import Layer


class ReLU(Layer):
    """Rectified linear unit, with Keras' options:

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``.

    Args:
        max_value: the largest output (a number >= 0), or None for no limit.
        negative_slope: the slope below ``threshold`` (>= 0; default 0).
        threshold: where the linear part starts (>= 0; default 0).

    Input shape: any. Output shape: the input's.

    Example:
        >>> ReLU(max_value=10, negative_slope=0.5)(numpy.array([-10.0, -5.0, 0.0, 5.0, 10.0])).tolist()
        [-5.0, -2.5, 0.0, 5.0, 10.0]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        # Keras' checks: each a number >= 0 (max_value None: no limit); nnkit also refuses inf and NaN.
        self.max_value = None if max_value is None else non_negative_number("ReLU", "max_value", max_value)
        self.negative_slope = non_negative_number("ReLU", "negative_slope", negative_slope)
        self.threshold = non_negative_number("ReLU", "threshold", threshold)

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        self._x = x
        positive = x if self.max_value is None else xp.minimum(x, x.dtype.type(self.max_value))
        negative = (x - x.dtype.type(self.threshold)) * x.dtype.type(self.negative_slope) if self.negative_slope \
            else x.dtype.type(0)
        return xp.where(x > self.threshold, positive, negative)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x, dtype = self._x, dy.dtype.type
        # 1 on the linear part, 0 where max_value clips it (there min(x, max_value) is constant), the slope below.
        positive = dtype(1) if self.max_value is None else xp.where(x < self.max_value, dtype(1), dtype(0))
        return dy * xp.where(x > self.threshold, positive, dtype(self.negative_slope))

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky rectified linear unit: ``f(x) = x`` for ``x >= 0``, else ``negative_slope * x``.

    Args:
        negative_slope: the slope for negative inputs (>= 0; default 0.3, Keras 3's layer default, where the
            function ``activations.leaky_relu`` has 0.2). Keras 2's name for it, ``alpha``, is accepted with a
            warning, as Keras 3 does.

    Input shape: any. Output shape: the input's.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = non_negative_number("LeakyReLU", "negative_slope", negative_slope)
        self._activation = activations.LeakyReLU(self.negative_slope)

    def forward(self, x, training=False):
        self._y = self._activation.forward(x)
        return self._y

    def backward(self, dy):
        return self._activation.backward(dy, None, self._y)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU (He et al. 2015): ``f(x) = x`` for ``x >= 0``, else ``alpha * x`` with a learned ``alpha``.

    Args:
        alpha_initializer: initializer of ``alpha`` (default ``"Zeros"``: a plain ReLU to start with).
        alpha_regularizer: regularizer of ``alpha``, or None.
        alpha_constraint: only None (nnkit has no weight constraints).
        shared_axes: the sample axes (numbered from 1) along which one ``alpha`` is shared, e.g. ``[1, 2]`` for
            one slope per channel of ``(batch, height, width, channels)`` feature maps.

    Weights: ``alpha``, of the input's shape without the batch axis, with 1 on the shared axes.

    Input shape: any (the unshared sample axes must have fixed sizes). Output shape: the input's.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if alpha_constraint is not None:
            raise ValueError("PReLU: nnkit has no weight constraints; expected alpha_constraint=None. "
                             f"Received: alpha_constraint={alpha_constraint!r}")
        if shared_axes is not None:
            shared_axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, (int, numpy.integer)) or a < 1 for a in shared_axes):
                raise ValueError("PReLU: expected `shared_axes` to be sample axes numbered from 1 (the batch axis "
                                 f"is 0). Received: shared_axes={shared_axes}")
            shared_axes = [int(a) for a in shared_axes]
        self.shared_axes = shared_axes

    def build(self, input_shape):
        rank = len(input_shape)
        shared = self.shared_axes or []
        if any(a >= rank for a in shared):
            raise ValueError(f"Layer '{self.name}' (PReLU): shared_axes={self.shared_axes} must be axes of the "
                             f"input (1 to {rank - 1}), but received input of shape {tuple(input_shape)}.")
        shape = tuple(1 if axis in shared else d for axis, d in enumerate(input_shape) if axis > 0)
        if None in shape:
            raise ValueError(f"Layer '{self.name}' (PReLU) needs fixed sizes for the axes it does not share "
                             f"(shared_axes={self.shared_axes}), but received input of shape {tuple(input_shape)}.")
        self.add_weight(name="alpha", shape=shape, initializer=self.alpha_initializer,
                        regularizer=self.alpha_regularizer)
        self._summed_axes = (0,) + tuple(shared)

    def forward(self, x, training=False):
        shared = self.shared_axes or []
        if x.ndim != self.alpha.ndim + 1 or any(x.shape[axis] != d for axis, d in enumerate(self.alpha.shape, 1)
                                                 if axis not in shared):
            raise ValueError(f"Layer '{self.name}' (PReLU) was built for samples of shape {self.input_shape[1:]}, "
                             f"but received input of shape {tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        self._x = x
        return xp.where(x > 0, x, self.alpha * x)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x = self._x
        # ==== d alpha: sum over the batch and the shared axes of dy * min(x, 0) ====
        if "alpha" in self.grads:
            self.grads["alpha"][...] = (dy * xp.minimum(x, 0)).sum(axis=self._summed_axes, keepdims=True)[0]
        # ==== dx ====
        if not self.needs_input_gradient:
            return None
        return dy * xp.where(x > 0, dy.dtype.type(1), self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer), "alpha_constraint": None,
                "shared_axes": self.shared_axes}


class ELU(Layer):
    """Exponential linear unit (Clevert et al. 2016): ``f(x) = x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: the scale of the negative part (default 1.0).

    Input shape: any. Output shape: the input's.
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = number("ELU", "alpha", alpha)
        self._activation = activations.ELU(self.alpha)

    def forward(self, x, training=False):
        self._x = x
        self._y = self._activation.forward(x)
        return self._y

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        # For x <= 0, d/dx alpha*(e^x - 1) = y + alpha (read from x, so any sign of alpha works).
        return dy * xp.where(self._x > 0, dy.dtype.type(1), self._y + dy.dtype.type(self.alpha))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over ``axis``: ``exp(x) / sum(exp(x), axis)``, computed stably.

    With a mask (``forward_masked``; True or > 0.5 keeps a position), masked positions get a large negative
    logit before the softmax (-1e9; -3e4 in float16), as in Keras, and exactly 0 after it, so a fully masked
    slice is all zeros. The mask must broadcast to the input, its axes aligned from the right, each of size 1
    or the input's (Keras' rule); it passes through to the next layer.

    A last-axis Softmax at the end of a model compiled with a cross-entropy loss is fused into the loss, as the
    softmax activation of a Dense layer is.

    Args:
        axis: the axis, or a list of axes, normalized over (default -1).

    Input shape: any. Output shape: the input's.

    Example:
        >>> Softmax()(numpy.array([[1.0, 2.0, 1.0]])).round(4).tolist()
        [[0.2119, 0.5761, 0.2119]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, numpy.integer)) for a in axes):
            raise ValueError(f"Softmax: expected an integer or a list of integers for `axis`. Received: axis={axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)
        self._axes = tuple(int(a) for a in axes)
        # What the trainer may fuse into a cross-entropy loss (see nnkit.layers.graph.fusable_activation).
        self.activation = activations.softmax if self._axes == (-1,) else None

    def forward(self, x, training=False):
        return self.forward_masked(x, None, training)[0]

    def forward_masked(self, x, mask, training=False):
        xp = backend.get_array_module(x)
        self._mask = None if mask is None else self._checked_mask(x, mask)
        if self._mask is not None:
            x = xp.where(self._mask, x, x.dtype.type(-3e4 if x.dtype == numpy.float16 else -1e9))
        if self.emit_logits:
            return x, mask
        e = xp.exp(x - x.max(axis=self._axes, keepdims=True))
        y = e / e.sum(axis=self._axes, keepdims=True)
        if self._mask is not None:
            y *= self._mask  # a fully masked slice would be uniform: zero it, as Keras does
        self._y = y
        return y, mask

    def _checked_mask(self, x, mask):
        xp = backend.get_array_module(x)
        mask = xp.asarray(mask)
        if mask.ndim > x.ndim or any(m != 1 and m != d for m, d in zip(mask.shape[::-1], x.shape[::-1])):
            raise ValueError(f"Layer '{self.name}' (Softmax): the `mask` must be broadcastable to `inputs`: each "
                             "mask dimension (aligned from the right) must be 1 or match the input's. Received: "
                             f"inputs.shape={tuple(x.shape)}, mask.shape={tuple(mask.shape)}")
        return mask if mask.dtype == bool else mask > 0.5

    def backward(self, dy):
        if self.emit_logits:
            return dy if self._mask is None else dy * self._mask
        # The masked outputs are 0 (and, where a slice is not fully masked, so is their softmax), so the plain
        # softmax derivative of the output gives 0 there and the right gradient elsewhere.
        y = self._y
        return y * (dy - (dy * y).sum(axis=self._axes, keepdims=True))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
