"""Metrics reported during fit/evaluate: accuracy (binary / categorical / sparse, picked as Keras picks),
mae, mse. Each gives ``batch_total(y_true, y_pred, from_logits)``, the sum of its per-sample values as a
0-d array on the backend, so the model can accumulate them without leaving the device."""
from . import backend
from ._registry import Registry, snake_case

registry = Registry("metric")


class Metric:
    """Base of the metrics: subclasses write ``batch_total``. ``name`` (the key in the logs) defaults to the
    class's ``default_name``.
    """
    #: Whether ``batch_total`` can take logits (``from_logits=True``) in place of the model's outputs.
    accepts_logits = True

    def __init__(self, name=None):
        self.name = name or self.default_name

    def batch_total(self, y_true, y_pred, from_logits=False):
        """The sum over the batch of each sample's metric value, as a 0-d array on the backend (a sample with
        several positions counts the mean over them). With ``from_logits=True`` ``y_pred`` holds the logits
        of a fused output activation.
        """
        raise NotImplementedError


@registry.register("binary_accuracy")
class BinaryAccuracy(Metric):
    """Fraction of outputs on the same side of 0.5 as the targets (threshold 0 for logits)."""
    default_name = "binary_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        threshold = 0 if from_logits else 0.5
        hits = (y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5)
        return _sum_of_sample_means(hits)


@registry.register("categorical_accuracy")
class CategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is where the (one-hot) target is largest."""
    default_name = "categorical_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        return _sum_of_sample_means(y_pred.argmax(axis=-1) == y_true.argmax(axis=-1))


@registry.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is at the integer label."""
    default_name = "sparse_categorical_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        return _sum_of_sample_means(y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape[:-1]))


def _sum_of_sample_means(values):
    """Mean over every axis but the batch axis, summed over the batch (sequence outputs count per position)."""
    if values.ndim == 1:
        return values.sum()
    return values.reshape(values.shape[0], -1).mean(axis=1).sum()


class _RegressionMetric(Metric):
    """Per-sample mean over the last axis; needs outputs, not logits."""
    accepts_logits = False

    def batch_total(self, y_true, y_pred, from_logits=False):
        if from_logits:
            raise ValueError(f"Metric '{self.name}' needs the model's outputs, not logits.")
        return _sum_of_sample_means(self.per_element(y_pred - y_true.reshape(y_pred.shape)))


@registry.register("mean_absolute_error", "mae")
class MeanAbsoluteError(_RegressionMetric):
    """``mean(|y_pred - y_true|)`` over the output axes, per sample."""
    default_name = "mean_absolute_error"

    def per_element(self, diff):
        """``|diff|`` for ``diff = y_pred - y_true``."""
        return backend.get_array_module(diff).abs(diff)


@registry.register("mean_squared_error", "mse")
class MeanSquaredError(_RegressionMetric):
    """``mean((y_pred - y_true) ** 2)`` over the output axes, per sample."""
    default_name = "mean_squared_error"

    def per_element(self, diff):
        """``diff ** 2`` for ``diff = y_pred - y_true``."""
        return diff * diff


class MeanMetricWrapper(Metric):
    """A metric from a function ``fn(y_true, y_pred)`` of arrays (``nnkit.ops`` work on them) returning each
    sample's value: the mean over the samples (Keras' class of the same name); ``compile(metrics=[fn])``."""
    accepts_logits = False

    def __init__(self, fn, name=None):
        super().__init__(name=name or getattr(fn, "__name__", "metric"))
        self.fn = fn

    def batch_total(self, y_true, y_pred, from_logits=False):
        values = backend.to_device(self.fn(y_true, y_pred))
        return _sum_of_sample_means(values) if values.ndim else values * len(y_pred)


def get(identifier, loss=None, output_shape=None):
    """A Metric. ``"accuracy"``/``"acc"`` becomes binary, categorical or sparse accuracy by the loss (and
    else by the output shape), as Keras decides; the metric keeps the name it was asked by. A function of
    ``(y_true, y_pred)`` becomes a ``MeanMetricWrapper``."""
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier)
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy_for(loss, output_shape)(name=identifier)
    if isinstance(identifier, str) and snake_case(identifier) in registry.names():
        return registry.get(identifier, name=identifier)
    raise ValueError(f"Unknown metric {identifier!r}. Expected 'accuracy' or one of: "
                     f"{', '.join(registry.names())}, an nnkit.metrics.Metric, or a function of (y_true, y_pred).")


def _accuracy_for(loss, output_shape):
    loss_name = getattr(loss, "name", "")
    if "sparse" in loss_name:
        return SparseCategoricalAccuracy
    if loss_name == "binary_crossentropy" or (output_shape is not None and output_shape[-1] == 1):
        return BinaryAccuracy
    return CategoricalAccuracy
