"""Metrics reported during fit/evaluate: accuracy (binary / categorical / sparse, picked as Keras picks),
mae, mse. Each gives ``batch_total(y_true, y_pred, from_logits)``, the sum of its per-sample values as a
0-d array on the backend, so the model can accumulate them without leaving the device.

Every metric also has Keras' stateful interface (``update_state``, ``result``, ``reset_state``, ``add_variable``):
a subclass may write those instead of ``batch_total`` (Keras' way), and ``Mean`` tracks any value (a custom
``train_step``'s loss).
"""
import math

from . import backend, targets
from ._registry import Registry, snake_case
from .variables import Variable

registry = Registry("metric")


class Metric:
    """Base of the metrics: subclasses write ``batch_total``. ``name`` (the key in the logs) defaults to the
    class's ``default_name``.
    """
    #: Whether ``batch_total`` can take logits (``from_logits=True``) in place of the model's outputs.
    accepts_logits = True
    #: The values its targets may hold (``nnkit.targets``): fit checks them once per data set, ``__call__`` each time.
    target_domain = targets.REAL

    def __init__(self, name=None, dtype=None):
        self.name = name or getattr(self, "default_name", None) or snake_case(type(self).__name__)
        self.dtype = dtype
        self._variables = []
        self._running = None  # (total, count) of the batch_total metrics' own update_state

    @property
    def stateful(self):
        """Whether the metric is written Keras' way (``update_state``/``result``) rather than with ``batch_total``
        (the trainer then updates it and reads its result each batch)."""
        return type(self).update_state is not Metric.update_state

    def batch_total(self, y_true, y_pred, from_logits=False):
        """The sum over the batch of each sample's metric value, as a 0-d array on the backend (a sample with
        several positions counts the mean over them). With ``from_logits=True`` ``y_pred`` holds the logits
        of a fused output activation.
        """
        raise NotImplementedError

    # ---- Keras' stateful interface ------------------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state Variable of the metric (``reset_state`` puts it back to its initial value)."""
        variable = Variable(initializer, shape=shape, dtype=dtype or self.dtype, name=name)
        self._variables.append(variable)
        return variable

    @property
    def variables(self):
        """The metric's state Variables."""
        return list(self._variables)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch. The base adds ``batch_total`` to a running total (the built-in metrics)."""
        if self._running is None:
            self._running = (self.add_variable(name="total"), self.add_variable(name="count"))
        total, count = self._running
        y_pred = backend.to_device(getattr(y_pred, "value", y_pred))
        xp = backend.get_array_module(y_pred)
        y_true = xp.asarray(getattr(y_true, "value", y_true))
        if sample_weight is not None:
            if not hasattr(self, "sample_values"):
                raise ValueError(f"Metric '{self.name}' ({type(self).__name__}) cannot weigh samples: it has no "
                                 f"per-sample values (define sample_values(y_true, y_pred) or update_state).")
            # Keras' weighted mean: each sample's value times its weight, over the sum of the weights
            values = self.sample_values(y_true, y_pred)
            weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype=values.dtype)
            weights = xp.broadcast_to(weights.reshape(-1) if weights.size == len(values) else weights, values.shape)
            total.assign_add((values * weights).sum())
            count.assign_add(weights.sum())
            return
        total.assign_add(self.batch_total(y_true, y_pred))
        count.assign_add(len(y_pred))

    def result(self):
        """The metric's value over the batches added since the last reset (a 0-d backend array)."""
        if self._running is None:
            return backend.xp().asarray(0.0, dtype=backend.floatx())
        total, count = self._running
        return total.value / backend.get_array_module(count.value).maximum(count.value, 1.0)  # no host sync

    def reset_state(self):
        """Forget the batches added: every variable back to its initial value."""
        for variable in self._variables:
            variable.reset()

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras' one-batch value: update, then the result (targets outside ``target_domain`` are refused first)."""
        y_pred_array = backend.to_device(getattr(y_pred, "value", y_pred))
        y_true_array = backend.get_array_module(y_pred_array).asarray(getattr(y_true, "value", y_true))
        num_classes = y_pred_array.shape[-1] if y_pred_array.ndim else None
        targets.check_targets(self.target_domain, y_true_array, num_classes, f"metric '{self.name}'", "y_true")
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


@registry.register("binary_accuracy")
class BinaryAccuracy(Metric):
    """Fraction of outputs on the same side of ``threshold`` as the targets (for logits, the threshold's logit);
    targets must lie in [0, 1] (Keras compares any target with the 0/1 prediction)."""
    default_name = "binary_accuracy"
    target_domain = targets.PROBABILITIES

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype)
        if not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy's threshold must be in (0, 1), got {threshold}.")
        self.threshold = threshold

    def batch_total(self, y_true, y_pred, from_logits=False):
        threshold = math.log(self.threshold / (1 - self.threshold)) if from_logits else self.threshold
        return self.sample_values(y_true, y_pred, threshold).sum()

    def sample_values(self, y_true, y_pred, threshold=None):
        """Each sample's fraction of hits (1-D over the batch; ``update_state`` weighs them by ``sample_weight``)."""
        threshold = self.threshold if threshold is None else threshold
        hits = (y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5)
        return hits.reshape(len(hits), -1).mean(axis=1) if hits.ndim > 1 else hits.astype(backend.floatx())


@registry.register("categorical_accuracy")
class CategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is where the (one-hot) target is largest."""
    default_name = "categorical_accuracy"

    def batch_total(self, y_true, y_pred, from_logits=False):
        return self.sample_values(y_true, y_pred).sum()  # the argmax of logits is the argmax of the outputs

    def sample_values(self, y_true, y_pred):
        """Each sample's hit (1-D over the batch; the mean over positions for sequence outputs)."""
        return _sample_means(y_pred.argmax(axis=-1) == y_true.argmax(axis=-1))


@registry.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is at the integer label."""
    default_name = "sparse_categorical_accuracy"
    target_domain = targets.CLASS_INDICES

    def batch_total(self, y_true, y_pred, from_logits=False):
        return self.sample_values(y_true, y_pred).sum()

    def sample_values(self, y_true, y_pred):
        """Each sample's hit (1-D over the batch; the mean over positions for sequence outputs)."""
        return _sample_means(y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape[:-1]))


class Mean(Metric):
    """The (weighted) mean of every value given to ``update_state(values, sample_weight=None)`` since the last
    reset; a custom ``train_step`` tracks its loss with one."""
    default_name = "mean"

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total, self.count = self.add_variable(name="total"), self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        values = backend.to_device(getattr(values, "value", values))
        xp = backend.get_array_module(values)
        if sample_weight is None:
            self.total.assign_add(values.sum())
            self.count.assign_add(values.size)
            return
        weights = xp.broadcast_to(xp.asarray(getattr(sample_weight, "value", sample_weight)), values.shape)
        self.total.assign_add((values * weights).sum())
        self.count.assign_add(weights.sum())

    def result(self):
        return self.total.value / backend.get_array_module(self.count.value).maximum(self.count.value, 1e-12)


def _sample_means(values):
    """Each sample's mean over every axis but the batch axis (1-D, floatx; sequence outputs count per position)."""
    values = values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values
    return values.astype(backend.floatx(), copy=False)


def _sum_of_sample_means(values):
    """``_sample_means`` summed over the batch."""
    return _sample_means(values).sum()


class _RegressionMetric(Metric):
    """Per-sample mean over the last axis; needs outputs, not logits."""
    accepts_logits = False

    def batch_total(self, y_true, y_pred, from_logits=False):
        if from_logits:
            raise ValueError(f"Metric '{self.name}' needs the model's outputs, not logits.")
        return self.sample_values(y_true, y_pred).sum()

    def sample_values(self, y_true, y_pred):
        """Each sample's mean error over the output axes (1-D over the batch)."""
        return _sample_means(self.per_element(y_pred - y_true.reshape(y_pred.shape)))


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

    def sample_values(self, y_true, y_pred):
        """Each sample's value of ``fn`` (its mean over positions); a function that returns one number for the
        batch cannot be weighted per sample, which is a ValueError."""
        values = backend.to_device(self.fn(y_true, y_pred))
        if values.ndim == 0:
            raise ValueError(f"Metric '{self.name}': its function returns one number for the batch, so it cannot be "
                             f"weighted per sample; return one value per sample.")
        return _sample_means(values)


def get(identifier, loss=None, output_shape=None):
    """A Metric. ``"accuracy"``/``"acc"`` becomes binary, categorical or sparse accuracy by the loss (and
    else by the output shape), as Keras decides; the metric keeps the name it was asked by. A function of
    ``(y_true, y_pred)`` becomes a ``MeanMetricWrapper``; a Metric class, its default instance (as in Keras)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()  # as Keras: a class stands for its default instance
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
    if getattr(loss, "target_domain", None) is targets.CLASS_INDICES:
        return SparseCategoricalAccuracy
    if loss_name == "binary_crossentropy" or (output_shape is not None and output_shape[-1] == 1):
        return BinaryAccuracy
    return CategoricalAccuracy


# Keras' other metrics live in metrics_more (registered there, importable from here)
from .metrics_more import (  # noqa: E402,F401
    AUC, Accuracy, CosineSimilarity, F1Score, FBetaScore, FalseNegatives, FalsePositives, LogCoshError,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Precision, R2Score, Recall, RootMeanSquaredError, SparseTopKCategoricalAccuracy,
    Sum, TopKCategoricalAccuracy, TrueNegatives, TruePositives)
from .metrics_iou import IoU, MeanIoU, OneHotIoU, OneHotMeanIoU  # noqa: E402,F401
