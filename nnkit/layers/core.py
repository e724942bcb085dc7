"""Dense, Activation, Dropout, Flatten."""
import math

from .. import activations, backend, distribution, primitives
from .._arguments import dropout_rate
from .affine import AffineLayer
from .base import Layer, positive_int


class Dense(AffineLayer):
    """Densely connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: output dimension.
        activation: name or Activation (default linear).
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as in Keras.

    Input shape: ``(batch, ..., in)``. Output shape: ``(batch, ..., units)``.

    Example:
        >>> layer = Dense(3, activation="relu")
        >>> layer(numpy.ones((2, 4))).shape
        (2, 3)
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.units = positive_int("Dense", "units", units)

    def build(self, input_shape):
        self.check_input_rank(input_shape, 2, "an input of rank >= 2 (batch, ..., features)")
        self.add_kernel_and_bias((input_shape[-1], self.units))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        features = self.kernel.shape[0]
        if x.shape[-1] != features:
            raise ValueError(f"Layer '{self.name}' (Dense) expects inputs with last dimension {features}, "
                             f"but received input of shape {tuple(x.shape)}.")
        self._x_shape = x.shape
        self._x = x.reshape(-1, features)
        activation = self.output_activation()
        z = self._x @ self.kernel
        self._y = primitives.bias_activation(z, self.bias_or_none, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape(x.shape[:-1] + (self.units,))

    def backward(self, dy):
        dy = dy.reshape(-1, self.units)
        # ==== dz (activation and bias) ====
        dz = primitives.bias_activation_backward(dy, self._z, self._y, self.output_activation(), self.bias_grad_or_none)
        # ==== dW ====
        if "kernel" in self.grads:
            backend.get_array_module(dz).matmul(self._x.T, dz, out=self.grads["kernel"])
        # ==== dx ====
        if not self.needs_input_gradient:
            return None
        return (dz @ self.kernel.T).reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Activation(Layer):
    """Applies an activation function: ``Activation("relu")``."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        if self.emit_logits:
            return x
        self._x = x if self.activation.needs_input else None
        self._y = self.activation.forward(x)
        return self._y

    def backward(self, dy):
        if self.emit_logits:
            return dy
        return self.activation.backward(dy, self._x, self._y)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout: zeroes a ``rate`` fraction of inputs in training and scales the rest by
    ``1 / (1 - rate)``; the identity at inference.

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        noise_shape: shape of the mask, broadcast over the input; ``None`` entries take the input's size
            (``(None, 1, features)`` drops the same features at every time step).
        seed: seeds a generator of this layer's own; by default the global one (see set_random_seed).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = dropout_rate(type(self).__name__, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._own_rng = None
        self._mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = distribution.random_for_batch(self._rng(), self._mask_shape(x.shape), x.dtype) >= self.rate
        self._mask = keep * x.dtype.type(1 / (1 - self.rate))
        return x * self._mask

    def _rng(self):
        if self.seed is None:
            return backend.device_rng()
        if self._own_rng is None:
            self._own_rng = backend.new_device_rng(self.seed)
        return self._own_rng

    def _mask_shape(self, input_shape):
        if self.noise_shape is None:
            return input_shape
        if len(self.noise_shape) != len(input_shape) or any(
                n is not None and n not in (1, d) for n, d in zip(self.noise_shape, input_shape)):
            raise ValueError(f"Layer '{self.name}' (Dropout): noise_shape {self.noise_shape} does not broadcast "
                             f"over input of shape {tuple(input_shape)}.")
        return tuple(d if n is None else n for n, d in zip(self.noise_shape, input_shape))

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}


class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(N, H, W, C) -> (N, H*W*C)``."""

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)
