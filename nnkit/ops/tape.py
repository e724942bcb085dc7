"""``nnkit.GradientTape``: reverse-mode differentiation of code run eagerly, for training loops written by hand.

While a tape records, an op (``nnkit.ops``) whose input is *tracked* (a value the tape made, an array given to
``tape.watch``, or a weight of a model) returns a ``Tensor``: the array plus the tape node that made it (the op's
gradient rule and its tracked inputs). A model called on the tape records one node whose backward is the model's
own (explicit, fused) backward pass, which writes its weights' gradients into the model's flat gradient buffer;
a ``Loss`` called on a tracked prediction records one node with its fused gradient. ``tape.gradient(target,
sources)`` walks the nodes from ``target`` back in reverse order of creation, summing gradients where a value
was used more than once, and returns each source's gradient (None where it does not reach).
"""
import itertools
import weakref

from .. import backend
from ..variables import HoldsArray

_recording = []  # the tapes recording now, innermost last
_stores = weakref.WeakSet()  # the ParameterStores whose weights are tracked on any tape
_node_ids = itertools.count()


def register_store(store):
    """Make the weights of ``store`` (a ParameterStore) tracked values of every tape."""
    _stores.add(store)


def recording():
    """The innermost tape recording now, or None."""
    return _recording[-1] if _recording else None


def weight_entry(array):
    """``(store, index)`` of ``array`` among the weight views of the registered stores, or None."""
    for store in list(_stores):
        for index, entry in enumerate(store.entries):
            if entry[2] is array:
                return store, index
    return None


class Tensor(HoldsArray):
    """A value computed on a recording tape: ``value`` (a backend array) and the ``node`` that made it.

    It behaves as an array for reading (``numpy.asarray(t)``, ``float(t)``, ``t.shape``, ``t.numpy()``) and
    its arithmetic, indexing and comparisons are ``nnkit.ops``, so they are recorded too.
    """
    __array_priority__ = 100

    def __init__(self, value, node=None, index=0):
        self.value, self.node, self.index = value, node, index

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<nnkit Tensor shape={self.shape}, dtype={self.dtype}>\n{self.numpy()!r}"

    def __bool__(self):
        return bool(backend.to_host(self.value))

    __hash__ = object.__hash__

    def _op(self, name, *args):
        from .. import ops
        return getattr(ops, name)(*args)

    __add__ = lambda self, other: self._op("add", self, other)
    __radd__ = lambda self, other: self._op("add", other, self)
    __sub__ = lambda self, other: self._op("subtract", self, other)
    __rsub__ = lambda self, other: self._op("subtract", other, self)
    __mul__ = lambda self, other: self._op("multiply", self, other)
    __rmul__ = lambda self, other: self._op("multiply", other, self)
    __truediv__ = lambda self, other: self._op("divide", self, other)
    __rtruediv__ = lambda self, other: self._op("divide", other, self)
    __matmul__ = lambda self, other: self._op("matmul", self, other)
    __rmatmul__ = lambda self, other: self._op("matmul", other, self)
    __pow__ = lambda self, other: self._op("power", self, other)
    __neg__ = lambda self: self._op("negative", self)
    __getitem__ = lambda self, key: self._op("getitem", self, key)
    __lt__ = lambda self, other: self._op("less", self, other)
    __le__ = lambda self, other: self._op("less_equal", self, other)
    __gt__ = lambda self, other: self._op("greater", self, other)
    __ge__ = lambda self, other: self._op("greater_equal", self, other)


class Node:
    """One recorded computation: ``backward(d_outputs) -> [gradient of each input]`` (aligned with ``inputs``, the
    tracked values it read; ``d_outputs`` one gradient, or a list for several outputs)."""

    def __init__(self, inputs, backward, outputs=1):
        self.inputs, self.backward, self.outputs = inputs, backward, outputs
        self.order = next(_node_ids)


def record(values, inputs, backward):
    """Wrap ``values`` (one array or a list) as Tensors made by a new node; see ``Node``."""
    several = isinstance(values, (list, tuple))
    node = Node(inputs, backward, len(values) if several else 1)
    if several:
        return [Tensor(value, node, index) for index, value in enumerate(values)]
    return Tensor(values, node)


def unwrap(value):
    """The array inside a Tensor (anything else as it is)."""
    return value.value if isinstance(value, Tensor) else value


class GradientTape:
    """Records eager computations for ``gradient``, as ``tf.GradientTape``::

        with nnkit.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))

    Args:
        persistent: allow several ``gradient`` calls (else one).
        watch_accessed_variables: accepted; models' weights are always tracked.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self._watched = {}  # id(array) -> its leaf Tensor
        self._used = False
        self._written = set()  # the stores whose gradients a model's backward wrote in this gradient() walk

    def __enter__(self):
        _recording.append(self)
        return self

    def __exit__(self, *exc_info):
        _recording.remove(self)

    def watch(self, tensor):
        """Track ``tensor`` (an array, or a list of them) so that ``gradient`` can be taken with respect to it.

        The ops (``nnkit.ops``) on a watched array are recorded; Python operators on a plain NumPy array are
        NumPy's own, which no tape sees: use ops, or the tracked Tensor this returns (``x = tape.watch(x)``),
        whose operators are ops."""
        items = tensor if isinstance(tensor, (list, tuple)) else [tensor]
        tracked = [item if isinstance(item, Tensor) else self.leaf(item) for item in items]
        return tracked if isinstance(tensor, (list, tuple)) else tracked[0]

    def leaf(self, array):
        """The leaf Tensor standing for ``array`` on this tape (made once)."""
        if id(array) not in self._watched:
            self._watched[id(array)] = (array, Tensor(array))
        return self._watched[id(array)][1]

    def tracked(self, value):
        """``value`` as a tracked Tensor if it is one (a Tensor, a watched array, a model weight), else None."""
        if isinstance(value, Tensor):
            return value
        if id(value) in self._watched and self._watched[id(value)][0] is value:
            return self._watched[id(value)][1]
        if hasattr(value, "shape") and weight_entry(value) is not None:
            return self.leaf(value)
        return None

    def gradient(self, target, sources, output_gradients=None):
        """The gradients of ``target`` (a Tensor; a list of them is summed) with respect to ``sources`` (one, or
        a list or dict of arrays / Tensors), in the structure of ``sources``."""
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can compute one gradient only; use "
                               "GradientTape(persistent=True) for more.")
        self._used = True
        targets = target if isinstance(target, (list, tuple)) else [target]
        seeds = output_gradients if isinstance(output_gradients, (list, tuple)) else [output_gradients] * len(targets)
        grads = {}
        for tensor, seed in zip(targets, seeds):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"GradientTape.gradient: the target must be computed inside the tape from tracked "
                                f"values (a model's output, a watched array); received {type(tensor).__name__}.")
            xp = backend.get_array_module(tensor.value)
            start = xp.ones_like(tensor.value) if seed is None else xp.asarray(unwrap(seed), tensor.value.dtype)
            _accumulate(grads, tensor, start)
        self._written = set()
        self._backpropagate(grads, targets)
        return _structure(sources, lambda source: self._source_gradient(source, grads))

    def accumulating(self, store, backward):
        """Run ``backward`` (a model's, which overwrites the weights' gradients in ``store``) so that the gradients
        of every call of the model in one ``gradient`` walk add up."""
        if store in self._written:
            previous = store.grads.copy()
            result = backward()
            store.grads += previous
            return result
        self._written.add(store)
        return backward()

    def _backpropagate(self, grads, targets):
        nodes, stack = {}, [t.node for t in targets if t.node is not None]
        while stack:
            node = stack.pop()
            if node.order in nodes:
                continue
            nodes[node.order] = node
            stack.extend(t.node for t in node.inputs if isinstance(t, Tensor) and t.node is not None)
        for order in sorted(nodes, reverse=True):
            node = nodes[order]
            outputs = [grads.pop((order, index), None) for index in range(node.outputs)]
            if all(g is None for g in outputs):
                continue
            input_grads = node.backward(outputs[0] if node.outputs == 1 else outputs)
            for tensor, grad in zip(node.inputs, input_grads):
                if isinstance(tensor, Tensor) and grad is not None:
                    _accumulate(grads, tensor, grad)

    def _source_gradient(self, source, grads):
        tensor = source if isinstance(source, Tensor) else self.tracked(source)
        if tensor is None:
            return None
        grad = grads.get(_key(tensor))  # from the ops that read it
        entry = None if isinstance(source, Tensor) else weight_entry(source)
        if entry is not None and entry[0] in self._written:
            written = entry[0].entries[entry[1]][3]  # what a model's backward wrote into its gradient buffer
            grad = written.copy() if grad is None else grad + written
        return grad


def _key(tensor):
    return ("leaf", id(tensor)) if tensor.node is None else (tensor.node.order, tensor.index)


def _accumulate(grads, tensor, grad):
    key = _key(tensor)
    grads[key] = grad if key not in grads else grads[key] + grad


def _structure(sources, function):
    if isinstance(sources, dict):
        return {key: function(value) for key, value in sources.items()}
    if isinstance(sources, (list, tuple)):
        return [function(value) for value in sources]
    return function(sources)

