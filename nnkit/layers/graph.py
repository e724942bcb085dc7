"""A graph of layer calls, and the one engine that runs it forward and backward.

Every model kind is a graph: a functional model is built from ``Input`` to its outputs, a Sequential is a chain,
and a subclassed model's (or a composite layer's) ``call`` is traced into one on first use. Running it:

- forward: the nodes in topological order; after each node's forward the layer's saved state is taken into the
  run record (``Layer.save_call_state``), so a layer called by several nodes keeps one state per call;
- backward: the nodes in reverse, each with its state put back; gradients of a tensor that feeds several nodes
  are summed; a layer's weight gradients are overwritten by its first backward in the pass and added to by the
  later ones (only those layers pay for a copy); a node no gradient reaches zeroes its weight gradients.

A node runs its backward only when it has trainable weights or its input needs a gradient: nothing is computed
for the data, for a frozen feature extractor at the bottom of a model, or for an unused output.
"""
from .. import backend
from .base import Layer
from .input_layer import Input
from .symbolic import TRACED_TRAINING, KerasTensor, flatten, pack_like


class Graph:
    """The layer calls between ``inputs`` and ``outputs`` (KerasTensors: one, a list, or a dict of them).

    Attributes:
        inputs, outputs: as given (structure kept); ``flat_inputs``, ``flat_outputs``: as lists.
        nodes: the nodes to run, in topological order (input nodes excluded).
        layers: every layer, each once, in Keras' order (deepest first, then in order of discovery); the
            InputLayers included.
    """

    def __init__(self, inputs, outputs, losses=()):
        self.inputs, self.outputs = inputs, outputs
        self.flat_inputs, self.flat_outputs = flatten(inputs), flatten(outputs)
        #: Tensors a traced call() gave to ``add_loss``: computed with the outputs, their sum is part of the loss.
        self.loss_tensors = list(losses)
        for what, tensors in (("inputs", self.flat_inputs), ("outputs", self.flat_outputs)):
            for tensor in tensors:
                if not isinstance(tensor, KerasTensor):
                    raise TypeError(f"A model's {what} must be symbolic tensors (from nnkit.Input(...) or a layer called "
                                    f"on one). Received: {tensor!r} of type {type(tensor).__name__}.")
        if not self.flat_inputs or not self.flat_outputs:
            raise ValueError("A model needs at least one input and one output tensor.")
        self.nodes, self.layers = _order(self.flat_inputs, self.flat_outputs + self.loss_tensors)
        names = [layer.name for layer in self.layers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"All layer names in a model must be unique. These appear more than once: {repeated}. "
                             f"Give the layers distinct `name=` arguments.")
        self._node_leaves = {node: node.layer.leaf_layers() for node in self.nodes}
        self._leaves = list({leaf: None for leaves in self._node_leaves.values() for leaf in leaves})
        self._consumers = {}
        for node in self.nodes:
            for tensor in node.flat_inputs:
                self._consumers[tensor] = self._consumers.get(tensor, 0) + 1
        # A layer whose weights an earlier backward (a later node) of the same pass has written adds to them.
        # A node whose layer (or a layer inside it) also runs in another node keeps its state in the run record.
        self._shared = {node for node in self.nodes if any(
            other is not node and set(self._node_leaves[node]).intersection(self._node_leaves[other])
            for other in self.nodes)}
        seen, self._accumulates = set(), set()
        for node in reversed(self.nodes):
            if seen.intersection(self._node_leaves[node]):
                self._accumulates.add(node)
            seen.update(self._node_leaves[node])
        self._plan_key, self._plan = None, None
        self._one_input = len(self.flat_inputs) == 1 and not isinstance(inputs, (list, tuple, dict))
        self._one_output = len(self.flat_outputs) == 1 and not isinstance(outputs, (list, tuple, dict))
        #: The names data and targets go by: dict keys, else the names of the layers at the inputs / outputs.
        self.input_names = _names(inputs, self.flat_inputs)
        self.output_names = _names(outputs, self.flat_outputs)

    # ---- shapes -----------------------------------------------------------------------------------------
    def output_shapes(self):
        """The outputs' shapes, in the outputs' structure (one, a list, a dict)."""
        return pack_like(self.outputs, [tensor.shape for tensor in self.flat_outputs])

    def fusable_activation(self, index):
        """The activation of the layer behind output ``index`` when the loss may take it over (the fused
        softmax/sigmoid cross-entropy): the output comes from a single-output node that nothing else reads."""
        tensor = self.flat_outputs[index]
        node = tensor.node
        if (node.multiple_outputs or node not in self.nodes or self._consumers.get(tensor)
                or sum(t is tensor for t in self.flat_outputs) > 1):
            return None
        return getattr(node.layer, "activation", None)

    # ---- running it -------------------------------------------------------------------------------------
    def forward(self, inputs, training, needs_input_gradient=False, logits=(), keep_states=False):
        """Run the graph on ``inputs`` (arrays in the inputs' structure). Returns ``(outputs, run)``: the outputs
        in their structure and the run record ``backward`` needs. Outputs whose index is in ``logits`` come
        out before their layer's softmax/sigmoid (see ``fusable_activation``). A layer's saved state goes into
        the run record when another node runs the same layer, or for every node with ``keep_states`` (this graph
        is a layer that runs more than once before the backward); else it stays on the layer, as it would
        outside a graph, and costs nothing."""
        if self._one_input and not isinstance(inputs, (list, tuple, dict)):
            values = {self.flat_inputs[0]: inputs}
        else:
            values = dict(zip(self.flat_inputs, flatten_like(self.inputs, inputs)))
        masks = {}
        plan = self._gradient_plan(needs_input_gradient)
        run = Run(plan, {self.flat_outputs[index].node for index in logits} if logits else ())
        for node in self.nodes:
            layer = node.layer
            if node.multiple_inputs:
                args = pack_like(node.inputs, [values[t] for t in node.flat_inputs])
                given = [masks.get(t) for t in node.flat_inputs]
                mask = given if any(m is not None for m in given) else None
            elif not node.flat_inputs:  # a source: a weight or a constant a traced call() reads
                args, mask = None, None
            else:
                args, mask = values[node.flat_inputs[0]], masks.get(node.flat_inputs[0])
            layer.needs_input_gradient = plan[node][1]
            layer.input_gradients_needed = plan[node][2]
            keep = keep_states or node in self._shared
            if layer.graph is not None:
                layer.keep_call_states = keep
            mode = training if node.training is None else node.training
            if node in run.logits_nodes:
                layer.emit_logits = True
                try:
                    result, out_mask = layer.forward_masked(args, mask, training=mode, **node.options)
                finally:
                    layer.emit_logits = False
            else:
                result, out_mask = layer.forward_masked(args, mask, training=mode, **node.options)
            if keep:
                run.states[node] = layer.save_call_state()
            if not node.multiple_outputs:
                values[node.outputs[0]] = result
                if out_mask is not None:
                    masks[node.outputs[0]] = out_mask
                continue
            for index, (tensor, value) in enumerate(zip(node.outputs, result)):
                values[tensor] = value
                run.shapes[tensor] = (value.shape, value.dtype)
                masks[tensor] = out_mask[index] if isinstance(out_mask, list) else (out_mask if index == 0 else None)
        run.losses = [values[t] for t in self.loss_tensors]
        if self._one_output:
            return values[self.flat_outputs[0]], run
        return pack_like(self.outputs, [values[t] for t in self.flat_outputs]), run

    def backward(self, run, output_grads):
        """Back-propagate ``output_grads`` (the outputs' structure; None for an output without gradient) through
        the run ``forward`` returned; every layer's weight gradients are written. Returns the inputs' gradients
        in their structure (None where an input needs none)."""
        if self._one_output:
            grads = {self.flat_outputs[0]: output_grads}
        else:
            grads = {}
            for tensor, grad in zip(self.flat_outputs, flatten_like(self.outputs, output_grads)):
                if grad is not None:
                    _add(grads, tensor, grad)
        for tensor, value in zip(self.loss_tensors, run.losses):  # the total loss holds each one's sum
            _add(grads, tensor, backend.get_array_module(value).ones_like(value))
        for node in reversed(self.nodes):
            layer = node.layer
            has_trainable, needs_input_gradient, _ = run.plan[node]
            if node.multiple_outputs:
                dys = [grads.pop(tensor, None) for tensor in node.outputs]
                if all(dy is None for dy in dys):
                    dy = None
                else:
                    xp = backend.get_array_module(next(dy for dy in dys if dy is not None))
                    dy = [xp.zeros(*run.shapes[t]) if d is None else d for t, d in zip(node.outputs, dys)]
            else:
                dy = grads.pop(node.outputs[0], None)
            if dy is None:
                if has_trainable and node not in self._accumulates:
                    _zero(layer.grads.values())
                continue
            if not (has_trainable or needs_input_gradient):
                continue
            if node in run.states:
                layer.restore_call_state(run.states[node])
            layer.needs_input_gradient = needs_input_gradient
            logits = node in run.logits_nodes
            if logits:
                layer.emit_logits = True
            try:
                dx = _accumulating_backward(layer, dy) if node in self._accumulates else layer.backward(dy)
            finally:
                if logits:
                    layer.emit_logits = False
            if not needs_input_gradient:
                continue
            if node.multiple_inputs:
                for tensor, grad in zip(node.flat_inputs, flatten_like(node.inputs, dx)):
                    if grad is not None:
                        _add(grads, tensor, grad)
            elif dx is not None:
                tensor = node.flat_inputs[0]
                grads[tensor] = dx if tensor not in grads else grads[tensor] + dx
        if self._one_input and not isinstance(self.inputs, (list, tuple, dict)):
            return grads.get(self.flat_inputs[0])
        return pack_like(self.inputs, [grads.get(t) for t in self.flat_inputs])

    def _gradient_plan(self, inputs_need_gradient):
        """``{node: (has trainable weights, an input needs a gradient, which inputs need one)}`` for the current
        ``trainable`` flags."""
        key = (inputs_need_gradient, Layer.trainable_changes)
        if key != self._plan_key:
            requires = {tensor: inputs_need_gradient for tensor in self.flat_inputs}
            plan = {}
            for node in self.nodes:
                has_trainable = getattr(node.layer, "trains", False) or any(
                    leaf.trainable and any(s.trainable for s in leaf._own_specs) for leaf in self._node_leaves[node])
                per_input = tuple(requires.get(tensor, False) for tensor in node.flat_inputs)
                plan[node] = (has_trainable, any(per_input), per_input)
                for tensor in node.outputs:
                    requires[tensor] = has_trainable or any(per_input)
            self._plan_key, self._plan = key, plan
        return self._plan


class Run:
    """What one forward pass keeps for its backward: the gradient plan it ran with, each node's saved state and
    the outputs' shapes."""

    def __init__(self, plan, logits_nodes):
        self.plan = plan
        self.states = {}
        self.shapes = {}
        self.logits_nodes = logits_nodes
        self.losses = []


def _names(structure, tensors):
    return list(structure) if isinstance(structure, dict) else [tensor.node.layer.name for tensor in tensors]


def flatten_like(structure, values):
    """``values`` given in the structure of ``structure`` (dicts matched by key), as a flat list."""
    if isinstance(structure, dict):
        if not isinstance(values, dict):
            return flatten(values)
        missing = [key for key in structure if key not in values]
        if missing:
            raise ValueError(f"Missing data for the model's inputs {missing}; expected keys {list(structure)}, "
                             f"received keys {list(values)}.")
        return [values[key] for key in structure]
    return flatten(values)


def trace(layer, input_shape):
    """The graph of ``layer.call`` (a subclassed model or a composite layer) traced on symbolic inputs of
    ``input_shape`` (one shape, a list of shapes, or a dict of them)."""
    if isinstance(input_shape, dict):
        inputs = {key: Input(batch_shape=shape, name=key) for key, shape in input_shape.items()}
    elif isinstance(input_shape, list):
        inputs = [Input(batch_shape=shape) for shape in input_shape]
    else:
        inputs = Input(batch_shape=input_shape)
    from ..ops.dispatch import tracing
    layer._traced_losses = []
    try:
        with tracing(layer):
            outputs = layer.call(inputs, **({"training": TRACED_TRAINING} if _takes_training(layer.call) else {}))
    except TypeError as error:
        raise TypeError(f"While tracing {type(layer).__name__}.call() into a graph of layers: {error}") from None
    if not all(isinstance(t, KerasTensor) for t in flatten(outputs)):
        raise TypeError(f"{type(layer).__name__}.call() must return the outputs of layers (symbolic tensors while "
                        f"nnkit traces it); it returned {outputs!r}.")
    losses, layer._traced_losses = layer._traced_losses, None
    return Graph(inputs, outputs, losses)


def _takes_training(call):
    import inspect
    parameters = inspect.signature(call).parameters
    return "training" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _order(inputs, outputs):
    """The nodes between ``inputs`` and ``outputs`` in an order that runs (deepest first), and the layers in
    Keras' order; a ValueError for a cycle or an output that does not depend on the inputs only."""
    finished, in_progress, post_order, discovery = set(), set(), [], {}

    def visit(tensor):
        node = tensor.node
        if node in finished:
            return
        if node in in_progress:
            raise ValueError(f"The graph has a cycle through layer '{node.layer.name}'.")
        discovery.setdefault(node.layer, len(discovery))
        in_progress.add(node)
        if tensor not in inputs:
            for parent in node.flat_inputs:
                visit(parent)
        in_progress.remove(node)
        finished.add(node)
        post_order.append(node)

    for tensor in outputs:
        visit(tensor)
    depth, layer_depth = {}, {}
    for node in reversed(post_order):
        d = max(depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        depth[node] = layer_depth[node.layer] = d
        if not any(output in inputs for output in node.outputs):
            for parent in node.flat_inputs:
                depth[parent.node] = max(depth.get(parent.node, 0), d + 1)
    for tensor in inputs:  # inputs no output depends on still belong to the model
        if tensor.node not in depth:
            depth[tensor.node], layer_depth[tensor.node.layer] = 0, 0
            discovery.setdefault(tensor.node.layer, -1)
    nodes = sorted(depth, key=lambda n: -depth[n])
    computable, run_order = set(inputs), []
    for node in nodes:
        if any(output in inputs for output in node.outputs):
            continue
        for tensor in node.flat_inputs:
            if tensor not in computable:
                done = [n.layer.name for n in run_order]
                raise ValueError(f"Graph disconnected: cannot obtain the value of {tensor!r}, an input of layer "
                                 f"'{node.layer.name}', from the model's inputs. Layers reached without issue: "
                                 f"{done}. Pass every nnkit.Input the outputs depend on as the model's inputs.")
        if not node.flat_inputs and not getattr(node.layer, "is_source", False):
            raise ValueError(f"Graph disconnected: the output depends on input layer '{node.layer.name}', which is "
                             f"not among the model's inputs.")
        computable.update(node.outputs)
        run_order.append(node)
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], discovery[layer]))
    return run_order, layers


def _accumulating_backward(layer, dy):
    """``layer.backward`` for a layer whose weight gradients already hold another call's: add, not overwrite."""
    grads = list(layer.grads.values())
    earlier = [grad.copy() for grad in grads]
    dx = layer.backward(dy)
    for grad, previous in zip(grads, earlier):
        grad += previous
    return dx


def _add(grads, tensor, grad):
    grads[tensor] = grad if tensor not in grads else grads[tensor] + grad


def _zero(arrays):
    for array in arrays:
        array.fill(0)
