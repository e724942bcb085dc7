"""Metrics reported during fit/evaluate: accuracy (binary / categorical / sparse, picked as Keras picks),
mae, mse. Each gives ``batch_total(y_true, y_pred, from_logits)``, the sum of its per-sample values as a
0-d array on the backend, so the model can accumulate them without leaving the device."""
from . import backend
from ._registry import Registry, snake_case

registry = Registry("metric")


class Metric:
    #: Whether ``batch_total`` can take logits (``from_logits=True``) in place of the model's outputs.
    accepts_logits = True

    def __init__(self, name=None):
        self.name = name or self.default_name

    def batch_total(self, y_true, y_pred, from_logits=False):
        raise NotImplementedError


@registry.register("binary_accuracy")
class BinaryAccuracy(Metric):
    default_name = "binary_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        threshold = 0 if from_logits else 0.5
        hits = (y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5)
        return _sum_of_sample_means(hits)


@registry.register("categorical_accuracy")
class CategoricalAccuracy(Metric):
    default_name = "categorical_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        return _sum_of_sample_means(y_pred.argmax(axis=-1) == y_true.argmax(axis=-1))


@registry.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(Metric):
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
    default_name = "mean_absolute_error"

    def per_element(self, diff):
        return backend.get_array_module(diff).abs(diff)


@registry.register("mean_squared_error", "mse")
class MeanSquaredError(_RegressionMetric):
    default_name = "mean_squared_error"

    def per_element(self, diff):
        return diff * diff


def get(identifier, loss=None, output_shape=None):
    """A Metric. ``"accuracy"``/``"acc"`` becomes binary, categorical or sparse accuracy by the loss (and
    else by the output shape), as Keras decides; the metric keeps the name it was asked by."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy_for(loss, output_shape)(name=identifier)
    if isinstance(identifier, str) and snake_case(identifier) in registry.names():
        return registry.get(identifier, name=identifier)
    raise ValueError(f"Unknown metric {identifier!r}. Expected 'accuracy' or one of: "
                     f"{', '.join(registry.names())}, or an nnkit.metrics.Metric.")


def _accuracy_for(loss, output_shape):
    loss_name = getattr(loss, "name", "")
    if "sparse" in loss_name:
        return SparseCategoricalAccuracy
    if loss_name == "binary_crossentropy" or (output_shape is not None and output_shape[-1] == 1):
        return BinaryAccuracy
    return CategoricalAccuracy
