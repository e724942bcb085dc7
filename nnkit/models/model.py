"""``Model``: the base of every model (and a layer itself). ``Model(inputs, outputs)`` is a functional model;
a subclass that writes ``call`` is a subclassed model, traced into a graph of its layers on first use.

Every model runs on one graph (``nnkit.layers.graph``) and trains through one engine (``nnkit.trainer``).
"""
import inspect
import json
import weakref

import numpy

from .. import backend, distribution
from .._registry import snake_case
from ..layers.base import Layer, layer_keys, tracked_layers, unique_name
from ..layers.symbolic import flatten, is_symbolic
from ..ops import tape as tape_module
from ..trainer import Trainer, data
from . import saving
from .summary import summary_lines


class Model(Trainer, Layer):
    """A model: layers wired into a graph, with compile / fit / evaluate / predict (``nnkit.trainer``).

    ``Model(inputs, outputs, name=None)``: the functional API; ``inputs`` and ``outputs`` are symbolic tensors
    (``nnkit.Input`` and layers called on it): one, a list, or a dict of them.

    Subclassing: assign layers to attributes in ``__init__`` (after ``super().__init__(**kwargs)``) and compose
    them in ``call(self, inputs, training=None)`` with ``nnkit.ops``; the call is traced into a graph on first use
    (its layers' backward passes and the ops' rules give the gradients; Python control flow on tensor values
    fails at the trace, saying so). A subclass called as ``CustomModel(inputs, outputs)`` is a functional model
    with the subclass's overrides (``train_step``...).

    Example:
        >>> inputs = nnkit.Input(shape=(784,))
        >>> hidden = layers.Dense(64, activation="relu")(inputs)
        >>> model = nnkit.Model(inputs, layers.Dense(10, activation="softmax")(hidden))
    """

    def __new__(cls, *args, **kwargs):
        from .functional import Functional
        if cls is Model and (args or "inputs" in kwargs):
            cls = Functional
        elif not issubclass(cls, Functional) and _functional_arguments(args, kwargs):
            cls = _functional_subclass(cls)  # class CustomModel(Model) called as CustomModel(inputs, outputs)
        model = super().__new__(cls)
        model._init_arguments = (args, kwargs)  # a subclassed model's default get_config()
        return model

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if inputs is not None or outputs is not None:
            raise TypeError("Model(inputs, outputs) builds a functional model: give both `inputs` and `outputs`.")
        super().__init__(name=name or unique_name(snake_case(type(self).__name__)), **kwargs)
        self._init_trainer()

    # ---- structure ---------------------------------------------------------------------------------------
    @property
    def layers(self):
        """The model's layers, each once: a subclassed model's in the order they were assigned."""
        return tracked_layers(self)

    def named_sublayers(self):
        """Every layer under its stable key (class in snake case, numbered per class, as Keras' weight files),
        each once (a layer a Sequential reuses is listed once)."""
        layers = list({layer: None for layer in self.layers})
        return list(zip(layer_keys(layers), layers))

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by position ``index`` in ``layers``; a ValueError naming what exists."""
        layers = self.layers
        if index is not None:
            if name is not None:
                raise ValueError("get_layer takes `name` or `index`, not both.")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Model '{self.name}' has {len(layers)} layers; index {index} is out of range.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r} in model '{self.name}'. Its layers: {[l.name for l in layers]}.")

    @property
    def inputs(self):
        """The symbolic input tensors, as a list."""
        self._require_graph("inputs")
        return list(self.graph.flat_inputs)

    @property
    def outputs(self):
        """The symbolic output tensors, as a list."""
        self._require_graph("outputs")
        return list(self.graph.flat_outputs)

    @property
    def input_names(self):
        """The names data for the inputs go by: the dict keys of dict inputs, else the InputLayers' names."""
        self._require_graph("input names")
        return self.graph.input_names

    @property
    def output_names(self):
        """The names targets and logs go by: the dict keys of dict outputs, else the output layers' names."""
        self._require_graph("output names")
        return self.graph.output_names

    def _require_graph(self, what):
        if self.graph is None:
            raise ValueError(f"Model '{self.name}' is not built yet, so it has no {what}: call it on data (fit, "
                             f"predict) or build(input_shape) first.")

    def build(self, input_shape=None):
        """Build the model for ``input_shape`` (with the batch axis; a list or dict of shapes for several inputs):
        a subclassed model's ``call`` is traced."""
        if input_shape is None:
            if self.graph is None:
                raise ValueError(f"Cannot build model '{self.name}': give build() the input shape.")
            return
        self.build_for(input_shape)

    def build_for_data(self, x):
        """Build the model (when it is not) for data ``x``: an array, a list or a dict of arrays."""
        if self.graph is not None:
            return
        if x is None:
            raise ValueError(f"Model '{self.name}' is not built; it needs data (x) to learn its input shape.")
        if isinstance(x, dict):
            shape = {key: (None,) + tuple(numpy.shape(value)[1:]) for key, value in x.items()}
        elif isinstance(x, (list, tuple)) and all(data.is_array(item) for item in x):
            shape = [(None,) + tuple(item.shape[1:]) for item in x]
        else:
            shape = (None,) + tuple(numpy.shape(x)[1:])
        self.build_for(shape)

    # ---- running ------------------------------------------------------------------------------------------
    def __call__(self, inputs, training=None, logits=False):
        """On symbolic tensors: this model as a layer of another (a node). On arrays: run it and return its
        outputs as backend arrays (CuPy on the GPU), keeping what ``backward`` needs. ``logits=True``: outputs
        whose softmax/sigmoid the compiled loss takes over come out as logits (the trainer's fused step). Under a
        recording ``GradientTape`` the outputs are Tensors of one tape node."""
        if not data.is_array(inputs) and is_symbolic(inputs):
            return Layer.__call__(self, inputs, training)
        tape = tape_module.recording()
        if tape is not None:
            return self._call_on_tape(tape, inputs, training)
        return self._forward(inputs, training, logits)

    def _forward(self, inputs, training, logits=False, needs_input_gradient=False, keep_states=False):
        if self.graph is None:
            self.build_for_data(inputs)
        if training and (self.store is None or not self.store.is_bound()):
            # The weight gradients go to the flat buffer this model's optimizer reads: bind the weights to it (again,
            # when another model sharing layers, such as a GAN's combined model, has bound them to its own since).
            self._ensure_store()
        dtype = self.store.values.dtype if self.store is not None else backend.floatx()
        given = [inputs] if data.is_array(inputs) and len(self.graph.flat_inputs) == 1 \
            else data.as_list(inputs, self.graph.input_names, "x")
        arrays = [_on_device(array, dtype) for array in given]
        fused = ()
        if logits and self.compiled is not None:
            self._resolve_outputs()
            fused = self.compiled.fused_outputs
        self._run = None  # drop the last pass's saved arrays first, so that their memory is reused (primitives.workspace)
        outputs, self._run = self.graph.forward(arrays, bool(training), needs_input_gradient=needs_input_gradient,
                                                logits=fused, keep_states=keep_states)
        return outputs

    def _call_on_tape(self, tape, inputs, training):
        """The model as one node of a recording GradientTape: its backward is the model's own, which writes the
        weights' gradients into the flat buffer (``tape.gradient`` reads them there) and, for tracked inputs,
        gives theirs."""
        listed = list(inputs.values()) if isinstance(inputs, dict) else \
            list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        tracked = [tape.tracked(value) for value in listed]
        plain = [tape_module.unwrap(value) for value in listed]
        structured = dict(zip(inputs, plain)) if isinstance(inputs, dict) else \
            plain if isinstance(inputs, (list, tuple)) else plain[0]
        if self.graph is None:
            self.build_for_data(structured)
        if self.store is None or not self.store.is_bound():
            self._refuse_layers_bound_to_another_call_on(tape)
            self._ensure_store()
        self.store.recorded_on = weakref.ref(tape)
        needs_input_gradient = any(t is not None for t in tracked)
        # Each call keeps its own run record (every layer's state in it): a model may be called more than once on
        # one tape (a GAN's discriminator on real and on generated data).
        outputs = self._forward(structured, training, needs_input_gradient=needs_input_gradient, keep_states=True)
        run = self._run

        def backward(dy):
            self._run = run
            dx = tape.accumulating(self.store, lambda: self.backward(dy))
            grads = flatten(dx) if needs_input_gradient else []
            return [grad for grad, t in zip(grads, tracked) if t is not None]
        return tape_module.record(outputs, [t for t in tracked if t is not None], backward)

    def _refuse_layers_bound_to_another_call_on(self, tape):
        """A ValueError when a layer of this model shares its weights with another model already called on ``tape``:
        binding them to this model's buffers would send that call's weight gradients to the wrong buffer."""
        for layer in self.leaf_layers():
            for spec in layer._own_specs:
                entry = tape_module.weight_entry(getattr(layer, spec.name)) if spec.trainable else None
                other = None if entry is None or entry[0] is self.store else entry[0]
                if other is not None and other.recorded_on is not None and other.recorded_on() is tape:
                    raise ValueError(
                        f"Layer '{layer.name}' belongs to model '{self.name}' and to another model already called on "
                        f"this GradientTape. nnkit cannot yet add up a layer's gradients over two separately built "
                        f"models on one tape: build one model in which the layer is called twice (a functional "
                        f"model), or take each model's gradients on its own tape.")

    def reset_states(self):
        """Zero the carried states of every stateful layer inside (``stateful=True`` recurrent layers, in nested
        models and wrappers too), as Keras 2's ``model.reset_states()``; Keras 3 resets layer by layer."""
        for layer in self.leaf_layers():
            if getattr(layer, "stateful", False):
                layer.reset_states()

    # ---- weights -----------------------------------------------------------------------------------------
    def set_weights(self, weights):
        """Set every weight from a list in ``get_weights()`` order. Every array is checked (count, shape, real
        numbers) before any is written, so a bad list leaves the model as it was."""
        if not self.built:
            raise ValueError("Build the model (give it an input shape) before set_weights().")
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"set_weights expects a list of arrays for model '{self.name}'. Received: {weights!r}")
        layers = [layer for _, layer in self.named_sublayers()]
        expected = sum(len(layer._weight_specs) for layer in layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expects {expected} arrays for model '{self.name}', received {len(weights)}.")
        checked, position = [], 0
        for layer in layers:
            count = len(layer._weight_specs)
            checked.append((layer, layer.checked_weights(weights[position:position + count])))
            position += count
        for layer, values in checked:
            layer.set_weights(values)

    # ---- description and files ---------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """Print Keras' table of layers, output shapes and parameter counts (and, for a graph that is not a
        chain, what each layer is connected to), a line at a time through ``print_fn`` (default ``print``)."""
        for line in summary_lines(self):
            (print_fn or print)(line)

    def save_weights(self, filepath):
        """Write every weight to ``filepath``, atomically, in the format its name asks for.

        Args:
            filepath: ``"....weights.h5"`` for Keras 3's layout (Keras' ``load_weights`` reads it), or
                ``"....weights.safetensors"`` (any ``.safetensors``) for nnkit's (names like ``"dense/kernel"``).
                Any other name is a ValueError listing these.
        """
        if distribution.is_chief():  # in a data-parallel job rank 0 writes; the others hold the same weights
            saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights from an nnkit safetensors file (``save_weights`` or ``save``) or a Keras file (``.weights.h5``,
        ``.keras``, legacy ``.h5``) of the same architecture; every shape is checked before anything is written."""
        saving.load_weights(self, filepath)

    def save(self, filepath):
        """Write the architecture, the weights and the compile arguments to one file, in the format its name asks for.

        Args:
            filepath: ``"....nnkit"`` for nnkit's file, with the optimizer state (``fit`` resumes exactly), or
                ``"....keras"`` for Keras 3's archive (``keras.saving.load_model`` reads it; the optimizer
                starts afresh). Any other name is a ValueError listing these.
        """
        if distribution.is_chief():
            saving.save_model(self, filepath)

    def get_config(self):
        """A subclassed model's constructor arguments (those it was made with, when JSON can hold them) and its
        name; override it (and ``from_config``) for anything else, as in Keras."""
        args, kwargs = self._init_arguments
        parameters = [p for p in inspect.signature(type(self).__init__).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
        config = {**{p.name: value for p, value in zip(parameters, args)}, **kwargs}
        try:
            json.dumps(config)
        except TypeError:
            raise TypeError(f"Model '{self.name}' ({type(self).__name__}) was made with arguments JSON cannot hold; "
                            f"write its get_config() and from_config() to save it.") from None
        return {**config, "name": self.name, "trainable": self.trainable}


def _functional_arguments(args, kwargs):
    """Whether a Model subclass is called as ``(inputs, outputs)`` of symbolic tensors, as Keras detects it."""
    given = list(args[:2]) + [kwargs[key] for key in ("inputs", "outputs") if key in kwargs]
    return len(given) == 2 and all(is_symbolic(value) for value in given)


_FUNCTIONAL_SUBCLASSES = {}


def _functional_subclass(cls):
    """``cls`` mixed with Functional: its train_step and other overrides, on a functional model's graph."""
    from .functional import Functional
    if cls not in _FUNCTIONAL_SUBCLASSES:
        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
    return _FUNCTIONAL_SUBCLASSES[cls]


def _on_device(array, dtype):
    if isinstance(array, numpy.ndarray) and array.dtype.kind in "USO":
        return array  # text stays on the host: the layers that take it (TextVectorization, StringLookup) read it there
    if not backend.is_device_array(array):
        array = backend.to_device(array)
    return array.astype(dtype) if array.dtype.kind == "f" and array.dtype != dtype else array
