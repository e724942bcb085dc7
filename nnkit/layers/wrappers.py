"""Layers that wrap layers: Bidirectional (two recurrent layers, one reading backwards) and
TimeDistributed (one layer applied to every time step).

A wrapper owns no weights of its own: it exposes its inner layers' weights under prefixed names
(``forward/kernel``, ``backward/kernel``; ``layer/kernel``), so the model's flat parameter buffer,
``get_weights`` (Keras' order: the forward layer's weights, then the backward layer's) and the
regularizers see them like any other layer's.
"""
from .. import backend
from .base import Layer
from .serialization import deserialize, serialize
from .merging import Add, Average, Concatenate, Multiply

#: Bidirectional's merge modes as merge layers (made per call, named after the wrapper, so they take no
#: automatic name from the user's layers).
_MERGE_LAYERS = {"concat": Concatenate, "sum": Add, "mul": Multiply, "ave": Average}


class Wrapper(Layer):
    """Base of the wrappers: the inner layers' weights show as ``<prefix>/<name>`` (``Layer.named_sublayers``)."""

    def named_sublayers(self):
        """``[(prefix, layer), ...]`` in Keras' weight order (empty while ``__init__`` runs)."""
        return self.wrapped_layers() if self.__dict__.get("_inner_layers_made") else []

    def wrapped_layers(self):
        """``[(prefix, layer), ...]``: the inner layers, written by each wrapper."""
        raise NotImplementedError

    def _finish_wrapping(self):
        """The end of a wrapper's __init__: from now on ``trainable`` reaches the inner layers."""
        self._inner_layers_made = True
        if not self.trainable:
            self.trainable = False

    def _propagate_input_gradient(self):
        for _, layer in self.named_sublayers():
            layer.needs_input_gradient = self.needs_input_gradient


class Bidirectional(Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges the outputs.

    Args:
        layer: a SimpleRNN, LSTM or GRU (its config is copied into ``forward_layer`` and, with
            ``go_backwards`` flipped, into ``backward_layer``).
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None (a list ``[forward, backward]``).
        backward_layer: optional recurrent layer for the backward direction (must read the other way).

    Called as ``Bidirectional(...)(sequences, initial_state=None, mask=None, training=None)``: ``initial_state``
    lists the forward layer's states, then the backward layer's (LSTM: ``[h_f, c_f, h_b, c_b]``), as in Keras.
    A ``stateful`` layer makes both directions stateful (``reset_states()`` zeroes both).

    Input shape: ``(batch, timesteps, features)``, with an optional mask.
    Output shape: the layer's, with the last axis doubled for 'concat'. With ``return_sequences`` the
    backward layer's outputs are put back in forward time order before merging. With ``return_state``,
    the merged output(s) followed by the forward layer's states and the backward layer's.

    Example:
        >>> model = Sequential([Input((10,)), Embedding(1000, 16), Bidirectional(LSTM(8)), Dense(1)])
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not hasattr(layer, "go_backwards") or not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional expects a recurrent layer (SimpleRNN, LSTM, GRU). Received: {layer!r}")
        if merge_mode not in self.MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {self.MERGE_MODES}. "
                             f"Received: merge_mode={merge_mode!r}")
        super().__init__(**kwargs)
        if self.input_shape_hint is None:
            self.input_shape_hint = layer.input_shape_hint
        # As Keras: the prefix is not doubled when a saved forward layer is wrapped again (from_config).
        config = {**layer.get_config(), "name": f"forward_{layer.name.removeprefix('forward_')}"}
        config.pop("batch_input_shape", None)
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = {**config, "name": f"backward_{layer.name.removeprefix('backward_')}",
                      "go_backwards": not layer.go_backwards}
            backward_layer = type(layer).from_config(config)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: `backward_layer` must read the sequence in the other direction "
                             f"(go_backwards={not layer.go_backwards}).")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(backward_layer, attribute) != getattr(layer, attribute):
                raise ValueError(f"Bidirectional: the forward and backward layers must have the same `{attribute}`; "
                                 f"received {getattr(layer, attribute)} and {getattr(backward_layer, attribute)}.")
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        # As Keras does: padded steps of a returned sequence read 0 in both directions.
        for inner in (self.forward_layer, self.backward_layer):
            inner.zero_output_for_mask = self.return_sequences
        self._finish_wrapping()

    def wrapped_layers(self):
        return [("forward", self.forward_layer), ("backward", self.backward_layer)]

    def build(self, input_shape):
        if isinstance(input_shape, list):  # [sequences, *initial states(, mask)]
            input_shape = input_shape[0]
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)

    def compute_output_shape(self, input_shape, explicit_mask=False):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        shape, states = self.forward_layer.compute_output_shape(input_shape), []
        if self.return_state:
            shape, *states = shape
            states = states * 2  # the forward layer's states, then the backward layer's
        if self.merge_mode == "concat":
            merged = [tuple(shape[:-1]) + (shape[-1] + self.backward_layer.units,)]
        else:
            merged = [tuple(shape)] * (2 if self.merge_mode is None else 1)
        return merged + states if len(merged) + len(states) > 1 else merged[0]

    # ---- the call: initial states of both directions --------------------------------------------------
    def bind_call(self, sequences, initial_state=None, mask=None, training=None):
        """Keras' call: ``initial_state`` lists the forward layer's states, then the backward layer's (see the
        wrapped layer's ``bind_call`` for the rest)."""
        if isinstance(sequences, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' (Bidirectional) takes one sequence tensor; pass initial states as "
                             f"`initial_state=[...]`. Received a list of {len(sequences)} tensors.")
        states = []
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            half = self.forward_layer.state_count
            if len(states) != 2 * half:
                names = [f"{name}_{side}" for side in "fb" for name in self.forward_layer.state_names]
                raise ValueError(f"Layer '{self.name}' (Bidirectional) expects `initial_state` to hold {2 * half} "
                                 f"states [{', '.join(names)}] (the forward layer's, then the backward layer's); "
                                 f"received {len(states)}.")
            states = (self.forward_layer.checked_initial_state(states[:half], sequences.shape)
                      + self.backward_layer.checked_initial_state(states[half:], sequences.shape))
        if not states and mask is None:
            return sequences, training, {}
        inputs = [sequences, *states] + ([mask] if mask is not None else [])
        return inputs, training, ({"explicit_mask": True} if mask is not None else {})

    def reset_states(self):
        """Zero the carried states of both directions (the layer must be stateful)."""
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' (Bidirectional) is not stateful, so it has no states to reset.")
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def reset_state(self):
        """``reset_states`` (Keras 3's name)."""
        self.reset_states()

    @property
    def states(self):
        """The forward layer's carried states, then the backward layer's; None when not stateful or not yet run."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return forward + backward if forward and backward else None

    # ---- forward and backward ---------------------------------------------------------------------------
    def forward(self, inputs, training=False, explicit_mask=False):
        return self.forward_masked(inputs, None, training, explicit_mask)[0]

    def forward_masked(self, inputs, mask, training=False, explicit_mask=False):
        self._propagate_input_gradient()
        self._listed_inputs, self._explicit_mask = isinstance(inputs, (list, tuple)), explicit_mask
        x, states = (inputs[0], list(inputs[1:])) if self._listed_inputs else (inputs, [])
        if explicit_mask:
            mask = states.pop()
        elif isinstance(mask, list):
            mask = mask[0]
        half = len(states) // 2
        self._states_given = bool(states)
        x_f = [x, *states[:half]] if states else x
        x_b = [x, *states[half:]] if states else x
        y_f, _ = self.forward_layer.forward_masked(x_f, mask, training)
        y_b, _ = self.backward_layer.forward_masked(x_b, mask, training)
        states = []
        if self.return_state:
            (y_f, *states_f), (y_b, *states_b) = y_f, y_b
            states = states_f + states_b
        if self.return_sequences:
            y_b = y_b[:, ::-1]
        self._y_f = y_f
        if self.merge_mode is None:
            y = [y_f, y_b]
        else:
            self._merge = _MERGE_LAYERS[self.merge_mode](name=f"{self.name}_merge")
            y = self._merge.forward([y_f, y_b])
        outputs = (y if isinstance(y, list) else [y]) + states if self.return_state else y
        return outputs, (mask if self.return_sequences else None)

    def backward(self, dy):
        xp = backend.get_array_module(self._y_f)
        d_states_f = d_states_b = []
        if self.return_state:
            merged = 2 if self.merge_mode is None else 1
            count_f = self.forward_layer.state_count
            d_states = list(dy[merged:])
            d_states_f, d_states_b = d_states[:count_f], d_states[count_f:]
            dy = dy[:merged] if self.merge_mode is None else dy[0]
        # ==== split the merged gradient ====
        dy_f, dy_b = dy if self.merge_mode is None else self._merge.backward(dy)
        if self.return_sequences:
            dy_b = dy_b[:, ::-1]
        dy_f, dy_b = xp.ascontiguousarray(dy_f), xp.ascontiguousarray(dy_b)
        if self.return_state:
            dy_f, dy_b = [dy_f] + d_states_f, [dy_b] + d_states_b
        dx_f = self.forward_layer.backward(dy_f)
        dx_b = self.backward_layer.backward(dy_b)
        if dx_f is None:
            return None
        if not self._states_given:
            dx = dx_f + dx_b
        else:  # [dx, *d_states] from each direction
            dx = [dx_f[0] + dx_b[0]] + dx_f[1:] + dx_b[1:]
        if not self._listed_inputs:
            return dx
        return (dx if isinstance(dx, list) else [dx]) + ([None] if self._explicit_mask else [])

    def get_config(self):
        config = {**super().get_config(), "layer": serialize(self.forward_layer), "merge_mode": self.merge_mode}
        config["backward_layer"] = serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else deserialize(backward), **config)


class TimeDistributed(Wrapper):
    """Applies a layer to every time step: ``(batch, timesteps, ...) -> (batch, timesteps, ...)``.

    The time axis is folded into the batch axis, so ``TimeDistributed(Dense(8))`` runs one GEMM over
    all steps.

    Args:
        layer: the layer to apply (built for the input without its time axis).

    Input shape: ``(batch, timesteps, ...)``; a mask passes through.
    Output shape: ``(batch, timesteps) + layer output shape without its batch axis``.

    Example:
        >>> TimeDistributed(Dense(8))(numpy.ones((32, 10, 16))).shape
        (32, 10, 8)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed expects a layer. Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self._finish_wrapping()

    def wrapped_layers(self):
        return [("layer", self.layer)]

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) expects an input of rank >= 3 "
                             f"(batch, timesteps, ...), but received input of shape {tuple(input_shape)}.")
        self.layer.build_for((None,) + tuple(input_shape[2:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, x, training=False):
        if x.ndim < 3:
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) expects an input of rank >= 3 "
                             f"(batch, timesteps, ...), but received input of shape {tuple(x.shape)}.")
        self._propagate_input_gradient()
        N, T = x.shape[:2]
        self._x_shape = x.shape
        y = self.layer.forward(x.reshape((N * T,) + x.shape[2:]), training=training)
        return y.reshape((N, T) + y.shape[1:])

    def backward(self, dy):
        N, T = self._x_shape[:2]
        dx = self.layer.backward(dy.reshape((N * T,) + dy.shape[2:]))
        return None if dx is None else dx.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)
