"""Losses with Keras' names, defaults and reduction ("sum over batch size": the mean over samples).

Each loss gives ``forward_backward(y_true, y_pred) -> (loss, dy_pred)`` with ``loss`` a 0-d array on
the backend; calling it, ``loss(y_true, y_pred)``, returns the value as a float as Keras does.
Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` when ``from_logits=False``.
"""
import numpy

from . import backend, primitives
from ._registry import Registry
from ._shapes import format_shape

EPSILON = 1e-7
registry = Registry("loss")


class Loss:
    """Base of the losses.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities (cross-entropies only).
        name: defaults to the loss's registered snake_case name (e.g. ``"mean_squared_error"``).
    """
    #: The output activation this loss can absorb into a fused from-logits kernel (or None).
    fusable_activation = None

    def __init__(self, from_logits=False, name=None):
        self.from_logits = from_logits
        self.name = name or _registry_key(type(self))

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss as a float, as Keras returns it; under a recording GradientTape, with a tracked ``y_pred``
        (a model's output), a Tensor whose gradient is this loss's own."""
        from .ops import tape as tape_module
        tape = tape_module.recording()
        tracked = tape.tracked(y_pred) if tape is not None else None
        y_pred = backend.to_device(tape_module.unwrap(y_pred))
        y_true = backend.get_array_module(y_pred).asarray(tape_module.unwrap(y_true))
        self.validate_targets(y_true, y_pred.shape)
        if sample_weight is None:
            value, grad = self.forward_backward(y_true, y_pred)
        else:
            weights = backend.get_array_module(y_pred).asarray(tape_module.unwrap(sample_weight))
            value, grad = self.weighted_forward_backward(y_true, y_pred, weights)
        if tracked is None:
            return float(value)
        return tape_module.record(value, [tracked], lambda d: [grad * d])

    def forward_backward(self, y_true, y_pred):
        """Return ``(loss, dy_pred)``: the mean loss over the batch as a 0-d array on ``y_pred``'s backend,
        and its gradient with respect to ``y_pred`` (``y_pred``'s shape and dtype). ``y_true`` is already on
        the same backend and has been checked by ``validate_targets``.

        A subclass writes this (the built-in losses, with fused kernels), or Keras' ``call(y_true, y_pred)``
        returning each sample's loss with ``nnkit.ops``: ``call`` is then traced into a graph whose ops give
        the gradient, and the loss is the mean of its values.
        """
        if type(self).call is Loss.call:
            raise NotImplementedError(f"{type(self).__name__} must write call(y_true, y_pred) (with nnkit.ops) or "
                                      f"forward_backward(y_true, y_pred).")
        values, run, graph = self._run_call(y_true, y_pred)
        xp = backend.get_array_module(values)
        d_values = xp.full(values.shape, 1 / max(values.size, 1), dtype=values.dtype)
        return values.mean(), graph.backward(run, d_values)[1].astype(y_pred.dtype, copy=False)

    def call(self, y_true, y_pred):
        """Keras' way to write a loss: each sample's loss (shape ``(N,)`` or ``(N, ...)``) from ``nnkit.ops``."""
        raise NotImplementedError

    def _run_call(self, y_true, y_pred):
        """``call`` traced (once per input signature) into a graph and run: ``(values, run, graph)``."""
        from .layers.graph import Graph
        from .layers.input_layer import Input
        key = (y_true.shape[1:], y_true.dtype.name, y_pred.shape[1:], y_pred.dtype.name)
        graphs = self.__dict__.setdefault("_graphs", {})
        if key not in graphs:
            inputs = [Input(batch_shape=(None,) + tuple(y_true.shape[1:]), dtype=y_true.dtype.name),
                      Input(batch_shape=(None,) + tuple(y_pred.shape[1:]), dtype=y_pred.dtype.name)]
            graphs[key] = Graph(inputs, self.call(*inputs))
        graph = graphs[key]
        values, run = graph.forward([y_true, y_pred], training=False, needs_input_gradient=True)
        return values, run, graph

    def per_sample(self, y_true, y_pred):
        """Each sample's loss, shape ``(N,)`` (its mean over any further axes): what sample weights scale."""
        if type(self).call is not Loss.call:
            values = self._run_call(y_true, y_pred)[0]
            if values.ndim:
                return values.reshape(len(values), -1).mean(axis=1)
        raise NotImplementedError(f"{type(self).__name__} gives no per-sample losses, so fit() cannot weight "
                                  f"its samples (sample_weight / class_weight).")

    def weighted_forward_backward(self, y_true, y_pred, sample_weight):
        """Keras' weighted "sum over batch size": ``mean_n(w_n * loss_n)`` and its gradient.

        ``forward_backward``'s gradient is that of ``mean_n(loss_n)``, so sample n's part of it scaled by
        ``w_n`` is the weighted gradient; the unweighted (fused) path stays as it is.
        """
        _, grad = self.forward_backward(y_true, y_pred)
        grad *= sample_weight.reshape((-1,) + (1,) * (grad.ndim - 1)).astype(grad.dtype, copy=False)
        return (self.per_sample(y_true, y_pred) * sample_weight).mean(), grad

    def validate_targets(self, y_true, output_shape):
        """Raise a clear error when targets cannot go with outputs of ``output_shape`` (batch axis ignored)."""
        per_sample, expected = tuple(y_true.shape[1:]), tuple(output_shape[1:])
        if not shape_fits(per_sample, expected) and not (expected[-1:] == (1,) and shape_fits(per_sample, expected[:-1])):
            raise ValueError(f"{self.name}: targets of shape {tuple(y_true.shape)} do not match the model output "
                             f"of shape {format_shape(output_shape)}.")

    def with_logits(self):
        """The same loss taking logits, for the fused output path."""
        return type(self)(from_logits=True, name=self.name)

    def get_config(self):
        """The constructor arguments, ``{"from_logits", "name"}``."""
        return {"from_logits": self.from_logits, "name": self.name}


def _registry_key(cls):
    return next((k for k, v in registry._factories.items() if v is cls and len(k) > 3), cls.__name__)


def _as_output_shape(y_true, y_pred):
    """Targets in the outputs' shape and float dtype (so the gradient keeps the model's dtype)."""
    y_true = y_true.reshape(y_pred.shape) if y_true.shape != y_pred.shape else y_true
    return y_true.astype(y_pred.dtype, copy=False)


def _per_position(forward_backward, targets, y_pred):
    """Apply a 2-D ``(rows, K)`` cross-entropy to outputs ``(N, ..., K)``: Keras averages over every position."""
    if y_pred.ndim == 2:
        return forward_backward(targets, y_pred)
    k = y_pred.shape[-1]
    targets = targets.reshape(-1) if targets.ndim < y_pred.ndim else targets.reshape(-1, k)
    loss, grad = forward_backward(targets, y_pred.reshape(-1, k))
    return loss, grad.reshape(y_pred.shape)


@registry.register("mean_squared_error", "mse")
class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2)`` over every element."""
    def forward_backward(self, y_true, y_pred):
        diff = y_pred - _as_output_shape(y_true, y_pred)
        loss = backend.get_array_module(diff).vdot(diff, diff) / diff.size
        diff *= 2 / diff.size
        return loss, diff

    def per_sample(self, y_true, y_pred):
        diff = y_pred - _as_output_shape(y_true, y_pred)
        return _sample_means(diff * diff)


@registry.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|)`` over every element; the gradient is ``sign(y_pred - y_true) / size``."""
    def forward_backward(self, y_true, y_pred):
        xp = backend.get_array_module(y_pred)
        diff = y_pred - _as_output_shape(y_true, y_pred)
        return xp.abs(diff).sum() / diff.size, xp.sign(diff) / diff.size

    def per_sample(self, y_true, y_pred):
        return _sample_means(backend.get_array_module(y_pred).abs(y_pred - _as_output_shape(y_true, y_pred)))


@registry.register("binary_crossentropy")
class BinaryCrossentropy(Loss):
    """``-mean(t * log(p) + (1 - t) * log(1 - p))`` over every element.

    ``p = y_pred`` clipped to ``[1e-7, 1 - 1e-7]`` (no gradient outside that range), or with
    ``from_logits=True`` ``p = sigmoid(y_pred)``, computed in the stable form of the fused kernel.
    """
    fusable_activation = "sigmoid"

    def forward_backward(self, y_true, y_pred):
        xp = backend.get_array_module(y_pred)
        y_true = _as_output_shape(y_true, y_pred).astype(y_pred.dtype, copy=False)
        if self.from_logits:
            return primitives.sigmoid_binary_cross_entropy(y_pred, y_true)
        p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
        loss = -(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p)).sum() / p.size
        inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)  # clip() passes no gradient outside
        grad = ((1 - y_true) / (1 - p) - y_true / p) * inside / p.size
        return loss, grad

    def per_sample(self, y_true, y_pred):
        xp = backend.get_array_module(y_pred)
        t = _as_output_shape(y_true, y_pred)
        if self.from_logits:
            return _sample_means(xp.maximum(y_pred, 0) - y_pred * t + xp.log1p(xp.exp(-xp.abs(y_pred))))
        p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
        return _sample_means(-(t * xp.log(p) + (1 - t) * xp.log(1 - p)))


@registry.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """``-sum_k t_k * log(q_k)`` over the last axis, averaged over samples and positions.

    Targets are one-hot or soft distributions of the outputs' shape. Probabilities are renormalised to sum
    to 1 over the last axis and clipped to ``[1e-7, 1 - 1e-7]``, as Keras does; with ``from_logits=True``
    ``q = softmax(y_pred)`` (fused, stable).
    """
    fusable_activation = "softmax"

    def forward_backward(self, y_true, y_pred):
        targets = y_true.astype(y_pred.dtype, copy=False)
        return _per_position(self._rows, targets, y_pred)

    def _rows(self, targets, y_pred):
        if self.from_logits:
            return primitives.softmax_cross_entropy(y_pred, targets)
        return _cross_entropy_of_probabilities(targets, y_pred)

    def per_sample(self, y_true, y_pred):
        return _categorical_per_sample(y_true.astype(y_pred.dtype, copy=False), y_pred, self.from_logits)


@registry.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels: targets have the outputs' shape without
    the last axis (or with a trailing 1), and every label must lie in ``[0, K)``.
    """
    fusable_activation = "softmax"

    def forward_backward(self, y_true, y_pred):
        labels = y_true.reshape(-1).astype(numpy.int64, copy=False)
        return _per_position(self._rows, labels, y_pred)

    def _rows(self, labels, y_pred):
        if self.from_logits:
            return primitives.softmax_cross_entropy(y_pred, labels)
        xp = backend.get_array_module(y_pred)
        targets = xp.zeros_like(y_pred)
        targets[xp.arange(len(labels)), labels] = 1
        return _cross_entropy_of_probabilities(targets, y_pred)

    def per_sample(self, y_true, y_pred):
        xp = backend.get_array_module(y_pred)
        labels = y_true.reshape(y_pred.shape[:-1] + (1,)).astype(numpy.int64, copy=False)
        targets = (labels == xp.arange(y_pred.shape[-1])).astype(y_pred.dtype)
        return _categorical_per_sample(targets, y_pred, self.from_logits)

    def validate_targets(self, y_true, output_shape):
        per_sample, expected = tuple(y_true.shape[1:]), tuple(output_shape[1:-1])
        if not (shape_fits(per_sample, expected) or shape_fits(per_sample, expected + (1,))):
            raise ValueError(f"{self.name}: expected integer labels of shape {format_shape(output_shape[:-1])} for a "
                             f"model output of shape {format_shape(output_shape)}, but received labels of shape "
                             f"{tuple(y_true.shape)}. (One-hot targets go with categorical_crossentropy.)")
        check_labels(y_true, output_shape[-1], self.name)


def shape_fits(shape, expected):
    """Whether ``shape`` matches ``expected``, whose None entries (steps of any length) match any size."""
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def check_labels(labels, num_classes, what):
    """Integer class labels in ``[0, num_classes)``, or a ValueError naming the offending value."""
    xp = backend.get_array_module(labels)
    if labels.dtype.kind == "f":
        if not bool(xp.all(labels == xp.floor(labels))):
            raise ValueError(f"{what}: labels must be integers; received non-integer values (dtype {labels.dtype}).")
    elif labels.dtype.kind not in "iub":
        raise ValueError(f"{what}: labels must be integers; received dtype {labels.dtype}.")
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise ValueError(f"{what}: label {bad} is out of range; the model has {num_classes} outputs, "
                             f"so labels must lie in [0, {num_classes - 1}].")


def _cross_entropy_of_probabilities(targets, probabilities):
    """Keras' categorical cross-entropy of probabilities: rows renormalised, then clipped."""
    xp = backend.get_array_module(probabilities)
    n = probabilities.shape[0]
    total = probabilities.sum(axis=-1, keepdims=True)
    q = probabilities / total
    clipped = xp.clip(q, EPSILON, 1 - EPSILON)
    loss = -(targets * xp.log(clipped)).sum() / n
    # d/dq_k = -t_k / q_k inside the clip range; then back through q = p / sum(p).
    dq = -targets / clipped * ((q > EPSILON) & (q < 1 - EPSILON))
    grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total / n
    return loss, grad


def _sample_means(values):
    """``(N, ...)`` -> ``(N,)``: the mean over every axis but the batch axis."""
    return values.reshape(values.shape[0], -1).mean(axis=1)


def _categorical_per_sample(targets, y_pred, from_logits):
    """Each sample's categorical cross-entropy (mean over positions), from logits or probabilities."""
    xp = backend.get_array_module(y_pred)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_q = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    else:
        log_q = xp.log(xp.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON))
    return _sample_means(-(targets * log_q).sum(axis=-1))


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` written with ``nnkit.ops`` that returns each
    sample's loss (Keras' class of the same name); ``compile(loss=fn)`` makes one."""

    def __init__(self, fn, name=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"))
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def with_logits(self):
        return self

    def get_config(self):
        return {"name": self.name}


def get(identifier):
    """A Loss from a name (``"mse"``, ``"categorical_crossentropy"``, ...), a ``{"class_name", "config"}``
    dict, a Loss instance, or a function ``fn(y_true, y_pred)`` written with ``nnkit.ops``.
    """
    if callable(identifier) and not isinstance(identifier, (Loss, type)):
        return LossFunctionWrapper(identifier)
    loss = registry.get(identifier)
    if not isinstance(loss, Loss):
        raise ValueError(f"A loss must be a name ({', '.join(registry.names())}), an nnkit.losses.Loss or a "
                         f"function of (y_true, y_pred) written with nnkit.ops. Received: {identifier!r}")
    return loss


# Keras' function-style names.
mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
