"""The layer contract: ``build(input_shape)``, ``forward(x, training)``, ``backward(dy) -> dx``.

Shapes passed to ``build`` and returned by ``compute_output_shape`` include the batch axis as ``None``,
as in Keras. ``forward`` keeps what ``backward`` needs; ``backward`` writes the gradient of every
trainable weight into ``self.grads[name]`` (overwriting it) and returns the gradient of the input.
"""
import collections
import math
from dataclasses import dataclass, replace

import numpy

from .. import backend, initializers, regularizers
from .._registry import snake_case

_name_counts = collections.Counter()


def unique_name(prefix):
    """Keras' automatic names: ``dense``, ``dense_1``, ``dense_2``..."""
    count = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


@dataclass
class WeightSpec:
    """A weight's attribute name, whether the optimizer trains it, and its regularizer (or None)."""
    name: str
    trainable: bool  # in _weight_specs: the weight's own (False for moving statistics), whatever the layer's
    regularizer: object = None


class Layer:
    """Base of the layers (the contract is in this module's docstring).

    Args:
        name: defaults to the snake_case class name, numbered when taken (``dense``, ``dense_1``, ...).
        trainable: False freezes the weights (they keep a gradient buffer, so they can be unfrozen).
        dtype: the weights' dtype; defaults to ``backend.floatx()``.
        input_shape, input_dim, batch_input_shape: Keras' ways to give the first layer's input shape.

    Unknown keyword arguments are a TypeError.
    """
    #: Cleared by a model on its first layer, whose input (the data) needs no gradient.
    needs_input_gradient = True

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{', '.join(sorted(unknown))}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = dtype
        self.built = False
        self._grads = {}
        self._weight_specs = []
        self.input_shape_hint = _input_shape_from_arguments(input_shape, input_dim, batch_input_shape)

    # ---- to be written by each layer -------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for ``input_shape`` (batch axis None) with ``add_weight``; check the shape and
        raise a ValueError naming the layer when it cannot be used. The base class has no weights.
        """
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (both with the batch axis); the base returns the input shape."""
        return tuple(input_shape)

    def forward(self, x, training=False):
        """Return the output for the batch ``x`` (a backend array) and keep what ``backward`` needs.
        ``training`` is True inside ``fit`` (dropout on, batch statistics used).
        """
        raise NotImplementedError

    def backward(self, dy):
        """From ``dy``, the gradient of the loss with respect to the last ``forward``'s output: overwrite
        ``self.grads[name]`` of every trainable weight in place (``out=`` or ``[...] =``, never rebinding: they
        are views of the model's flat buffer) and return the gradient with respect to the input, which may be
        None when ``needs_input_gradient`` is False.
        """
        raise NotImplementedError

    def forward_masked(self, x, mask, training=False):
        """Forward pass carrying a Keras-style mask (``(N, T)`` booleans, True = real step).

        By default the mask passes through unchanged; layers that create or consume masks (Embedding with
        ``mask_zero``, recurrent layers) override this.
        """
        return self.forward(x, training=training), mask

    def get_config(self):
        """The constructor arguments as JSON-compatible values, so that ``from_config`` rebuilds an unbuilt twin;
        overrides extend ``super().get_config()``.
        """
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_hint is not None:
            config["batch_input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config):
        """A new, unbuilt layer from a ``get_config()`` dict."""
        return cls(**config)

    # ---- shared machinery ------------------------------------------------------------------------
    def __call__(self, x, training=False):
        """Run the layer on an array, building it on first use (as a Keras layer does). Float inputs are cast
        to the dtype of the layer's weights, as Keras autocasts (the GPU kernels take one dtype)."""
        x = backend.to_device(x)
        if not self.built:
            self.build_for((None,) + tuple(x.shape[1:]))
        weights = self.weights
        if x.dtype.kind == "f" and weights and x.dtype != weights[0].dtype:
            x = x.astype(weights[0].dtype)
        return self.forward(x, training=training)

    def build_for(self, input_shape):
        """Build, then record the shapes (for summary) and return the output shape."""
        input_shape = tuple(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
        self.input_shape = input_shape
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        return self.output_shape

    def add_weight(self, name, shape, initializer="glorot_uniform", regularizer=None, trainable=True):
        """Create ``self.<name>`` (and its gradient ``self.grads[name]`` when trainable).

        A frozen layer (``trainable=False``) gets the gradient too, so that it can be unfrozen later.
        """
        value = backend.to_device(initializers.get(initializer)(shape, self.dtype or backend.floatx()))
        setattr(self, name, value)
        if trainable:
            self._grads[name] = backend.xp().zeros_like(value)
        self._weight_specs.append(WeightSpec(name, trainable, regularizers.get(regularizer)))
        return value

    def bind_weight(self, name, value, grad):
        """Point ``self.<name>`` (and its gradient) at views of the model's flat buffers."""
        setattr(self, name, value)
        self._grads[name] = grad

    @property
    def grads(self):
        """The gradients of the trainable weights by name; empty while the layer is frozen, so that its
        backward computes the input gradient only."""
        return self._grads if self.trainable else {}

    @property
    def weight_specs(self):
        """The weights' specs; on a frozen layer every one is non-trainable (``trainable`` may be set at any
        time, as in Keras: the model regathers its trainable weights on the next fit)."""
        if self.trainable:
            return list(self._weight_specs)
        return [replace(spec, trainable=False) for spec in self._weight_specs]

    @property
    def weights(self):
        """Every weight, trainable or not, in creation (Keras') order."""
        return [getattr(self, spec.name) for spec in self._weight_specs]

    @property
    def trainable_weights(self):
        """The weights the optimizer updates (none while the layer is frozen)."""
        return [getattr(self, spec.name) for spec in self.weight_specs if spec.trainable]

    @property
    def non_trainable_weights(self):
        """The weights the optimizer leaves alone: moving statistics, and every weight of a frozen layer."""
        return [getattr(self, spec.name) for spec in self.weight_specs if not spec.trainable]

    def count_params(self):
        """The number of scalars in all the weights."""
        return sum(math.prod(w.shape) for w in self.weights)

    def get_weights(self):
        """The weights as NumPy arrays, in Keras' order."""
        return [backend.to_host(w).copy() for w in self.weights]

    def checked_weights(self, weights):
        """``weights`` checked against this layer's (count, shapes, real numbers), before anything is written."""
        specs = self._weight_specs
        if len(weights) != len(specs):
            raise ValueError(f"Layer '{self.name}' expects {len(specs)} weight arrays "
                             f"({', '.join(s.name for s in specs)}), but received {len(weights)}.")
        checked = []
        for spec, value in zip(specs, weights):
            array = value if backend.is_device_array(value) else numpy.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"Layer '{self.name}' weight '{spec.name}' must hold real numbers; "
                                f"received dtype {array.dtype}.")
            expected = tuple(getattr(self, spec.name).shape)
            if tuple(array.shape) != expected:
                raise ValueError(f"Layer '{self.name}' weight '{spec.name}' has shape {expected}, "
                                 f"but the value given has shape {tuple(array.shape)}.")
            checked.append(array)
        return checked

    def set_weights(self, weights):
        """Copy values into the weights; every array is checked before any is written."""
        for spec, value in zip(self._weight_specs, self.checked_weights(weights)):
            target = getattr(self, spec.name)
            xp = backend.get_array_module(target)
            target[...] = xp.asarray(backend.to_host(value) if xp is numpy else value, dtype=target.dtype)

    @property
    def has_regularizers(self):
        """Whether any weight carries a regularizer (read every step, so it copies nothing)."""
        return any(spec.regularizer is not None for spec in self._weight_specs)

    def regularization_penalty(self):
        """The sum of this layer's weight penalties (0 when it has none)."""
        return sum(spec.regularizer.penalty(getattr(self, spec.name))
                   for spec in self._weight_specs if spec.regularizer is not None)

    def add_regularization_gradients(self):
        """Add each regularizer's gradient to its trainable weight's gradient (called after ``backward``)."""
        for spec in self.weight_specs:
            if spec.regularizer is not None and spec.trainable:
                spec.regularizer.add_gradient(getattr(self, spec.name), self.grads[spec.name])

    def check_input_rank(self, input_shape, min_rank, description):
        """Raise a ValueError naming the layer when ``input_shape`` has fewer than ``min_rank`` axes;
        ``description`` says what was expected (e.g. ``"an input of rank 4 (batch, height, width, channels)"``).
        """
        if len(input_shape) < min_rank:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {description}, "
                             f"but received input of shape {input_shape}.")

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _input_shape_from_arguments(input_shape, input_dim, batch_input_shape):
    """The full input shape (batch axis None) from Keras' older ways of giving it, or None."""
    if batch_input_shape is not None:
        return (None,) + tuple(batch_input_shape[1:])
    if input_shape is not None:
        return (None,) + tuple(input_shape)
    if input_dim is not None:
        return (None, int(input_dim))
    return None


def positive_int(layer_name, argument, value):
    """Keras-style argument check: ``expected a positive integer. Received: units=0``."""
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{layer_name}: expected a positive integer for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return int(value)
