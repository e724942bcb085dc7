"""``Sequential``: a stack of layers with Keras' compile / fit / evaluate / predict / summary."""
import contextlib
import sys

import numpy

from .. import backend, losses, metrics as metrics_module, optimizers
from ..callbacks import CallbackList, History, ProgbarLogger
from ..layers.base import Layer, unique_name
from ..layers.core import Input
from ..params import ParameterStore
from . import data, saving, weighting
from .summary import summary_lines


class Sequential:
    """A linear stack of layers.

    Example:
        >>> model = Sequential([Input(shape=(784,)), Dense(128, activation="relu"), Dense(10, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> history = model.fit(x_train, y_train, epochs=5, batch_size=64, validation_split=0.1)
    """

    def __init__(self, layers=None, name=None):
        self.name = name or unique_name("sequential")
        self.layers = []
        self.input_shape = None
        self.output_shape = None
        self.store = None
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self._compiled_metrics = []
        self._metric_identifiers = []
        for layer in layers or []:
            self.add(layer)

    # ---- building ------------------------------------------------------------------------------------
    def add(self, layer):
        """Append a layer (or, first, an ``Input`` that gives the input shape); layers are built as soon as
        the input shape is known. Anything else is a TypeError.
        """
        if isinstance(layer, Input):
            if self.layers or self.input_shape is not None:
                raise ValueError("Input(...) must be the first entry of a Sequential model.")
            self.input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer (nnkit.layers.Layer). Received: {layer!r}")
        if not self.layers and self.input_shape is None:
            self.input_shape = layer.input_shape_hint
        self.layers.append(layer)
        self.store = None
        if self.input_shape is not None:
            self._build_layers()

    def pop(self):
        """Remove and return the last layer; the model's parameter buffers are rebuilt."""
        layer = self.layers.pop()
        self.store = None
        self._build_layers()
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
        self._build_layers()

    @property
    def built(self):
        """True once the input shape is known and every layer is built."""
        return self.output_shape is not None

    def _build_layers(self):
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.build_for(shape)
        self.output_shape = shape if self.layers else None
        if self.layers:
            # The input itself needs no gradient: spare the first layer that GEMM.
            for index, layer in enumerate(self.layers):
                layer.needs_input_gradient = index > 0

    def _ensure_built(self, x):
        if self.input_shape is None:
            self.input_shape = (None,) + tuple(numpy.shape(x)[1:])
        if not self.built or any(not layer.built for layer in self.layers):
            self._build_layers()

    def _ensure_store(self):
        """Gather the trainable weights into the flat buffers (again if layers changed)."""
        if self.store is None or not self.store.owns(self.layers):
            self.store = ParameterStore(self.layers)
            if self.optimizer is not None:
                self.optimizer.build(self.store)
        return self.store

    # ---- compile -------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Configure training.

        Args:
            optimizer: a name (default ``"rmsprop"``, as Keras), a config dict or an Optimizer.
            loss: a name or a Loss (required).
            metrics: names or Metric objects; ``"accuracy"`` picks binary, categorical or sparse accuracy from
                the loss. Unknown names fail here, not at fit time.
        """
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy'.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._metric_identifiers = list(metrics or [])
        for identifier in self._metric_identifiers:
            metrics_module.get(identifier, self.loss)  # unknown names fail here, not at fit time
        self._compiled_metrics = []
        if self.store is not None:
            self.optimizer.build(self.store)

    def _require_compiled(self, method):
        if self.loss is None:
            raise RuntimeError(f"You must call compile() before {method}().")

    def _output_plan(self):
        """Fuse the last layer's softmax/sigmoid into the loss when the pair allows (see DESIGN.md)."""
        last = self.layers[-1]
        activation = getattr(last, "activation", None)
        fuse = (self.loss.fusable_activation is not None and not self.loss.from_logits
                and activation is not None and activation.name == self.loss.fusable_activation)
        if hasattr(last, "emit_logits"):
            last.emit_logits = fuse
        self._train_loss = self.loss.with_logits() if fuse else self.loss
        self._output_activation = activation if fuse else None
        self._compiled_metrics = [metrics_module.get(identifier, self.loss, self.output_shape)
                                  for identifier in self._metric_identifiers]

    # ---- the training step ---------------------------------------------------------------------------
    def _forward(self, x, training):
        mask = None
        for layer in self.layers:
            x, mask = layer.forward_masked(x, mask, training=training)
        return x

    def _backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)

    def _regularization(self, with_gradients):
        penalty = 0.0
        for layer in self.layers:
            if layer.has_regularizers:
                penalty = penalty + layer.regularization_penalty()
                if with_gradients:
                    layer.add_regularization_gradients()
        return penalty

    def _accumulate(self, totals, loss, y, output, batch_size):
        totals[0] += loss * batch_size
        from_logits = self._output_activation is not None
        activated = None  # the outputs behind fused logits, computed once if a metric needs them
        for index, metric in enumerate(self._compiled_metrics, start=1):
            if from_logits and not metric.accepts_logits:
                if activated is None:
                    activated = self._output_activation.forward(output)
                totals[index] += metric.batch_total(y, activated)
            else:
                totals[index] += metric.batch_total(y, output, from_logits=from_logits)

    def _train_step(self, x, y, totals, sample_weight=None):
        output = self._forward(x, training=True)
        if sample_weight is None:
            loss, d_output = self._train_loss.forward_backward(y, output)
        else:
            loss, d_output = self._train_loss.weighted_forward_backward(y, output, sample_weight)
        self._backward(d_output)
        loss = loss + self._regularization(with_gradients=True)
        self.optimizer.apply_gradients(self.store)
        self._accumulate(totals, loss, y, output, len(x))

    def _logs(self, totals, count, prefix=""):
        values = backend.to_host(totals) / max(count, 1)
        names = ["loss"] + [metric.name for metric in self._compiled_metrics]
        return {prefix + name: float(value) for name, value in sorted(zip(names, values))}

    # ---- fit / evaluate / predict --------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0):
        """Train for ``epochs`` epochs; returns a ``History``. Arguments as in Keras.

        ``sample_weight`` (one weight per sample) or ``class_weight`` (``{class index: weight}``) weigh each
        sample's loss: the loss is ``mean_n(w_n * loss_n)``, Keras' "sum over batch size". With
        ``validation_split`` the validation samples' weights are not used (val_loss is unweighted).
        """
        self._require_compiled("fit")
        batch_size = _positive("batch_size", 32 if batch_size is None else batch_size)
        _positive("epochs", epochs)
        if validation_data is None and validation_split:
            (x, y), validation_data = data.split_validation(numpy.asarray(x) if not backend.is_device_array(x)
                                                            else x, y, validation_split)
            sample_weight = weighting.split_off_validation(sample_weight, len(x))
        validation_data = _unpack_validation(validation_data) if validation_data is not None else (None, None)
        # The data set goes to the device once when it fits there; else batches are copied over one by one.
        on_device = data.fits_on_device(x, y, *validation_data)
        with _explain_out_of_memory("moving the training data to the device", batch_size):
            x, y = self._prepare(x, y, on_device)
            weights = weighting.sample_weights(y, sample_weight, class_weight, len(x))
            validation = self._prepare(*validation_data, on_device) if validation_data[0] is not None else None
            self._ensure_store()

        steps = -(-len(x) // batch_size)
        verbose = _resolve_verbose(verbose)
        callbacks = list(callbacks or [])
        # As in Keras: History and the progress bar come after the user's callbacks (so they see the keys
        # those add to the logs), and ones the user passed are used instead of new ones.
        history = next((c for c in callbacks if isinstance(c, History)), None)
        if history is None:
            history = History()
            callbacks.append(history)
        if verbose and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            callbacks.append(ProgbarLogger(verbose))
        callback_list = CallbackList(callbacks, self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        self.history = history
        xp = backend.xp()
        totals = xp.zeros(1 + len(self._compiled_metrics), dtype=backend.floatx())
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            order = (backend.device_rng() if on_device else backend.host_rng()).permutation(len(x)) if shuffle \
                else None
            totals.fill(0)
            seen = 0
            for step in range(steps):
                batch = slice(step * batch_size, (step + 1) * batch_size)
                index = order[batch] if order is not None else batch
                x_batch, y_batch = backend.to_device_staged(x[index]), backend.to_device_staged(y[index])
                callback_list.on_train_batch_begin(step)
                with _explain_out_of_memory("a training step", batch_size):
                    self._train_step(x_batch, y_batch, totals, None if weights is None else weights[index])
                seen += len(x_batch)
                callback_list.on_train_batch_end(step, _LazyLogs(self, totals, seen))
                if self.stop_training:
                    break
            logs = self._logs(totals, seen)
            if not numpy.isfinite(logs["loss"]) and not self.stop_training:
                callback_list.on_train_end()  # callbacks close their files (CSVLogger) before fit raises
                raise FloatingPointError(
                    f"The training loss became {logs['loss']} in epoch {epoch + 1}: training diverged. Lower the "
                    f"learning rate, scale the inputs, or clip gradients (e.g. clipnorm=1.0).")
            if validation is not None:
                logs.update(self._evaluate_arrays(*validation, batch_size, prefix="val_"))
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callback_list.on_train_end()
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """The loss (and metrics) over ``(x, y)``: a float, or ``[loss, *metrics]``, or a dict."""
        self._require_compiled("evaluate")
        x, y = self._prepare(x, y, data.fits_on_device(x, y))
        logs = self._evaluate_arrays(x, y, _positive("batch_size", 32 if batch_size is None else batch_size))
        if _resolve_verbose(verbose):
            print(" - ".join(f"{key}: {value:.4f}" for key, value in logs.items()))
        if return_dict:
            return logs
        names = ["loss"] + [metric.name for metric in self._compiled_metrics]
        return logs["loss"] if len(names) == 1 else [logs[name] for name in names]

    def _evaluate_arrays(self, x, y, batch_size, prefix=""):
        totals = backend.xp().zeros(1 + len(self._compiled_metrics), dtype=backend.floatx())
        penalty = self._regularization(with_gradients=False)  # the weights do not change while evaluating
        for start in range(0, len(x), batch_size):
            x_batch = backend.to_device_staged(x[start:start + batch_size])
            y_batch = backend.to_device_staged(y[start:start + batch_size])
            output = self._forward(x_batch, training=False)
            loss, _ = self._train_loss.forward_backward(y_batch, output)
            self._accumulate(totals, loss + penalty, y_batch, output, len(x_batch))
        return self._logs(totals, len(x), prefix)

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's outputs for ``x``, as a NumPy array."""
        self._ensure_built(x)
        on_device = data.fits_on_device(x)
        x = data.as_input_array(x, self.input_shape, on_device=on_device)
        if self.loss is not None:
            self._output_plan()
        batch_size = _positive("batch_size", 32 if batch_size is None else batch_size)
        outputs = []
        for start in range(0, len(x), batch_size):
            output = self._forward(backend.to_device_staged(x[start:start + batch_size]), training=False)
            if getattr(self, "_output_activation", None) is not None:
                output = self._output_activation.forward(output)
            # Streamed inputs get streamed outputs: the results need not fit on the device either.
            outputs.append(output if on_device else backend.to_host(output))
        xp = backend.get_array_module(outputs[0]) if outputs else numpy
        return backend.to_host(xp.concatenate(outputs) if outputs else xp.zeros((0,) + self.output_shape[1:]))

    def __call__(self, x, training=False):
        return self.predict(x) if not training else self._forward(backend.to_device(x), training=True)

    def _prepare(self, x, y, on_device=True):
        if len(self.layers) == 0:
            raise ValueError("The model has no layers: add some before fit/evaluate/predict.")
        self._ensure_built(x)
        self._output_plan()
        x = data.as_input_array(x, self.input_shape, on_device=on_device)
        y = data.as_target_array(y, self.loss, self.output_shape, len(x), on_device=on_device)
        return x, y

    # ---- weights and description ---------------------------------------------------------------------
    def get_weights(self):
        """Every layer's weights as NumPy arrays, in Keras' order."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set every weight from a list in ``get_weights()`` order. Every array is checked (count, shape, real
        numbers) before any is written, so a bad list leaves the model as it was."""
        if not self.built:
            raise ValueError("Build the model (give it an input shape) before set_weights().")
        expected = sum(len(layer.weight_specs) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expects {expected} arrays for model '{self.name}', received {len(weights)}.")
        checked, position = [], 0
        for layer in self.layers:
            count = len(layer.weight_specs)
            checked.append((layer, layer.checked_weights(weights[position:position + count])))
            position += count
        for layer, values in checked:
            layer.set_weights(values)

    @property
    def weights(self):
        """Every layer's weights (backend arrays), in Keras' order."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """The weights the optimizer updates, layer by layer."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    def count_params(self):
        """The number of scalars in all the weights."""
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=None):
        """Print Keras' table of layers, output shapes and parameter counts, a line at a time through ``print_fn`` (default ``print``)."""
        for line in summary_lines(self):
            (print_fn or print)(line)

    # ---- saving --------------------------------------------------------------------------------------
    def save_weights(self, filepath):
        """Write every weight to ``filepath`` as safetensors (names like ``"dense/kernel"``), atomically."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights from an nnkit safetensors file (``save_weights`` or ``save``) or a Keras 3
        ``.weights.h5`` file of the same architecture; every shape is checked before anything is written."""
        saving.load_weights(self, filepath)

    def save(self, filepath):
        """Write the architecture, the weights and the optimizer state to one file (``.nnkit`` by convention);
        ``nnkit.models.load_model(filepath)`` restores it, and ``fit`` resumes exactly."""
        saving.save_model(self, filepath)

    def get_config(self):
        """The architecture as JSON-ready data: the name, the input shape, and each layer's class and config."""
        return {"name": self.name,
                "build_input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new, untrained model from ``get_config()``'s output; layer classes are looked up by name in
        ``custom_objects``, then ``nnkit.layers``."""
        model = cls(name=config.get("name"))
        if config.get("build_input_shape") is not None:
            model.add(Input(shape=tuple(config["build_input_shape"][1:])))
        for entry in config["layers"]:
            model.add(saving.layer_from_config(entry, custom_objects))
        return model


class _LazyLogs(dict):
    """Batch logs that copy the running means from the device only when a callback reads them.

    Every reading method loads first (a dict subclass whose ``in``, ``repr`` or ``values()`` skipped the load
    would show a callback an empty dict); writing loads too, so a callback's own key is not overwritten later.
    """

    def __init__(self, model, totals, seen):
        super().__init__()
        self._source = (model, totals, seen)

    def _load(self):
        if self._source is not None:
            model, totals, seen = self._source
            self._source = None
            super().update(model._logs(totals, seen))


def _loading(name):
    method = getattr(dict, name)

    def loaded(self, *args, **kwargs):
        self._load()
        return method(self, *args, **kwargs)
    loaded.__name__ = name
    return loaded


for _name in ("__getitem__", "__contains__", "__iter__", "__len__", "__repr__", "__eq__", "__ne__", "__or__",
              "__setitem__", "__delitem__", "keys", "items", "values", "get", "copy", "pop", "popitem",
              "setdefault", "update"):
    setattr(_LazyLogs, _name, _loading(_name))
del _name


@contextlib.contextmanager
def _explain_out_of_memory(doing, batch_size):
    """Turn the backend's out-of-memory error into one that says what ran out and what to try."""
    try:
        yield
    except backend.device_out_of_memory_errors() as error:
        raise MemoryError(f"Out of {backend.name().upper()} memory while {doing} (batch_size={batch_size}): "
                          f"{error}. Try a smaller batch_size, a smaller model, or less data per fit call."
                          ) from error


def _unpack_validation(validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validation_data must be a tuple (x_val, y_val).")
    return validation_data


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return verbose
