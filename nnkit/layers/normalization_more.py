"""GroupNormalization (Wu & He 2018) and UnitNormalization, with Keras' arguments and weights."""
import numbers

from .. import backend, initializers, regularizers
from .._arguments import integer
from ..primitives import layer_norm as layer_norm_ops
from .base import Layer
from .layer_normalization import axis_list, check_no_constraints, resolve_axes, set_gamma_beta_arguments


class GroupNormalization(Layer):
    """Splits the channels into ``groups`` and normalizes each sample over each group (its channels and every
    other non-batch axis), then scales and shifts per channel: ``gamma * (x - mean) / sqrt(var + epsilon) +
    beta`` (Wu & He 2018, https://arxiv.org/abs/1803.08494). The same in training and at inference.
    ``groups=1`` normalizes over everything but the batch axis; ``groups=-1`` (one channel per group) is
    instance normalization.

    Args:
        groups: the number of groups, a divisor of the number of channels (default 32), or -1.
        axis: the channel axis (default -1).
        epsilon: added to the variance (default 1e-3).
        center: learn the per-channel offset ``beta`` (default True). scale: learn the scale ``gamma`` (default
            True).
        beta_initializer, gamma_initializer: default ``"zeros"`` and ``"ones"``.
        beta_regularizer, gamma_regularizer: default None.
        beta_constraint, gamma_constraint: only None (nnkit has no weight constraints).

    Input shape: any, rank >= 2, with the channel axis known. Output shape: the same.
    Weights (``get_weights()``, Keras' order): gamma ``(channels,)`` (when ``scale``), beta (when ``center``).

    Example:
        >>> GroupNormalization(groups=2)(numpy.ones((2, 5, 5, 4))).shape
        (2, 5, 5, 4)
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        check_no_constraints("GroupNormalization", beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: expected a positive integer for `groups` (or -1 for instance "
                             f"normalization). Received: groups={groups!r}")
        self.groups = int(groups)
        self.axis = integer("GroupNormalization", "axis", axis)
        set_gamma_beta_arguments(self, "GroupNormalization", epsilon, center, scale, beta_initializer,
                                 gamma_initializer, beta_regularizer, gamma_regularizer)

    def build(self, input_shape):
        self.check_input_rank(input_shape, 2, "an input of rank >= 2 (batch, ..., channels)")
        (axis,) = resolve_axes(self, [self.axis], len(input_shape), input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization) needs axis {self.axis} of its input to be "
                             f"known. Received input shape {tuple(input_shape)}.")
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization): the {channels} channels on axis "
                             f"{self.axis} cannot be split into {groups} groups of equal size "
                             f"(groups must divide the number of channels).")
        if self.scale:
            self.add_weight(name="gamma", shape=(channels,), initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight(name="beta", shape=(channels,), initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer)
        self._ndim, self._axis, self._channels, self._groups = len(input_shape), axis, channels, groups

    def forward(self, x, training=False):
        a, C, G = self._axis, self._channels, self._groups
        if x.ndim != self._ndim or x.shape[a] != C:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization) expects {C} channels on axis {self.axis} "
                             f"of a rank-{self._ndim} input, but received input of shape {tuple(x.shape)}.")
        # (..., C, ...) -> (..., G, C/G, ...); statistics over every axis but the batch and the group axis.
        self._x_shape = x.shape
        self._grouped = x.reshape(x.shape[:a] + (G, C // G) + x.shape[a + 1:])
        self._stat_axes = tuple(i for i in range(1, x.ndim + 1) if i != a)
        x_hat, self._mean, self._inv_std = layer_norm_ops.layer_norm(self._grouped, None, None, self._stat_axes,
                                                                     self.epsilon)
        self._x_hat = x_hat if self.scale else None
        y = x_hat * self._per_channel(self.gamma) if self.scale else x_hat
        if self.center:
            y += self._per_channel(self.beta)
        return y.reshape(x.shape)

    def _per_channel(self, param):
        """A ``(C,)`` weight shaped to broadcast against the grouped input."""
        shape = [1] * (self._ndim + 1)
        shape[self._axis], shape[self._axis + 1] = self._groups, self._channels // self._groups
        return param.reshape(shape)

    def backward(self, dy):
        dy = dy.reshape(self._grouped.shape)
        others = tuple(i for i in range(dy.ndim) if i not in (self._axis, self._axis + 1))
        # ==== dgamma, dbeta ====
        if "gamma" in self.grads:
            self.grads["gamma"][...] = (dy * self._x_hat).sum(axis=others).reshape(-1)
        if "beta" in self.grads:
            self.grads["beta"][...] = dy.sum(axis=others).reshape(-1)
        if not self.needs_input_gradient:
            return None
        # ==== dx ====
        d_x_hat = dy * self._per_channel(self.gamma) if self.scale else dy
        dx = layer_norm_ops.layer_norm_backward(d_x_hat, self._grouped, self._mean, self._inv_std, None,
                                                self._stat_axes, None, None)
        return dx.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / max(||x||, 1e-12)`` (as Keras,
    ``x * min(1 / sqrt(sum(x ** 2)), 1e12)``). No weights; the same in training and at inference.

    Args:
        axis: the axis or axes (an int or a list of ints) the norm is taken over (default -1).

    Input shape: any. Output shape: the same.

    Example:
        >>> UnitNormalization()(numpy.array([[3.0, 4.0]])).tolist()
        [[0.6, 0.8]]
    """
    #: Keras' floor on the norm (``ops.normalize``'s epsilon): a zero vector stays zero.
    EPSILON = 1e-12

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self._axes_given = axis_list("UnitNormalization", axis)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def build(self, input_shape):
        self._ndim = len(input_shape)
        self._axes = resolve_axes(self, self._axes_given, self._ndim, input_shape, allow_batch=True)

    def compute_output_shape(self, input_shape):
        resolve_axes(self, self._axes_given, len(input_shape), input_shape, allow_batch=True)
        return input_shape

    def forward(self, x, training=False):
        if x.ndim != self._ndim:
            raise ValueError(f"Layer '{self.name}' (UnitNormalization) was built for rank-{self._ndim} inputs, but "
                             f"received input of shape {tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        squares = xp.square(x).sum(axis=self._axes, keepdims=True)
        floor = self.EPSILON ** 2
        self._inv_norm = 1 / xp.sqrt(xp.maximum(squares, floor))
        self._unclipped = squares > floor  # where the norm, not its floor, divides (the norm's gradient flows)
        self._y = x * self._inv_norm
        return self._y

    def backward(self, dy):
        # d(x / |x|) = (dy - y * sum(dy * y)) / |x|; below the floor the divisor is a constant.
        radial = (dy * self._y).sum(axis=self._axes, keepdims=True) * self._unclipped
        return self._inv_norm * (dy - self._y * radial)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

