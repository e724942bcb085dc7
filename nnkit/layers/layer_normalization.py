"""LayerNormalization (Ba et al. 2016), with Keras' arguments and weights."""
import numbers

from .. import initializers, regularizers
from .._arguments import positive_number
from ..primitives import layer_norm as layer_norm_ops
from .base import Layer


def axis_list(layer_name, axis):
    """``axis`` (an int, or a non-empty list or tuple of ints) as a list, or a TypeError naming the layer."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
        raise TypeError(f"{layer_name}: expected an int or a non-empty list/tuple of ints for `axis`. "
                        f"Received: axis={axis!r}")
    return [int(a) for a in axes]


def set_gamma_beta_arguments(layer, kind, epsilon, center, scale, beta_initializer, gamma_initializer,
                             beta_regularizer, gamma_regularizer):
    """Check and store the arguments a normalization layer with an optional gamma and beta shares."""
    layer.epsilon = positive_number(kind, "epsilon", epsilon)
    layer.center = bool(center)
    layer.scale = bool(scale)
    layer.beta_initializer = initializers.get(beta_initializer)
    layer.gamma_initializer = initializers.get(gamma_initializer)
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)


def check_no_constraints(layer_name, **constraints):
    """nnkit has no weight constraints: Keras' ``*_constraint`` arguments are accepted as None only."""
    for argument, value in constraints.items():
        if value is not None:
            raise ValueError(f"{layer_name}: nnkit has no weight constraints; expected {argument}=None. "
                             f"Received: {argument}={value!r}")


def resolve_axes(layer, axes, ndim, shape, allow_batch=False):
    """``axes`` as sorted non-negative indices into a rank-``ndim`` input, or a ValueError naming the layer."""
    name = f"Layer '{layer.name}' ({type(layer).__name__})"
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{name}: axis={layer.axis} is out of range for input of shape {tuple(shape)}.")
    resolved = sorted(a % ndim for a in axes)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{name}: axis={layer.axis} names an axis twice (input of shape {tuple(shape)}).")
    if not allow_batch and 0 in resolved:
        raise ValueError(f"{name}: axis={layer.axis} includes the batch axis 0 (input of shape {tuple(shape)}).")
    return tuple(resolved)


class LayerNormalization(Layer):
    """Normalizes each sample over ``axis``: ``gamma * (x - mean) / sqrt(variance + epsilon) + beta``, with the
    mean and (biased) variance taken over the normalized axes of that sample alone (Ba et al. 2016,
    https://arxiv.org/abs/1607.06450). The same in training and at inference.

    Args:
        axis: the axis or axes (an int or a list of ints) to normalize over; default -1, the features.
            ``gamma`` and ``beta`` span these axes: ``axis=[1, 2, 3]`` on ``(N, 20, 30, 40)`` gives them shape
            ``(20, 30, 40)``.
        epsilon: added to the variance (default 1e-3).
        center: learn the offset ``beta`` (default True). scale: learn the scale ``gamma`` (default True).
        beta_initializer, gamma_initializer: default ``"zeros"`` and ``"ones"``.
        beta_regularizer, gamma_regularizer: default None.
        beta_constraint, gamma_constraint: only None (nnkit has no weight constraints).

    Input shape: any, with the normalized axes known (not the batch axis). Output shape: the same.
    Weights (``get_weights()``, Keras' order): gamma (when ``scale``), beta (when ``center``).

    On the GPU the normalized axes are handled by one hand-written kernel when they are the input's trailing
    ones (``kernels/layer_norm.cu``); other axes use the composition of array operations.

    Example:
        >>> LayerNormalization(axis=[1, 2])(numpy.ones((2, 3, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        check_no_constraints("LayerNormalization", beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self._axes_given = axis_list("LayerNormalization", axis)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        set_gamma_beta_arguments(self, "LayerNormalization", epsilon, center, scale, beta_initializer,
                                 gamma_initializer, beta_regularizer, gamma_regularizer)

    def build(self, input_shape):
        self._axes = resolve_axes(self, self._axes_given, len(input_shape), input_shape)
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) needs the normalized axes {self.axis} of "
                             f"its input to be known. Received input shape {tuple(input_shape)}.")
        if self.scale:
            self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer)
        self._ndim, self._param_shape = len(input_shape), shape

    def compute_output_shape(self, input_shape):
        resolve_axes(self, self._axes_given, len(input_shape), input_shape)
        return input_shape

    def forward(self, x, training=False):
        if x.ndim != self._ndim or tuple(x.shape[a] for a in self._axes) != self._param_shape:
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) normalizes axes {self.axis} of size "
                             f"{self._param_shape}, but received input of shape {tuple(x.shape)}.")
        y, self._mean, self._inv_std = layer_norm_ops.layer_norm(
            x, getattr(self, "gamma", None), getattr(self, "beta", None), self._axes, self.epsilon)
        self._x = x
        return y

    def backward(self, dy):
        return layer_norm_ops.layer_norm_backward(
            dy, self._x, self._mean, self._inv_std, getattr(self, "gamma", None), self._axes,
            self.grads.get("gamma"), self.grads.get("beta"), input_gradient=self.needs_input_gradient)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}
