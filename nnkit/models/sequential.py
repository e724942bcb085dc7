"""``Sequential``: a stack of layers, run as a chain graph by the one training engine (as Keras builds a
functional model inside a Sequential)."""
import numpy

from ..layers.base import Layer, unique_name
from ..layers.graph import Graph
from ..layers.input_layer import Input, InputLayer
from ..layers.serialization import deserialize, serialize
from ..layers.symbolic import KerasTensor
from ..trainer import data
from .model import Model


class Sequential(Model):
    """A linear stack of layers.

    Example:
        >>> model = Sequential([Input(shape=(784,)), Dense(128, activation="relu"), Dense(10, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> history = model.fit(x_train, y_train, epochs=5, batch_size=64, validation_split=0.1)
    """

    def __init__(self, layers=None, name=None, trainable=True):
        Layer.__init__(self, name=name or unique_name("sequential"), trainable=trainable)
        self._init_trainer()
        self._layers = []
        self.input_shape = None
        self.output_shape = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        """The layers in order (without the input)."""
        return list(self._layers)

    # ---- building ------------------------------------------------------------------------------------
    def add(self, layer):
        """Append a layer (or, first, an ``Input`` that gives the input shape); the chain is built as soon as the
        input shape is known. Anything else is a TypeError."""
        if isinstance(layer, (KerasTensor, InputLayer)):
            if self._layers or self.input_shape is not None:
                raise ValueError("Input(...) must be the first entry of a Sequential model.")
            tensor = layer if isinstance(layer, KerasTensor) else layer.output
            self.input_shape = tensor.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer (nnkit.layers.Layer). Received: {layer!r}")
        if not self._layers and self.input_shape is None:
            self.input_shape = layer.input_shape_hint
        self._layers.append(layer)
        self.store = None
        if self.input_shape is not None:
            self._build_chain()

    def pop(self):
        """Remove and return the last layer; the model's parameter buffers are rebuilt."""
        layer = self._layers.pop()
        self.store = None
        self._build_chain()
        return layer

    def build(self, input_shape=None):
        """Build every layer for ``input_shape`` (its first axis, the batch, is ignored), or for the input
        shape already known; a ValueError when there is none.
        """
        if input_shape is not None:
            self.input_shape = (None,) + tuple(input_shape[1:])
        if self.input_shape is None:
            raise ValueError("Cannot build the model: its input shape is unknown. Start it with "
                             "Input(shape=...), pass input_shape= to the first layer, or call fit/predict.")
        self._build_chain()

    def build_for(self, input_shape, options=None):
        if self.graph is None or tuple(input_shape[1:]) != tuple(self.input_shape[1:]):
            self.build(input_shape)
        return self.output_shape

    def build_for_data(self, x):
        if not self._layers:
            raise ValueError("The model has no layers: add some before fit/evaluate/predict.")
        if self.graph is None:
            if self.input_shape is None:
                if x is None:
                    raise ValueError(f"Model '{self.name}' is not built; it needs data (x) to learn its input shape.")
                self.input_shape = (None,) + tuple(numpy.shape(data.as_list(x, [self.name], "x")[0])[1:])
            self._build_chain()

    def _build_chain(self):
        """The chain graph: ``Input`` -> every layer in turn (the previous chain's calls are forgotten)."""
        if self.graph is not None:
            for layer in self._layers:
                layer.inbound_nodes[:] = [node for node in layer.inbound_nodes if node not in self.graph.nodes]
        if not self._layers:
            self.graph, self.output_shape, self.built = None, None, False
            return
        inputs = tensor = Input(batch_shape=self.input_shape)
        for layer in self._layers:
            tensor = layer(tensor)
        self.graph = Graph(inputs, tensor)
        self.output_shape = tensor.shape
        self.built = True

    # ---- description ---------------------------------------------------------------------------------
    def get_config(self):
        """The architecture as JSON-ready data: the name, the input shape, and each layer's class and config."""
        return {"name": self.name, "trainable": self.trainable,
                "build_input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new, untrained model from ``get_config()``'s output; layer classes are looked up by name in
        ``custom_objects``, then nnkit's."""
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        if config.get("build_input_shape") is not None:
            model.add(Input(shape=tuple(config["build_input_shape"][1:])))
        for entry in config["layers"]:
            model.add(deserialize(entry, custom_objects))
        return model
