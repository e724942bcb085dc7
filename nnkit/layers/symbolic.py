"""Symbolic tensors and the nodes that connect them: what ``Input`` returns and what calling a layer on it records.

A ``KerasTensor`` has a shape (batch axis None), a dtype and a name, but no values. Calling a layer on
KerasTensors builds the layer for their shapes, records a ``Node`` (the layer, its inputs, its outputs) and
returns new KerasTensors; ``Model(inputs, outputs)`` then walks the nodes back from the outputs. A layer
called twice has two nodes.
"""
from .._shapes import format_shape


def flatten(structure):
    """The tensors (or arrays) of a single item, a list/tuple, or a dict (in key order), as a list."""
    if isinstance(structure, dict):
        return [item for key in structure for item in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [item for element in structure for item in flatten(element)]
    return [structure]


def map_structure(structure, function):
    """``function`` applied to every item of a single item, a list/tuple (a list comes back) or a dict, nested."""
    if isinstance(structure, dict):
        return {key: map_structure(value, function) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [map_structure(value, function) for value in structure]
    return function(structure)


def pack_like(structure, flat):
    """``flat`` (a list) put back into the shape of ``structure`` (single item, flat list or dict)."""
    flat = list(flat)
    if isinstance(structure, dict):
        return {key: flat[index] for index, key in enumerate(structure)}
    if isinstance(structure, (list, tuple)):
        return list(flat)
    return flat[0]


def is_symbolic(structure):
    """Whether ``structure`` (an item, a list or a dict) holds any KerasTensor."""
    return any(isinstance(item, KerasTensor) for item in flatten(structure))


class _TracedTraining:
    """What ``call`` receives as ``training`` while nnkit traces it: passed on to layers it means "the model's mode"
    (each node follows fit / predict); a Python branch on it cannot be recorded, so it raises."""

    def __bool__(self):
        raise TypeError("call() branches on `training` (an `if training:`), but nnkit traces call() once into a "
                        "graph for both modes. Pass `training=training` to the layers inside (Dropout, "
                        "BatchNormalization, your own) instead; each then follows the model's mode.")

    def __repr__(self):
        return "<training: the model's mode>"


#: The ``training`` value a traced ``call`` receives.
TRACED_TRAINING = _TracedTraining()


class KerasTensor:
    """A symbolic tensor: the shape, dtype and name of a value a model will compute, and where it comes from.

    Attributes:
        shape: a tuple, the batch axis (and any unknown axis) None.
        dtype: the dtype's name, e.g. ``"float32"``.
        name: the producing layer's name (with ``:index`` for a layer's second and later outputs).
    """

    def __init__(self, shape, dtype, name, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = str(dtype)
        self.name = name
        self.node = node      # the Node that produces this tensor
        self.index = index    # which of that node's outputs it is

    @property
    def ndim(self):
        """The number of axes, the batch axis included."""
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}, name={self.name}>"

    def _refuse(self, operation, instead=None):
        hint = f" Use {instead} instead." if instead else " Express the computation with nnkit.ops or layers."
        raise TypeError(f"Cannot apply {operation} to the symbolic tensor {self.name!r} {format_shape(self.shape)}: "
                        f"it has no values while the model is being built (Python control flow on tensor values "
                        f"cannot be recorded in a graph).{hint}")

    # ---- arithmetic records ops (nnkit.ops) as nodes of the graph ---------------------------------------------
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __getitem__(self, key):
        return _ops().getitem(self, key)

    # == and != keep their identity meaning: tensors are keys of the graph's dicts (use nnkit.ops.equal)
    def __lt__(self, other):
        return _ops().less(self, other)

    def __le__(self, other):
        return _ops().less_equal(self, other)

    def __gt__(self, other):
        return _ops().greater(self, other)

    def __ge__(self, other):
        return _ops().greater_equal(self, other)

    __hash__ = object.__hash__

    # ---- a symbolic tensor has no values: say what to do instead -----------------------------------------
    def __bool__(self):
        self._refuse("`bool()` (an `if` or `and`/`or` on a tensor)")

    def __len__(self):
        self._refuse("`len()`", "tensor.shape")

    def __iter__(self):
        self._refuse("iteration (unpacking)")

    def __array__(self, *args, **kwargs):
        self._refuse("NumPy conversion (`numpy.asarray`)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = getattr(_ops(), ufunc.__name__, None)
        if method == "__call__" and op is not None and not kwargs:  # numpy_array + tensor, numpy.exp(tensor)
            return op(*inputs)
        self._refuse(f"the NumPy function `numpy.{ufunc.__name__}`", f"nnkit.ops.{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        self._refuse(f"the NumPy function `numpy.{func.__name__}`", f"nnkit.ops.{func.__name__}")


def _ops():
    from .. import ops
    return ops


class Node:
    """One call of a layer on symbolic tensors.

    Attributes:
        layer: the layer called.
        inputs: the call's input structure (a KerasTensor, or a list of them).
        outputs: the list of output KerasTensors.
        training: the ``training=`` given at the call (None: follow the model's mode).
        options: the call's other arguments (``Layer.bind_call``), given to the layer's ``forward`` at each run.
    """

    def __init__(self, layer, inputs, output_shapes, dtype, training=None, options=None):
        self.layer = layer
        self.inputs = inputs
        self.flat_inputs = flatten(inputs) if inputs is not None else []
        self.multiple_inputs = isinstance(inputs, (list, tuple, dict))
        self.training = training
        self.options = options or {}
        self.multiple_outputs = isinstance(output_shapes, list)
        shapes = output_shapes if self.multiple_outputs else [output_shapes]
        self.outputs = [KerasTensor(shape, dtype, layer.name if index == 0 else f"{layer.name}:{index}", self, index)
                        for index, shape in enumerate(shapes)]
        layer.inbound_nodes.append(self)

    @property
    def parents(self):
        """The nodes producing this node's inputs."""
        return [tensor.node for tensor in self.flat_inputs]

    def output_structure(self):
        """What the layer call returned: a list of tensors, or the one tensor."""
        return list(self.outputs) if self.multiple_outputs else self.outputs[0]

    def __repr__(self):
        return f"<Node {self.layer.name} ({type(self.layer).__name__})>"
