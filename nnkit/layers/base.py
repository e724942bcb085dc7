"""The layer contract: ``build(input_shape)``, ``forward(x, training)``, ``backward(dy) -> dx``.

Shapes passed to ``build`` and returned by ``compute_output_shape`` include the batch axis as ``None``,
as in Keras. ``forward`` keeps what ``backward`` needs; ``backward`` writes the gradient of every
trainable weight into ``self.grads[name]`` (overwriting it) and returns the gradient of the input.
"""
import collections
import inspect
import math
from dataclasses import dataclass, replace

import numpy

from .. import backend, initializers, regularizers
from .._arguments import check_finite_as, positive_int, shape_tuple  # (layers import positive_int from here)
from .._registry import snake_case
from .symbolic import TRACED_TRAINING, KerasTensor, Node, flatten, is_symbolic, pack_like

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


def layer_keys(layers):
    """The stable key of each layer: class name in snake case, numbered per class (``dense``, ``dense_1``), as
    Keras 3 names the groups of a weights file; unlike ``layer.name`` it does not depend on what ran before."""
    counts = {}
    keys = []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        count = counts.get(base, 0)
        counts[base] = count + 1
        keys.append(base if count == 0 else f"{base}_{count}")
    return keys


#: Every nnkit Layer class by name, for the one deserializer (``nnkit.layers.serialization``).
LAYER_CLASSES = {}


class Layer:
    """Base of the layers (the contract is in this module's docstring).

    Args:
        name: defaults to the snake_case class name, numbered when taken (``dense``, ``dense_1``, ...).
        trainable: False freezes the weights (they keep a gradient buffer, so they can be unfrozen).
        dtype: the weights' dtype; defaults to ``backend.floatx()``.
        input_shape, input_dim, batch_input_shape: Keras' ways to give the first layer's input shape.

    Unknown keyword arguments are a TypeError.

    Calling a layer on arrays runs it (``forward``); calling it on symbolic tensors (``nnkit.Input``) records
    a node of a graph and returns symbolic tensors (the functional API). A layer that writes ``call(inputs)``
    instead of ``forward``/``backward`` is composite: on first use ``call`` is traced into a graph of the
    layers it calls, which gives its forward and backward passes.
    """
    #: Set per call by the graph that runs the layer: False where its input needs no gradient (the data).
    needs_input_gradient = True
    #: Set with it: for each of the node's input tensors, whether it needs a gradient (None outside a graph).
    input_gradients_needed = None
    #: Set per call by the graph that runs a composite layer (or nested model): True when that layer runs more
    #: than once before the backward, so its own graph must keep every state in its run record.
    keep_call_states = False
    #: Set by the trainer around one call's forward and backward when the loss takes over this layer's
    #: softmax/sigmoid (the fused cross-entropy); never left set.
    emit_logits = False
    #: Whether the layer reads strings (TextVectorization, StringLookup, Hashing): the trainer then keeps string
    #: data for it on the host.
    accepts_text = False
    #: Whether the class writes ``call`` (traced into a graph) rather than ``forward``/``backward``.
    _composite = False
    #: False for the plain layers, whose per-step methods then skip looking for layers inside them.
    _may_have_sublayers = False
    #: Counts every change of any layer's ``trainable`` (graphs recompute their gradient plan when it moves).
    trainable_changes = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._composite = hasattr(cls, "call") and cls.forward is Layer.forward
        cls._may_have_sublayers = cls._composite or cls.named_sublayers is not Layer.named_sublayers
        if cls.__module__.startswith("nnkit.") and not cls.__name__.startswith("_"):
            LAYER_CLASSES[cls.__name__] = cls

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{', '.join(sorted(unknown))}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: expected a string for `name`. Received: name={name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = dtype
        self.built = False
        self._grads = {}
        self._own_specs = []
        self.inbound_nodes = []
        self.graph = None  # a composite layer's (or a model's) graph of sublayers, once traced
        self.input_shape_hint = _input_shape_from_arguments(type(self).__name__, input_shape, input_dim,
                                                            batch_input_shape)

    # ---- to be written by each layer -------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for ``input_shape`` (batch axis None) with ``add_weight``; check the shape and
        raise a ValueError naming the layer when it cannot be used. The base class has no weights.
        """
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (both with the batch axis); the base returns the input shape (a
        composite layer, its graph's output shapes)."""
        if self.graph is not None:
            return self.graph.output_shapes()
        return input_shape

    def forward(self, x, training=False):
        """Return the output for the batch ``x`` (a backend array) and keep what ``backward`` needs.
        ``training`` is True inside ``fit`` (dropout on, batch statistics used).
        """
        if self.graph is None:
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) has neither forward() nor call().")
        return self.forward_masked(x, None, training)[0]

    def backward(self, dy):
        """From ``dy``, the gradient of the loss with respect to the last ``forward``'s output: overwrite
        ``self.grads[name]`` of every trainable weight in place (``out=`` or ``[...] =``, never rebinding: they
        are views of the model's flat buffer) and return the gradient with respect to the input, which may be
        None when ``needs_input_gradient`` is False.
        """
        if self.graph is None:
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) has neither backward() nor call().")
        return self.graph.backward(self._run, dy)

    def forward_masked(self, x, mask, training=False, **options):
        """Forward pass carrying a Keras-style mask (``(N, T)`` booleans, True = real step).

        By default the mask passes through unchanged; layers that create or consume masks (Embedding with
        ``mask_zero``, recurrent layers) override this. A composite layer runs its graph.
        """
        if self.graph is not None:
            self._run = None  # drop the last pass's saved arrays first, so that their memory is reused
            output, self._run = self.graph.forward(x, training, needs_input_gradient=self.needs_input_gradient,
                                                   keep_states=self.keep_call_states)
            return output, None
        return self.forward(x, training=training, **options), mask

    # ---- losses added in call ----------------------------------------------------------------------------
    def add_loss(self, loss):
        """Inside ``call``: add ``loss`` (a tensor made with ``nnkit.ops``; its sum counts) to the model's loss, in
        training and evaluation, as Keras does. Its gradient reaches the layers and ops it depends on."""
        traced = self.__dict__.get("_traced_losses")
        if traced is None or not isinstance(loss, KerasTensor):
            raise ValueError(f"Layer '{self.name}': add_loss() can only be called inside call() on a tensor made "
                             f"from the layer's inputs or weights (with nnkit.ops). Received: {loss!r}")
        traced.append(loss)

    @property
    def losses(self):
        """The values of the losses the last call added (``add_loss``), this layer's and those of the layers it
        calls, as 0-d arrays (each tensor summed)."""
        run = self.__dict__.get("_run")
        if self.graph is None or run is None:
            return []
        found = [value.sum() for value in run.losses]
        for node in self.graph.nodes:
            if node.layer.graph is not None:
                found.extend(node.layer.losses)
        return found

    # ---- the state one call keeps for its backward ---------------------------------------------------
    def save_call_state(self):
        """What the last ``forward`` kept for ``backward``, taken away so that another call of the layer can
        run in between: a shallow copy of the attributes (and of those of the layers it wraps)."""
        if self.graph is not None:
            return self._run
        sublayers = self.named_sublayers() if self._may_have_sublayers else None
        return dict(self.__dict__), [layer.save_call_state() for _, layer in sublayers] if sublayers else None

    def restore_call_state(self, state):
        """Put back what ``save_call_state`` returned, before that call's ``backward``."""
        if self.graph is not None:
            self._run = state
            return
        attributes, sublayer_states = state
        self.__dict__.update(attributes)
        if sublayer_states is None:
            return
        for (_, layer), sublayer_state in zip(self.named_sublayers(), sublayer_states):
            layer.restore_call_state(sublayer_state)

    # ---- sublayers --------------------------------------------------------------------------------------
    def named_sublayers(self):
        """``[(prefix, layer)]``: the layers inside this one, whose weights it shows as ``<prefix>/<name>``.
        Empty for a plain layer; a composite layer's (and a subclassed model's) are the layers assigned to its
        attributes (also inside lists and dicts), keyed by class as in Keras' weight files."""
        if not self._composite:
            return []
        tracked = tracked_layers(self)
        return list(zip(layer_keys(tracked), tracked))

    def leaf_layers(self):
        """The layers that own weights themselves (this one, or those inside it), each once."""
        leaves = [self] if self._own_specs or not self.named_sublayers() else []
        for _, layer in self.named_sublayers():
            leaves.extend(leaf for leaf in layer.leaf_layers() if all(leaf is not seen for seen in leaves))
        return leaves

    @property
    def trainable(self):
        """Whether the optimizer updates this layer's weights (and those of the layers inside it)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezing or unfreezing a layer does the same to the layers inside it, as in Keras."""
        self._trainable = bool(value)
        Layer.trainable_changes += 1
        for _, layer in self.named_sublayers():
            layer.trainable = value

    # ---- the functional API -----------------------------------------------------------------------------
    @property
    def input(self):
        """The symbolic input of this layer's first call on symbolic tensors (the functional API)."""
        return self._first_node("input").inputs

    @property
    def output(self):
        """The symbolic output of this layer's first call on symbolic tensors (the functional API)."""
        return self._first_node("output").output_structure()

    def _first_node(self, what):
        if not self.inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic tensors, so it has no "
                                 f"{what}. Call it on nnkit.Input(...) (the functional API) first.")
        return self.inbound_nodes[0]

    def _call_symbolic(self, inputs, training, options):
        tensors = flatten(inputs)
        if not all(isinstance(t, KerasTensor) for t in tensors):
            kinds = ", ".join(type(t).__name__ for t in tensors)
            raise TypeError(f"Layer '{self.name}' was called on a mix of symbolic tensors and other values ({kinds}). "
                            f"In a functional model every input of a layer must come from nnkit.Input or a layer.")
        shapes = [t.shape for t in tensors]
        output_shape = self.build_for(pack_like(inputs, shapes), options)
        return Node(self, inputs, output_shape, backend.floatx().name, training, options).output_structure()

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

    def get_assets(self):
        """What the layer learned that is neither a weight nor in ``get_config`` (an adapted vocabulary), as JSON
        values for ``model.save``; None when there is none (Keras keeps such state as the layer's assets)."""
        return None

    def set_assets(self, assets):
        """Take back what ``get_assets`` returned (``load_model``)."""
        raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) keeps no assets.")

    # ---- shared machinery ------------------------------------------------------------------------------
    def bind_call(self, inputs, training=None):
        """How a call's arguments map to ``(inputs, training, options)``: ``inputs`` the tensors (one, a list or a
        dict; the ones a backward returns gradients for, in that structure), ``options`` the other keyword
        arguments that change what the call computes, as JSON-compatible values (a graph node records them and
        ``forward`` receives them). Layers whose calls take more than ``inputs`` (``MultiHeadAttention(query,
        value, key=...)``, ``LSTM(x, initial_state=...)``) override this with their own signature."""
        return inputs, training, {}

    def __call__(self, *args, **kwargs):
        """On symbolic tensors: record a node and return symbolic outputs (the functional API). On arrays: run
        the layer, building it on first use (as a Keras layer does). Float inputs are cast to the dtype of the
        layer's weights, as Keras autocasts (the GPU kernels take one dtype). The arguments are those of
        ``bind_call``: ``layer(inputs, training=None)`` unless the layer takes more."""
        try:
            inputs, training, options = self.bind_call(*args, **kwargs)
        except TypeError as error:
            try:
                inspect.signature(self.bind_call).bind(*args, **kwargs)
            except TypeError:
                raise TypeError(f"Layer '{self.name}' ({type(self).__name__}) takes the call arguments "
                                f"{inspect.signature(self.bind_call)}; {error}.") from None
            raise
        return self.call_with(inputs, training, options)

    def call_with(self, inputs, training=None, options=None):
        """Run (or, on symbolic tensors, record) one call whose arguments ``bind_call`` has already sorted."""
        options = options or {}
        if training is TRACED_TRAINING:  # passed on inside a traced call(): follow the model's mode
            training = None
        if is_symbolic(inputs):
            return self._call_symbolic(inputs, training, options)
        from ..ops.dispatch import as_symbolic_constant, is_tracing, symbolic_weight
        if is_tracing():  # inside a traced call(): an array input is a constant (or a weight) of the graph
            def constant(array):
                weight = symbolic_weight(array)
                return as_symbolic_constant(array) if weight is None else weight
            symbolic = ({key: constant(value) for key, value in inputs.items()} if isinstance(inputs, dict) else
                        [constant(a) for a in inputs] if isinstance(inputs, (list, tuple)) else constant(inputs))
            return self._call_symbolic(symbolic, training, options)
        if isinstance(inputs, dict):
            arrays = {key: backend.to_device(value) for key, value in inputs.items()}
            listed = list(arrays.values())
        else:
            several = isinstance(inputs, (list, tuple))
            listed = [backend.to_device(a) for a in inputs] if several else [backend.to_device(inputs)]
        if not self.built:
            shapes = [(None,) + tuple(a.shape[1:]) for a in listed]
            self.build_for(pack_like(inputs, shapes))
        weights = self.weights
        if weights:
            listed = [a.astype(weights[0].dtype) if a.dtype.kind == "f" and a.dtype != weights[0].dtype else a
                      for a in listed]
        return self.forward(pack_like(inputs, listed), training=bool(training), **options)

    def build_for(self, input_shape, options=None):
        """Build (a composite layer: trace ``call``), then record the shapes (for summary) and return the
        output shape. ``input_shape`` is one shape, or a list (dict) of shapes for a layer called on a list (dict);
        ``options`` are the call's (see ``bind_call``), for a layer whose output shape depends on them."""
        input_shape = as_shapes(input_shape)
        if not self.built:
            if self._composite:
                from .graph import trace
                if not type(self).build.__module__.startswith("nnkit."):
                    self.build(input_shape)  # a Keras-style layer makes its weights, then its call is traced
                self.graph = trace(self, input_shape)
            else:
                self.build(input_shape)
            self.built = True
        self.input_shape = input_shape
        self.output_shape = as_shapes(self.compute_output_shape(input_shape, **(options or {})))
        return self.output_shape

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none", name=None):
        """Create a weight, Keras' way: ``self.w = self.add_weight(shape=(3, 4), initializer="random_normal")``.

        The weight is also ``self.<name>`` (``name`` defaults to ``variable``, ``variable_1``...); a trainable one
        gets a gradient buffer ``self.grads[name]``, as does one of a frozen layer, so that it can be unfrozen.
        ``initializer`` defaults to ``glorot_uniform`` (``zeros`` for integer weights). Returns the weight, a
        backend array; once a model trains, its weights become views of one flat buffer, and every attribute of
        the layer that held the weight is pointed at its view.
        """
        if constraint is not None:
            raise TypeError(f"Layer '{self.name}': nnkit has no weight constraints (received constraint="
                            f"{constraint!r}); clip or project the weights in a callback instead.")
        if name is None:
            taken = {spec.name for spec in self._own_specs}
            name = next(f"variable{'' if i == 0 else f'_{i}'}" for i in range(len(taken) + 1)
                        if f"variable{'' if i == 0 else f'_{i}'}" not in taken)
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"Layer '{self.name}': a weight's name must be a non-empty string without '/'. "
                             f"Received: name={name!r}")
        if any(spec.name == name for spec in self._own_specs):
            raise ValueError(f"Layer '{self.name}' already has a weight named {name!r}.")
        dtype = numpy.dtype(dtype or self.dtype or backend.floatx())
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        shape = () if shape is None else tuple(shape)
        value = backend.to_device(numpy.asarray(initializers.get(initializer)(shape, dtype), dtype=dtype))
        setattr(self, name, value)
        if trainable:
            self._grads[name] = backend.xp().zeros_like(value)
        self._own_specs.append(WeightSpec(name, bool(trainable), regularizers.get(regularizer)))
        return value

    def bind_weight(self, name, value, grad):
        """Point ``self.<name>`` (and its gradient) at views of the model's flat buffers; a ``<prefix>/<name>``
        reaches the layer inside. Other attributes that held the same array (``self.w = self.add_weight(...)``)
        follow."""
        if "/" in name:
            layer, inner = self._route(name)
            layer.bind_weight(inner, value, grad)
            return
        previous = getattr(self, name)
        for attribute, held in list(vars(self).items()):
            if held is previous and attribute != name:
                setattr(self, attribute, value)
        setattr(self, name, value)
        self._grads[name] = grad

    def _route(self, name):
        prefix, _, inner = name.partition("/")
        for candidate, layer in self.named_sublayers():
            if candidate == prefix:
                return layer, inner
        raise AttributeError(f"Layer '{self.name}' has no weight {name!r}.")

    def __getattr__(self, name):
        # Reached only when ordinary lookup fails: the weights of inner layers are named '<prefix>/<name>'.
        if "/" not in name:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        layer, inner = self._route(name)
        return getattr(layer, inner)

    @property
    def _weight_specs(self):
        """Every weight's spec as the weight itself has it (moving statistics are never trainable), whatever
        ``trainable`` says: the layer's own, then those of the layers inside it under their prefix."""
        specs = list(self._own_specs)
        for prefix, layer in self.named_sublayers():
            specs.extend(replace(spec, name=f"{prefix}/{spec.name}") for spec in layer._weight_specs)
        return specs

    @property
    def grads(self):
        """The gradients of the trainable weights by name; empty while the layer is frozen, so that its
        backward computes the input gradient only."""
        sublayers = self.named_sublayers() if self._may_have_sublayers else None
        if not sublayers:
            return self._grads if self._trainable else {}
        grads = dict(self._grads) if self._trainable else {}
        for prefix, layer in sublayers:
            grads.update((f"{prefix}/{name}", grad) for name, grad in layer.grads.items())
        return grads

    @property
    def weight_specs(self):
        """The weights' specs; on a frozen layer every one is non-trainable (``trainable`` may be set at any
        time, as in Keras: the model regathers its trainable weights on the next fit)."""
        specs = [spec if self.trainable else replace(spec, trainable=False) for spec in self._own_specs]
        for prefix, layer in self.named_sublayers():
            specs.extend(replace(spec, name=f"{prefix}/{spec.name}", trainable=spec.trainable and self.trainable)
                         for spec in layer.weight_specs)
        return specs

    @property
    def weights(self):
        """Every weight, trainable or not, in creation (Keras') order."""
        return [getattr(self, spec.name) for spec in self._weight_specs]

    @property
    def trainable_weights(self):
        """The weights the optimizer updates (none while the layer is frozen)."""
        return [getattr(self, spec.name) for spec in self.weight_specs if spec.trainable]

    @property
    def trainable_variables(self):
        """Keras' other name for ``trainable_weights``."""
        return self.trainable_weights

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
        """``weights`` checked against this layer's (a list or tuple of one array per weight, of its shape, of real
        numbers that stay finite in the weight's dtype), before anything is written.

        Unlike Keras, which takes NaN and inf silently, non-finite values are refused: a weight holding one can
        only make the outputs NaN, and such values come from a diverged run or a damaged file, which the error then
        points at (a layer's weights can still be written to directly, ``layer.kernel[...] = value``)."""
        specs = self._weight_specs
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"Layer '{self.name}': set_weights expects a list of {len(specs)} arrays "
                            f"({', '.join(s.name for s in specs)}). Received: {_describe(weights)}")
        if len(weights) != len(specs):
            raise ValueError(f"Layer '{self.name}' expects {len(specs)} weight arrays "
                             f"({', '.join(s.name for s in specs)}), but received {len(weights)}.")
        checked = []
        for spec, value in zip(specs, weights):
            if value is None:
                raise TypeError(f"Layer '{self.name}' weight '{spec.name}': expected an array, received None.")
            array = value if backend.is_device_array(value) else numpy.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"Layer '{self.name}' weight '{spec.name}' must hold real numbers; "
                                f"received dtype {array.dtype}.")
            weight = getattr(self, spec.name)
            if tuple(array.shape) != tuple(weight.shape):
                raise ValueError(f"Layer '{self.name}' weight '{spec.name}' has shape {tuple(weight.shape)}, "
                                 f"but the value given has shape {tuple(array.shape)}.")
            check_finite_as(f"Layer '{self.name}' weight '{spec.name}'", array, weight.dtype)
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
        """Whether any of the layer's own weights carries a regularizer (read every step, so it copies nothing)."""
        return any(spec.regularizer is not None for spec in self._own_specs)

    def regularization_penalty(self):
        """The sum of the penalties of this layer's own weights (0 when it has none)."""
        return sum(spec.regularizer.penalty(getattr(self, spec.name))
                   for spec in self._own_specs if spec.regularizer is not None)

    def add_regularization_gradients(self):
        """Add each regularizer's gradient to its own trainable weight's gradient (called after ``backward``)."""
        if not self.trainable:
            return
        for spec in self._own_specs:
            if spec.regularizer is not None and spec.trainable:
                spec.regularizer.add_gradient(getattr(self, spec.name), self._grads[spec.name])

    def check_input_rank(self, input_shape, min_rank, description):
        """Raise a ValueError naming the layer when ``input_shape`` has fewer than ``min_rank`` axes;
        ``description`` says what was expected (e.g. ``"an input of rank 4 (batch, height, width, channels)"``).
        """
        if len(input_shape) < min_rank:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {description}, "
                             f"but received input of shape {input_shape}.")

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _describe(value):
    return f"{type(value).__name__} of shape {tuple(value.shape)}" if hasattr(value, "shape") else repr(value)


def as_shapes(shape):
    """A shape as a tuple, or a list of shapes (a layer called on several inputs) as a list of tuples (a dict
    of them as a dict)."""
    if isinstance(shape, dict):
        return {key: tuple(value) for key, value in shape.items()}
    if isinstance(shape, (list, tuple)) and any(isinstance(d, (list, tuple)) for d in shape):
        return [tuple(s) for s in shape]
    return tuple(shape)


def tracked_layers(owner):
    """The layers assigned to ``owner``'s attributes, directly or inside lists, tuples and dicts, in assignment
    order, each once (a composite layer's or a subclassed model's sublayers, as Keras tracks them), then any
    layer with weights that its traced ``call`` created."""
    found = []

    def visit(value):
        if isinstance(value, Layer):
            if all(value is not seen for seen in found):
                found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
    for name, value in vars(owner).items():
        if not name.startswith("_") and name not in ("graph", "inbound_nodes"):
            visit(value)
    if owner.graph is not None:  # layers with weights that call() made itself still train and save
        for layer in owner.graph.layers:
            if layer._weight_specs:
                visit(layer)
    return found


def _input_shape_from_arguments(owner, input_shape, input_dim, batch_input_shape):
    """The full input shape (batch axis None) from Keras' older ways of giving it, or None; each checked."""
    if batch_input_shape is not None:
        return (None,) + shape_tuple(owner, "batch_input_shape", batch_input_shape)[1:]
    if input_shape is not None:
        return (None,) + shape_tuple(owner, "input_shape", input_shape)
    if input_dim is not None:
        return (None, positive_int(owner, "input_dim", input_dim))
    return None
