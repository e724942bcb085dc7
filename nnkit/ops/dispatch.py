"""How one op runs: eagerly on arrays, or recorded as a graph node on symbolic tensors.

An op is a Python function written on backend arrays that returns ``(output, backward)``, where
``backward(d_output)`` returns ``{argument name: gradient}`` for its tensor arguments (a list for a list argument;
None where there is none; or a function of no arguments that computes it, called only where the gradient is
needed: ``matmul`` skips the data's), and a shape rule that gives the output's shape from the arguments' shapes. The
``operation`` decorator makes it callable Keras' way:

- on arrays (NumPy, CuPy, Python numbers) it runs the function and returns the output, a backend array;
- on symbolic tensors (``nnkit.Input``, a layer's output, a composite layer's ``call`` being traced) it records a
  node of an ``OpLayer``, so the op becomes part of the model's graph: its forward runs the function, its backward
  the function's ``backward``. Arguments that are not symbolic stay constants of the node.

While a composite layer's ``call`` is traced (``tracing``), an array that is one of the layer's weights becomes the
output of a ``WeightSource`` node, so the weight trains; layers called on constant arrays get them through a
``ConstantSource`` node, so their weights train too.
"""
import contextlib
import functools
import inspect

import numpy

from .. import backend
from ..layers.base import Layer, unique_name
from ..layers.symbolic import KerasTensor, Node, flatten
from . import tape as tape_module

_traced_owners = []  # the composite layers whose call() is being traced, innermost last
_weight_sources = []  # per trace: {id(weight array): its KerasTensor}


@contextlib.contextmanager
def tracing(layer):
    """While ``layer.call`` is traced: its weights (and those of enclosing traced layers) read by ops become
    graph nodes, and layers called on arrays read them as constants of the graph."""
    _traced_owners.append(layer)
    _weight_sources.append({})
    try:
        yield
    finally:
        _traced_owners.pop()
        _weight_sources.pop()


def is_tracing():
    """Whether a composite layer's ``call`` is being traced now."""
    return bool(_traced_owners)


def symbolic_weight(value):
    """The symbolic tensor standing for ``value`` if it is a weight of a layer being traced (else None)."""
    if not _traced_owners or not hasattr(value, "shape"):
        return None
    cache = _weight_sources[-1]
    if id(value) in cache:
        return cache[id(value)]
    for owner in reversed(_traced_owners):
        for spec in owner._own_specs:
            if getattr(owner, spec.name) is value:
                tensor = Node(WeightSource(owner, spec.name), None, tuple(value.shape), value.dtype.name).outputs[0]
                cache[id(value)] = tensor
                return tensor
    return None


def as_symbolic_constant(value):
    """``value`` (an array) as the output of a ConstantSource node (a traced layer called on an array)."""
    array = backend.to_device(numpy.asarray(value) if not backend.is_device_array(value) else value)
    return Node(ConstantSource(array), None, tuple(array.shape), array.dtype.name).outputs[0]


class WeightSource(Layer):
    """A graph node that outputs a weight of the traced layer ``owner`` and writes its gradient there. Ops that
    read the weight several times read this one node's output, whose gradients the graph sums."""
    is_source = True

    def __init__(self, owner, weight_name):
        super().__init__(name=f"{owner.name}/{weight_name}")
        self.owner, self.weight_name = owner, weight_name
        self.spec = next(spec for spec in owner._own_specs if spec.name == weight_name)
        self.built = True

    def leaf_layers(self):
        return []  # the weight belongs to the owner, which the parameter store holds

    @property
    def trains(self):
        """Whether the weight is trained now (the graph's gradient plan asks)."""
        return self.owner.trainable and self.spec.trainable

    @property
    def grads(self):
        return {self.weight_name: self.owner._grads[self.weight_name]} if self.trains else {}

    def forward(self, x, training=False):
        return getattr(self.owner, self.weight_name)

    def backward(self, dy):
        if self.trains:
            self.owner._grads[self.weight_name][...] = dy
        return None


class ConstantSource(Layer):
    """A graph node that outputs a constant array (what a traced ``call`` computed from no input)."""
    is_source = True

    def __init__(self, value):
        super().__init__()
        self.value = value
        self.built = True

    def forward(self, x, training=False):
        return self.value

    def backward(self, dy):
        return None


class OpLayer(Layer):
    """One call of an op on symbolic tensors, as a graph node: the op's function forward, its rule backward.

    ``arguments`` are the call's arguments with each symbolic tensor replaced by its position among the node's
    inputs (a ``_Slot``).
    """

    def __init__(self, operation, arguments, several_inputs):
        super().__init__(name=unique_name(operation.name))
        self.operation, self.arguments, self._several = operation, arguments, several_inputs
        self.built = True

    def forward(self, x, training=False):
        values = x if isinstance(x, list) else [x]
        arguments = {key: _fill(value, values) for key, value in self.arguments.items()}
        output, self._backward = self.operation.function(**arguments)
        return output

    def backward(self, dy):
        grads = self._backward(dy)
        if not self.needs_input_gradient:
            return None
        ordered = flat_gradients(self.arguments, grads, self.input_gradients_needed)
        return ordered if len(ordered) > 1 or self._several else ordered[0]

    def get_config(self):
        raise TypeError(f"A model with raw ops between layers ({self.operation.name}) cannot be saved as a config "
                        f"yet; save its weights (save_weights) and rebuild it from code.")


class _Slot:
    """Where a symbolic argument goes: its index among an OpLayer node's inputs."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _fill(template, values):
    if isinstance(template, _Slot):
        return values[template.index]
    if isinstance(template, (list, tuple)):
        return type(template)(_fill(item, values) for item in template)
    return template


def flat_gradients(templates, grads, needed=None):
    """The gradients ``{argument: gradient}`` an op's backward returned, as a list in the order of the slots of
    ``templates`` (the arguments with their tracked or symbolic tensors replaced by ``_Slot``). A rule may give a
    gradient as a function of no arguments, computed only where ``needed`` (one flag per slot; None: all) says."""
    flat = []
    for key, value in templates.items():
        flat.extend(_slot_grads(value, grads.get(key)))
    ordered = [grad for _, grad in sorted(flat, key=lambda item: item[0])]
    return [None if needed is not None and not needed[index] else grad() if callable(grad) else grad
            for index, grad in enumerate(ordered)]


def _slot_grads(template, grad):
    """``[(slot index, gradient)]`` for the slots in ``template``, matched with ``grad`` (same structure)."""
    if isinstance(template, _Slot):
        return [(template.index, grad)]
    if isinstance(template, (list, tuple)):
        grads = grad if grad is not None else [None] * len(template)
        return [pair for item, g in zip(template, grads) for pair in _slot_grads(item, g)]
    return []


class Operation:
    """An op made by ``operation``: callable on arrays and on symbolic tensors (see the module docstring)."""

    def __init__(self, function, tensors, shape, dtype):
        self.function, self.tensors, self.shape_rule, self.dtype_rule = function, tensors, shape, dtype
        self.name = function.__name__
        self.signature = inspect.signature(function)
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if _traced_owners:
            for key in self.tensors:
                arguments[key] = _map_leaves(arguments[key], _weight_or_value)
        if any(isinstance(leaf, KerasTensor) for key in self.tensors for leaf in flatten(arguments[key])):
            return self._record(arguments)
        tape = tape_module.recording()
        if tape is None:
            for key in self.tensors:
                arguments[key] = _map_leaves(arguments[key], lambda v: _as_backend_value(tape_module.unwrap(v)))
            return self.function(**arguments)[0]
        return self._run_on_tape(tape, arguments)

    def _run_on_tape(self, tape, arguments):
        """Run eagerly; when a tracked value is among the inputs, record a tape node with the op's rule."""
        tracked, templates = [], {}
        for key, value in arguments.items():
            if key not in self.tensors:
                templates[key] = value
                continue

            def slot(leaf):
                tensor = tape.tracked(leaf)
                if tensor is None:
                    return _as_backend_value(leaf)
                tracked.append(tensor)
                return _Slot(len(tracked) - 1)
            templates[key] = _map_leaves(value, slot)
        values = [tensor.value for tensor in tracked]
        output, backward = self.function(**{key: _fill(value, values) for key, value in templates.items()})
        if not tracked:
            return output
        return tape_module.record(output, tracked, lambda g: flat_gradients(templates, backward(g)))

    def _record(self, arguments):
        inputs, templates = [], {}
        for key, value in arguments.items():
            if key in self.tensors:
                def slot(leaf):
                    if isinstance(leaf, KerasTensor):
                        inputs.append(leaf)
                        return _Slot(len(inputs) - 1)
                    return _as_backend_value(leaf)
                templates[key] = _map_leaves(value, slot)
            else:
                templates[key] = value
        shapes = {key: _map_leaves(value, _shape_of) if key in self.tensors else value
                  for key, value in arguments.items()}
        output_shape = self.shape_rule(**shapes)
        dtypes = [leaf.dtype if isinstance(leaf, KerasTensor) else _dtype_of(leaf)
                  for key in self.tensors for leaf in flatten(arguments[key]) if leaf is not None]
        dtype = self.dtype_rule(dtypes, arguments) if self.dtype_rule else _result_dtype(dtypes)
        layer = OpLayer(self, templates, len(inputs) > 1)
        node_inputs = inputs if len(inputs) > 1 else inputs[0]
        return Node(layer, node_inputs, output_shape, dtype).output_structure()

    def __repr__(self):
        return f"<nnkit.ops.{self.name}>"


def operation(*tensors, shape, dtype=None):
    """Make an op from ``function(...) -> (output, backward)``: ``tensors`` name its tensor arguments, ``shape``
    gives the output shape (or a list of shapes) from the same arguments with each tensor replaced by its shape
    (None for unknown sizes), ``dtype(dtypes, arguments)`` the output's dtype name (default: the inputs' result
    type, floats winning)."""
    def wrap(function):
        return Operation(function, tensors, shape, dtype)
    return wrap


def _weight_or_value(value):
    weight = symbolic_weight(value)
    return value if weight is None else weight


def _map_leaves(value, function):
    if isinstance(value, (list, tuple)):
        return type(value)(_map_leaves(item, function) for item in value)
    return function(value)


def _as_backend_value(value):
    """Arrays onto the backend's device; Python numbers and None stay as they are."""
    if value is None or isinstance(value, (bool, int, float, complex)) or backend.is_device_array(value):
        return value
    if isinstance(value, numpy.ndarray) and not backend.is_gpu():
        return value
    return backend.to_device(numpy.asarray(value))


def _shape_of(value):
    if isinstance(value, KerasTensor):
        return value.shape
    if value is None:
        return None
    return tuple(numpy.shape(value))


def _dtype_of(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return str(value.dtype)


def _result_dtype(dtypes):
    """Keras-like promotion: a float input decides (the widest float; Python floats weak), else integers."""
    floats = [d for d in dtypes if d not in ("int", "float", "bool") and numpy.dtype(d).kind == "f"]
    if floats:
        return numpy.result_type(*floats).name
    if "float" in dtypes:
        return backend.floatx().name
    ints = [d for d in dtypes if d not in ("int", "float", "bool")]
    if ints:
        return numpy.result_type(*ints).name
    return "int64" if "int" in dtypes else "bool"
