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


# The layer (or function) to use instead of each Python operator, for the error on a symbolic tensor.
_INSTEAD = {"+": "layers.Add()([a, b]) or nnkit.layers.add([a, b])",
            "-": "layers.Subtract()([a, b]) or nnkit.layers.subtract([a, b])",
            "*": "layers.Multiply()([a, b]) or nnkit.layers.multiply([a, b])",
            "@": "layers.Dot(axes=...)([a, b])",
            "[]": "a layer that selects or reshapes (e.g. layers.Flatten, layers.Dense)"}


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

    # ---- a symbolic tensor has no values: say what to do instead -----------------------------------------
    def _refuse(self, operation, instead=None):
        hint = f" Use {instead} instead." if instead else " Express the computation with layers instead."
        raise TypeError(f"Cannot apply {operation} to the symbolic tensor {self.name!r} {format_shape(self.shape)}: "
                        f"it has no values while the model is being built, and nnkit cannot differentiate raw array "
                        f"math between layers (it has no autodiff tape yet).{hint}")

    def __add__(self, other):
        self._refuse("`+`", _INSTEAD["+"])

    __radd__ = __add__

    def __sub__(self, other):
        self._refuse("`-`", _INSTEAD["-"])

    __rsub__ = __sub__

    def __mul__(self, other):
        self._refuse("`*`", _INSTEAD["*"])

    __rmul__ = __mul__

    def __matmul__(self, other):
        self._refuse("`@`", _INSTEAD["@"])

    __rmatmul__ = __matmul__

    def __truediv__(self, other):
        self._refuse("`/`")

    __rtruediv__ = __truediv__

    def __pow__(self, other):
        self._refuse("`**`")

    def __neg__(self):
        self._refuse("unary `-`")

    def __getitem__(self, key):
        self._refuse(f"indexing `[{key!r}]`", _INSTEAD["[]"])

    def __bool__(self):
        self._refuse("`bool()` (an `if` or `and`/`or` on a tensor)")

    def __len__(self):
        self._refuse("`len()`", "tensor.shape")

    def __iter__(self):
        self._refuse("iteration (unpacking)")

    def __array__(self, *args, **kwargs):
        self._refuse("NumPy conversion (`numpy.asarray`)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self._refuse(f"the NumPy function `numpy.{ufunc.__name__}`")

    def __array_function__(self, func, types, args, kwargs):
        self._refuse(f"the NumPy function `numpy.{func.__name__}`")


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
