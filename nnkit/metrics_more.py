"""More of Keras 3's metrics (``nnkit.metrics`` imports them all): element-wise accuracy, top-k accuracy, the
regression errors, running sums, the confusion-matrix counts with Precision and Recall, R2Score, the F-scores
(F1Score, FBetaScore) and AUC.

The mean-style metrics give ``sample_values`` (each sample's value, what Keras' metric function returns reduced
over the sample's other axes); their ``batch_total`` is its sum, so the trainer accumulates them on the device,
and their own ``update_state`` weighs each sample by ``sample_weight`` as Keras' ``Mean`` does. The others keep
Keras' state variables on the device and read nothing back to the host while updating.
"""
import numpy

from . import backend, targets
from .losses import l2_norm, stable_log_cosh
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
    target_domain = targets.CLASS_INDICES

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
        return stable_log_cosh(y_pred - y_true)


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
            return x / xp.maximum(l2_norm(x, self.axis), x.dtype.type(1e-6))
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
    """One count of the confusion matrix for each threshold; targets are 0/1 labels (or probabilities)."""
    condition = None
    target_domain = targets.PROBABILITIES

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
    """``tp / (tp + other)`` per threshold, optionally over the ``top_k`` predictions or one ``class_id``; targets
    are 0/1 labels (or probabilities)."""
    other = None
    target_domain = targets.PROBABILITIES

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



# ---- F-scores ----------------------------------------------------------------------------------------------------
@registry.register("fbeta_score")
class FBetaScore(Metric):
    """Keras' ``FBetaScore`` of 2-D ``(batch, classes)`` targets: ``(1 + beta**2) * precision * recall /
    (beta**2 * precision + recall)`` per class (``average=None``), over every element (``"micro"``), their mean
    (``"macro"``) or their mean weighted by each class's (weighted) count of positive targets (``"weighted"``). A
    prediction is positive above ``threshold``, or, when it is None, where it is its row's largest (and not 0)."""
    default_name = "fbeta_score"
    target_domain = targets.PROBABILITIES

    def __init__(self, average=None, beta=1.0, threshold=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: "
                             f"{{None, 'micro', 'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python float. "
                                 f"Received: threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._counts = None  # (true_positives, false_positives, false_negatives, intermediate_weights)

    def _build(self, num_classes):
        shape = () if self.average == "micro" else (num_classes,)
        self._counts = tuple(self.add_variable(shape=shape, name=name) for name in
                             ("true_positives", "false_positives", "false_negatives", "intermediate_weights"))

    true_positives = property(lambda self: self._counts[0], doc="The true positives' Variable (after an update).")
    false_positives = property(lambda self: self._counts[1], doc="The false positives' Variable (after an update).")
    false_negatives = property(lambda self: self._counts[2], doc="The false negatives' Variable (after an update).")
    intermediate_weights = property(lambda self: self._counts[3],
                                    doc="Each class's (weighted) count of positive targets (after an update).")

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, y_true, y_pred = _arrays(y_true, y_pred, self.dtype or backend.floatx())
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        if self._counts is None:
            self._build(y_pred.shape[-1])
        if self.threshold is None:
            positive = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (xp.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        y_pred = positive.astype(y_pred.dtype)
        y_true = y_true.astype(y_pred.dtype)
        weights = None
        if sample_weight is not None:
            weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype=y_pred.dtype)
            if weights.ndim and weights.size == y_pred.shape[0]:
                weights = weights.reshape(-1, 1)

        def weighted_sum(values):
            return (values if weights is None else values * weights).sum(axis=self.axis)
        for variable, values in zip(self._counts, (y_pred * y_true, y_pred * (1 - y_true),
                                                   (1 - y_pred) * y_true, y_true)):
            variable.assign_add(weighted_sum(values))

    def result(self):
        if self._counts is None:
            return backend.xp().asarray(0.0, dtype=self.dtype or backend.floatx())
        tp, fp, fn, support = (variable.value for variable in self._counts)
        xp = backend.get_array_module(tp)
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            score = (score * (support / (support.sum() + EPSILON))).sum()
        elif self.average is not None:
            score = score.mean()
        return xp.asarray(score, dtype=tp.dtype)


@registry.register("f1_score")
class F1Score(FBetaScore):
    """Keras' ``F1Score``: the ``FBetaScore`` with ``beta=1``."""
    default_name = "f1_score"

    def __init__(self, average=None, threshold=None, name=None, dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)


# ---- AUC ---------------------------------------------------------------------------------------------------------
_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


def _evenly_distributed(thresholds):
    """Keras' ``is_evenly_distributed_thresholds``."""
    count = len(thresholds)
    return count >= 3 and bool(numpy.allclose(thresholds, numpy.arange(count, dtype="float32") / (count - 1),
                                              atol=EPSILON))


@registry.register("auc")
class AUC(Metric):
    """Keras' ``AUC``: the area under the ROC, precision-recall (``curve="PR"``) or precision-recall-gain
    (``"PRGAIN"``) curve, a Riemann sum (``summation_method`` ``"interpolation"``, ``"minoring"`` or
    ``"majoring"``; the PR curve interpolated as Davis & Goadrich do) over ``num_thresholds`` thresholds evenly
    spaced in [0, 1] (or ``thresholds`` with 0 and 1 added). ``multi_label=True`` keeps one curve per label of
    2-D ``(batch, labels)`` data and averages their areas (weighted by ``label_weights``); otherwise every element
    counts on one curve, weighted by ``label_weights`` along the last axis. ``from_logits`` applies a sigmoid."""
    default_name = "auc"
    target_domain = targets.PROBABILITIES

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curve_key, summation_key = str(getattr(curve, "value", curve)), str(
            getattr(summation_method, "value", summation_method))
        if curve_key.lower() not in _CURVES or curve_key not in (curve_key.lower(), curve_key.upper()):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]')
        if summation_key.lower() not in _SUMMATIONS or summation_key not in (
                summation_key.lower(), summation_key.capitalize()):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._thresholds_distributed_evenly = _evenly_distributed(numpy.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = numpy.array([0.0 - EPSILON] + thresholds + [1.0 + EPSILON])
        self.curve = _CURVES[curve_key.lower()]
        self.summation_method = summation_key.lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label, self.num_labels, self._from_logits = multi_label, num_labels, from_logits
        self.label_weights = None if label_weights is None else backend.to_device(
            numpy.asarray(label_weights, dtype=self.dtype or backend.floatx()))
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        """The thresholds, with ``-epsilon`` and ``1 + epsilon`` at the ends."""
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {len(shape)}. "
                                 f"Full shape received for `y_pred`: {shape}")
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self.true_positives, self.false_positives, self.true_negatives, self.false_negatives = (
            self.add_variable(shape=variable_shape, name=name)
            for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp, y_true, y_pred = _arrays(y_true, y_pred, self.dtype or backend.floatx())
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = 1.0 / (1.0 + xp.exp(-y_pred))
        weights = None
        if sample_weight is not None:
            weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype=y_pred.dtype)
            if weights.ndim and y_pred.ndim > 1 and weights.size == y_pred.shape[0]:
                weights = weights.reshape((y_pred.shape[0],) + (1,) * (y_pred.ndim - 1))
            weights = xp.broadcast_to(weights, y_pred.shape)
        if self.label_weights is not None and not self.multi_label:
            label_weights = xp.broadcast_to(self.label_weights, y_pred.shape)
            weights = label_weights if weights is None else weights * label_weights
        if self._thresholds_distributed_evenly:
            tp, fp, tn, fn = self._bucketed_counts(xp, y_true, y_pred, weights)
        else:
            tp, fp, tn, fn = self._thresholded_counts(xp, y_true, y_pred, weights)
        for variable, count in zip((self.true_positives, self.false_positives, self.true_negatives,
                                    self.false_negatives), (tp, fp, tn, fn)):
            variable.assign_add(count)

    def _bucketed_counts(self, xp, y_true, y_pred, weights):
        """Keras' ``_update_confusion_matrix_variables_optimized``: each prediction's bucket among the evenly
        spaced thresholds, the (weighted) labels summed per bucket, then counted down from the top."""
        n = self.num_thresholds
        labels = (y_true != 0).astype(y_pred.dtype)
        weights = xp.asarray(1.0, dtype=y_pred.dtype) if weights is None else weights
        true_labels, false_labels = labels * weights, (1.0 - labels) * weights
        true_labels, false_labels = (xp.broadcast_to(v, y_pred.shape) for v in (true_labels, false_labels))
        y_pred = xp.clip(y_pred, 0.0, 1.0)
        buckets = xp.ceil(y_pred * y_pred.dtype.type(n - 1)) - 1
        if self._thresholds[0] < 0.0 or self._thresholds[-1] > 1.0:
            buckets = xp.maximum(buckets, 0)
        buckets = buckets.astype("int64")
        if self.multi_label:
            num_labels = y_pred.shape[-1]
            flat = (buckets + n * xp.arange(num_labels)).reshape(-1)

            def per_bucket(values):
                counts = xp.bincount(flat, weights=values.reshape(-1), minlength=n * num_labels)
                return counts.reshape(num_labels, n).T.astype(y_pred.dtype)  # (thresholds, labels)
            axis, totals = 0, (true_labels.sum(axis=0), false_labels.sum(axis=0))
        else:
            flat = buckets.reshape(-1)

            def per_bucket(values):
                return xp.bincount(flat, weights=values.reshape(-1), minlength=n).astype(y_pred.dtype)
            axis, totals = 0, (true_labels.sum(), false_labels.sum())
        tp = xp.flip(xp.cumsum(xp.flip(per_bucket(true_labels), axis=axis), axis=axis), axis=axis)
        fp = xp.flip(xp.cumsum(xp.flip(per_bucket(false_labels), axis=axis), axis=axis), axis=axis)
        return tp, fp, totals[1] - fp, totals[0] - tp

    def _thresholded_counts(self, xp, y_true, y_pred, weights):
        """Keras' general ``update_confusion_matrix_variables``: each prediction against each threshold."""
        thresholds = xp.asarray(self._thresholds, dtype=y_pred.dtype)
        if self.multi_label:  # (thresholds, batch, labels), summed over the batch
            labels, preds = (y_true != 0)[None], y_pred[None]
            thresholds = thresholds.reshape(-1, 1, 1)
            weights = None if weights is None else weights[None]
        else:  # (thresholds, elements)
            labels, preds = (y_true != 0).reshape(1, -1), y_pred.reshape(1, -1)
            thresholds = thresholds.reshape(-1, 1)
            weights = None if weights is None else weights.reshape(1, -1)
        positive = preds > thresholds
        cases = ((labels, positive), (~labels, positive), (~labels, ~positive), (labels, ~positive))
        counts = []
        for label, pred in cases:
            hit = label & pred
            counts.append((hit.astype(y_pred.dtype) if weights is None else xp.where(hit, weights, 0)).sum(axis=1))
        return counts

    def _by_label(self, xp, terms):
        """The areas' sum (one curve) or the (``label_weights``-weighted) mean of each label's."""
        if not self.multi_label:
            return terms.sum()
        by_label = terms.sum(axis=0)
        if self.label_weights is None:
            return by_label.mean()
        return _divide_no_nan(xp, (by_label * self.label_weights).sum(), self.label_weights.sum())

    def interpolate_pr_auc(self):
        """The area under the precision-recall curve, interpolated (Davis & Goadrich 2006)."""
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        xp = backend.get_array_module(tp)
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(xp, dtp, xp.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        with numpy.errstate(all="ignore"):
            safe_p_ratio = xp.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(xp, p[:-1], xp.maximum(p[1:], 0)),
                                    xp.ones_like(p[1:]))
            increment = _divide_no_nan(xp, prec_slope * (dtp + intercept * xp.log(safe_p_ratio)),
                                       xp.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(xp, increment)

    def result(self):
        if not self._built:
            return backend.xp().asarray(0.0, dtype=self.dtype or backend.floatx())
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        xp = backend.get_array_module(tp)
        recall = _divide_no_nan(xp, tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(xp, fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(xp, tp, tp + fp)
        else:  # PRGAIN
            scaling = _divide_no_nan(xp, tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * _divide_no_nan(xp, fn, tp)
            precision_gain = 1.0 - scaling * _divide_no_nan(xp, fp, tp)
            x = xp.maximum(xp.where(tp == 0, 0.0, recall_gain), 0.0)
            y = xp.where(tp == 0, 1.0, precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[:-1], y[1:])
        else:
            heights = xp.maximum(y[:-1], y[1:])
        return self._by_label(xp, (x[:-1] - x[1:]) * heights)

    def reset_state(self):
        if self._built:
            super().reset_state()
