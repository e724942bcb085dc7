"""More of Keras 3's metrics (``nnkit.metrics`` imports them all): element-wise accuracy, top-k accuracy, the
regression errors, running sums, and the confusion-matrix counts with Precision and Recall.

The mean-style metrics give ``sample_values`` (each sample's value, what Keras' metric function returns reduced
over the sample's other axes); their ``batch_total`` is its sum, so the trainer accumulates them on the device,
and their own ``update_state`` weighs each sample by ``sample_weight`` as Keras' ``Mean`` does. The others keep
Keras' state variables on the device and read nothing back to the host while updating.
"""
import math

import numpy

from . import backend
from .metrics import Metric, registry

#: Keras' ``backend.epsilon()``.
EPSILON = 1e-7
#: What Keras' top-k filter gives the values outside the top k.
NEG_INF = -1e10


def _arrays(y_true, y_pred, dtype=None):
    """Both on the device, ``y_pred`` as floats; ``y_true`` reshaped to ``y_pred``'s shape when they differ only
    by a trailing axis of one (Keras' ``squeeze_or_expand_to_same_rank``)."""
    y_pred = backend.to_device(getattr(y_pred, "value", y_pred))
    xp = backend.get_array_module(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(dtype or backend.floatx())
    elif dtype is not None:
        y_pred = y_pred.astype(dtype)
    y_true = xp.asarray(getattr(y_true, "value", y_true))
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return xp, y_true, y_pred


def _sample_mean(values):
    """Each sample's mean over its other axes (a 1-D array over the batch)."""
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


def _divide_no_nan(xp, numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (Keras' ``divide_no_nan``), on the device."""
    safe = xp.where(denominator == 0, 1, denominator)
    return xp.where(denominator == 0, 0, numerator / safe)


class _SampleMeanMetric(Metric):
    """The mean over the samples of ``sample_values`` (Keras' ``MeanMetricWrapper``)."""
    accepts_logits = False

    def sample_values(self, y_true, y_pred):
        """Each sample's value, a 1-D array over the batch."""
        raise NotImplementedError

    def batch_total(self, y_true, y_pred, from_logits=False):
        if from_logits:
            raise ValueError(f"Metric '{self.name}' needs the model's outputs, not logits.")
        return self.sample_values(y_true, y_pred).sum()


class Accuracy(_SampleMeanMetric):
    """How often the predictions equal the targets, element by element (Keras' ``Accuracy``; the string
    ``"accuracy"`` in ``compile`` picks binary / categorical / sparse accuracy instead, as in Keras)."""
    default_name = "accuracy"

    def sample_values(self, y_true, y_pred):
        xp, y_true, y_pred = _arrays(y_true, y_pred)
        return _sample_mean((y_true.astype(y_pred.dtype) == y_pred).astype(backend.floatx()))


@registry.register("top_k_categorical_accuracy")
class TopKCategoricalAccuracy(_SampleMeanMetric):
    """How often the one-hot target's class is among the ``k`` largest predictions."""
    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.k = k

    def sample_values(self, y_true, y_pred):
        xp = backend.get_array_module(backend.to_device(y_pred))
        return _in_top_k(xp.asarray(y_true).argmax(axis=-1), y_pred, self.k)


@registry.register("sparse_top_k_categorical_accuracy")
class SparseTopKCategoricalAccuracy(_SampleMeanMetric):
    """How often the integer label is among the ``k`` largest predictions."""
    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.k = k

    def sample_values(self, y_true, y_pred):
        y_pred = backend.to_device(getattr(y_pred, "value", y_pred))
        y_true = backend.get_array_module(y_pred).asarray(getattr(y_true, "value", y_true))
        return _in_top_k(y_true.reshape(y_pred.shape[:-1]), y_pred, self.k)


def _in_top_k(labels, y_pred, k):
    """Per sample (mean over any sequence axes): whether the label's prediction is at least the k-th largest
    (Keras' ``in_top_k``: ties with the k-th count as in)."""
    xp = backend.get_array_module(y_pred)
    labels = labels.astype("int64")
    target = xp.take_along_axis(y_pred, labels[..., None], axis=-1)
    hits = (y_pred > target).sum(axis=-1) < k
    return _sample_mean(hits.astype(backend.floatx()))


class _ErrorMetric(_SampleMeanMetric):
    """Each sample's mean over its elements of ``per_element(y_true, y_pred)``."""

    def sample_values(self, y_true, y_pred):
        xp, y_true, y_pred = _arrays(y_true, y_pred)
        return _sample_mean(self.per_element(xp, y_true.astype(y_pred.dtype), y_pred))


@registry.register("mean_absolute_percentage_error", "mape")
class MeanAbsolutePercentageError(_ErrorMetric):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))``."""
    default_name = "mean_absolute_percentage_error"

    def per_element(self, xp, y_true, y_pred):
        """The percentage error of each element."""
        return 100.0 * xp.abs((y_true - y_pred) / xp.maximum(xp.abs(y_true), EPSILON))


@registry.register("mean_squared_logarithmic_error", "msle")
class MeanSquaredLogarithmicError(_ErrorMetric):
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2)``."""
    default_name = "mean_squared_logarithmic_error"

    def per_element(self, xp, y_true, y_pred):
        """The squared log error of each element."""
        diff = xp.log(xp.maximum(y_pred, EPSILON) + 1.0) - xp.log(xp.maximum(y_true, EPSILON) + 1.0)
        return diff * diff


@registry.register("log_cosh_error", "logcosh")
class LogCoshError(_ErrorMetric):
    """``mean(log(cosh(y_pred - y_true)))``, computed as Keras does (``x + softplus(-2x) - log 2``)."""
    default_name = "logcosh"

    def per_element(self, xp, y_true, y_pred):
        """The log-cosh of each element's error."""
        x = y_pred - y_true
        return x + xp.logaddexp(0.0, -2.0 * x) - math.log(2.0)


@registry.register("cosine_similarity")
class CosineSimilarity(_SampleMeanMetric):
    """The cosine of the angle between targets and predictions along ``axis``, averaged."""
    default_name = "cosine_similarity"

    def __init__(self, name=None, dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype)
        self.axis = axis

    def sample_values(self, y_true, y_pred):
        xp, y_true, y_pred = _arrays(y_true, y_pred)
        y_true = y_true.astype(y_pred.dtype)

        def normalize(x):
            return x / xp.sqrt(xp.maximum((x * x).sum(axis=self.axis, keepdims=True), 1e-12))
        return _sample_mean((normalize(y_true) * normalize(y_pred)).sum(axis=self.axis))


def _reduce_weighted(xp, values, sample_weight, reduce):
    """Keras' ``reduce_to_samplewise_values``: the values reduced (with ``reduce``, ``"sum"`` or ``"mean"``) to
    the weights' rank and weighted, then to one per sample; returns them and the weights per sample."""
    if sample_weight is not None:
        weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype=values.dtype)
        if weights.ndim == values.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]
        elif values.ndim == weights.ndim + 1 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim > weights.ndim:
            values = getattr(values, reduce)(axis=tuple(range(weights.ndim, values.ndim)))
        weights = xp.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = getattr(weights, reduce)(axis=tuple(range(1, weights.ndim)))
    else:
        weights = None
    if values.ndim > 1:
        values = getattr(values, reduce)(axis=tuple(range(1, values.ndim)))
    return values, weights


@registry.register("sum")
class Sum(Metric):
    """The (weighted) sum of every value given to ``update_state(values, sample_weight=None)``."""
    default_name = "sum"

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values = backend.to_device(getattr(values, "value", values)).astype(self.total.dtype)
        values, _ = _reduce_weighted(backend.get_array_module(values), values, sample_weight, "sum")
        self.total.assign_add(values.sum())

    def result(self):
        return self.total.value.copy()


@registry.register("root_mean_squared_error")
class RootMeanSquaredError(Metric):
    """``sqrt`` of the (weighted) mean over the samples of each sample's mean squared error."""
    default_name = "root_mean_squared_error"

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total, self.count = self.add_variable(name="total"), self.add_variable(name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, y_true, y_pred = _arrays(y_true, y_pred, self.total.dtype)
        diff = y_pred - y_true.astype(y_pred.dtype)
        values, weights = _reduce_weighted(xp, diff * diff, sample_weight, "mean")
        self.total.assign_add(values.sum())
        self.count.assign_add(weights.sum() if weights is not None else (len(values) if values.ndim else 1))

    def result(self):
        xp = backend.get_array_module(self.total.value)
        return xp.sqrt(_divide_no_nan(xp, self.total.value, self.count.value))


# ---- confusion-matrix metrics ------------------------------------------------------------------------------------
def _thresholds(thresholds, default):
    """Keras' ``parse_init_thresholds``: a list of floats in [0, 1]."""
    values = [default] if thresholds is None else (
        list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds])
    if thresholds is not None and any(t is None or t < 0 or t > 1 for t in values):
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {values}")
    return [float(t) for t in values]


def _confusion_counts(y_true, y_pred, thresholds, wanted, top_k=None, class_id=None, sample_weight=None,
                      dtype=None):
    """Keras' ``update_confusion_matrix_variables`` (not multi-label): for each threshold, the (weighted) count
    of the flattened elements in each of ``wanted`` (``"tp"``, ``"fp"``, ``"tn"``, ``"fn"``); a prediction is
    positive above the threshold, a target when it is not 0. Returns ``{key: array of len(thresholds)}``."""
    xp, y_true, y_pred = _arrays(y_true, y_pred, dtype)
    weights = None
    if sample_weight is not None:
        weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype=y_pred.dtype)
        if weights.ndim and y_pred.ndim > 1 and weights.size == y_pred.shape[0]:
            weights = weights.reshape((y_pred.shape[0],) + (1,) * (y_pred.ndim - 1))
        weights = xp.broadcast_to(weights, y_pred.shape)
    if top_k is not None:
        kth = xp.sort(y_pred, axis=-1)[..., -top_k][..., None]
        keep = (y_pred >= kth).astype(y_pred.dtype)
        y_pred = y_pred * keep + NEG_INF * (1 - keep)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
        weights = None if weights is None else weights[..., class_id]
    labels = (y_true != 0).reshape(1, -1)
    thresholds = xp.asarray(thresholds, dtype=y_pred.dtype).reshape(-1, 1)
    positive = y_pred.reshape(1, -1) > thresholds
    weights = None if weights is None else weights.reshape(1, -1)
    cases = {"tp": (labels, positive), "fp": (~labels, positive),
             "tn": (~labels, ~positive), "fn": (labels, ~positive)}
    counts = {}
    for key in wanted:
        label, pred = cases[key]
        hit = label & pred
        counts[key] = (hit.astype(y_pred.dtype) if weights is None else xp.where(hit, weights, 0)).sum(axis=1)
    return counts


class _ConfusionMatrixConditionCount(Metric):
    """One count of the confusion matrix for each threshold."""
    condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(thresholds, 0.5)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, [self.condition],
                                   sample_weight=sample_weight, dtype=self.accumulator.dtype)
        self.accumulator.assign_add(counts[self.condition])

    def result(self):
        value = self.accumulator.value
        return value[0].copy() if len(self.thresholds) == 1 else value.copy()


@registry.register("true_positives")
class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) count of positive targets predicted above each threshold."""
    condition = "tp"


@registry.register("false_positives")
class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) count of negative targets predicted above each threshold."""
    condition = "fp"


@registry.register("true_negatives")
class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) count of negative targets predicted at or below each threshold."""
    condition = "tn"


@registry.register("false_negatives")
class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) count of positive targets predicted at or below each threshold."""
    condition = "fn"


class _PrecisionRecall(Metric):
    """``tp / (tp + other)`` per threshold, optionally over the ``top_k`` predictions or one ``class_id``."""
    other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self.true_positives = self.add_variable(shape=(len(self.thresholds),), name="true_positives")
        self._other = self.add_variable(shape=(len(self.thresholds),), name=self.other_name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, ["tp", self.other], top_k=self.top_k,
                                   class_id=self.class_id, sample_weight=sample_weight,
                                   dtype=self.true_positives.dtype)
        self.true_positives.assign_add(counts["tp"])
        self._other.assign_add(counts[self.other])

    def result(self):
        tp = self.true_positives.value
        value = _divide_no_nan(backend.get_array_module(tp), tp, tp + self._other.value)
        return value[0] if len(self.thresholds) == 1 else value


@registry.register("precision")
class Precision(_PrecisionRecall):
    """``true_positives / (true_positives + false_positives)``."""
    other, other_name = "fp", "false_positives"

    @property
    def false_positives(self):
        """The false positives' Variable."""
        return self._other


@registry.register("recall")
class Recall(_PrecisionRecall):
    """``true_positives / (true_positives + false_negatives)``."""
    other, other_name = "fn", "false_negatives"

    @property
    def false_negatives(self):
        """The false negatives' Variable."""
        return self._other



@registry.register("r2_score")
class R2Score(Metric):
    """The coefficient of determination of 2-D ``(batch, outputs)`` regression targets, per output, then
    averaged (``class_aggregation="uniform_average"``), weighted by the targets' variance
    (``"variance_weighted_average"``) or not (``None``); ``num_regressors`` > 0 gives the adjusted score."""
    default_name = "r2_score"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"(None, 'uniform_average', 'variance_weighted_average'). Received: {class_aggregation}")
        if num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable(name="num_samples")
        self._sums = None  # (sum, squared_sum, residual, count), one value per output, made at the first update

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, y_true, y_pred = _arrays(y_true, y_pred, self.num_samples.dtype)
        y_true = y_true.astype(y_pred.dtype)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        if self._sums is None:
            self._sums = tuple(self.add_variable(shape=(y_pred.shape[-1],), name=name)
                               for name in ("sum", "squared_sum", "residual", "count"))
        weights = xp.asarray(1.0 if sample_weight is None else getattr(sample_weight, "value", sample_weight),
                             dtype=y_pred.dtype)
        weights = xp.broadcast_to(weights[:, None] if weights.ndim == 1 else weights, y_true.shape)
        total, squared, residual, count = self._sums
        total.assign_add((y_true * weights).sum(axis=0))
        squared.assign_add((y_true * y_true * weights).sum(axis=0))
        residual.assign_add(((y_true - y_pred) ** 2 * weights).sum(axis=0))
        count.assign_add(weights.sum(axis=0))
        self.num_samples.assign_add(y_true.size)

    def result(self):
        xp = backend.get_array_module(self.num_samples.value)
        if self._sums is None:
            return xp.asarray(0.0, dtype=self.num_samples.dtype)
        total, squared, residual, count = (v.value for v in self._sums)
        with numpy.errstate(all="ignore"):  # no data: nan, as in Keras (CuPy never warns)
            variance = squared - total * (total / count)
            raw = 1 - residual / variance
        raw = xp.where(xp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (variance * raw).sum() / variance.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = self.num_samples.value, float(self.num_regressors)
            adjusted = 1.0 - (1.0 - score) * (n - 1.0) / xp.where(n - p - 1.0 == 0, 1.0, n - p - 1.0)
            score = xp.where(p < n - 1.0, adjusted, score)  # Keras falls back to the plain score (with a warning)
        return score

