"""``Functional``: the model ``nnkit.Model(inputs, outputs)`` builds from symbolic tensors (Keras' class name)."""
from ..layers.base import Layer, unique_name
from ..layers.graph import Graph
from ..layers.serialization import deserialize, serialize
from ..layers.symbolic import flatten, map_structure, pack_like
from .model import Model


class Functional(Model):
    """A model whose layers were wired by calling them on ``nnkit.Input`` tensors (see ``Model``).

    Its ``layers`` are in Keras' order: deepest first (the InputLayers), each layer once however often it is
    called. ``Model(model.inputs, model.get_layer("conv").output)`` cuts a sub-model that shares the weights.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True):
        Layer.__init__(self, name=name or unique_name("functional"), trainable=trainable)
        self._init_trainer()
        self.graph = Graph(inputs, outputs)
        self.built = True
        self.input_shape = pack_like(self.graph.inputs, [t.shape for t in self.graph.flat_inputs])
        self.output_shape = self.graph.output_shapes()

    @property
    def layers(self):
        return list(self.graph.layers)

    def build_for(self, input_shape, options=None):
        return self.output_shape

    # ---- config: the layers and how their calls connect -------------------------------------------------
    def get_config(self):
        """``{"name", "trainable", "layers": [{"class_name", "config", "name", "inbound_nodes"}], "input_layers",
        "output_layers"}``; a tensor is ``[layer name, call index, output index]``, as in Keras."""
        graph = self.graph
        reference = tensor_reference(graph)
        layers = []
        for layer in graph.layers:
            calls = [node for node in layer.inbound_nodes if node in graph.nodes]
            layers.append({**serialize(layer), "name": layer.name, "inbound_nodes": [
                {"args": map_structure(node.inputs, reference), "training": node.training,
                 **({"options": node.options} if node.options else {})}
                for node in calls]})
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": map_structure(graph.inputs, reference),
                "output_layers": map_structure(graph.outputs, reference)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new, untrained model from ``get_config()``'s output; custom layer classes come from ``custom_objects``."""
        layers, pending, outputs = {}, [], {}  # outputs: (layer name, call index) -> that call's output tensors
        for entry in config["layers"]:
            layer = deserialize(entry, custom_objects)
            layers[entry["name"]] = layer
            pending.extend((layer, index, call) for index, call in enumerate(entry["inbound_nodes"]))
            if not entry["inbound_nodes"]:  # an InputLayer: its tensor exists as soon as it is made
                outputs[(layer.name, 0)] = layer.inbound_nodes[0].outputs
        while pending:
            ready = [item for item in pending
                     if all((ref[0], ref[1]) in outputs for ref in _references(item[2]["args"]))]
            if not ready:
                names = sorted({layer.name for layer, _, _ in pending})
                raise ValueError(f"The saved graph cannot be rebuilt: the inputs of layers {names} are never produced.")
            for item in ready:
                pending.remove(item)
                layer, index, call = item
                args = _map_references(call["args"], lambda ref: outputs[(ref[0], ref[1])][ref[2]])
                outputs[(layer.name, index)] = flatten(layer.call_with(args, call.get("training"), call.get("options")))

        def tensor(ref):
            return outputs[(ref[0], ref[1])][ref[2]]
        return cls(_map_references(config["input_layers"], tensor), _map_references(config["output_layers"], tensor),
                   name=config.get("name"), trainable=config.get("trainable", True))


def tensor_reference(graph):
    """A function giving a tensor of ``graph`` as Keras' history ``[layer name, call index, output index]`` (the
    call index counts the layer's calls within this graph)."""
    node_index = {}
    for layer in graph.layers:
        for index, node in enumerate(n for n in layer.inbound_nodes if n in graph.nodes or not n.flat_inputs):
            node_index[node] = index
    return lambda tensor: [tensor.node.layer.name, node_index[tensor.node], tensor.index]


def _is_reference(value):
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int)


def _map_references(structure, function):
    if _is_reference(structure):
        return function(structure)
    if isinstance(structure, dict):
        return {key: _map_references(value, function) for key, value in structure.items()}
    return [_map_references(value, function) for value in structure]


def _references(structure):
    if _is_reference(structure):
        return [structure]
    values = structure.values() if isinstance(structure, dict) else structure
    return [ref for value in values for ref in _references(value)]
