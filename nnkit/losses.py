"""Losses with Keras' names, defaults and reductions.

Each loss gives ``forward_backward(y_true, y_pred) -> (loss, dy_pred)`` with ``loss`` a 0-d array on
the backend, reduced as Keras' default ``"sum_over_batch_size"`` (the mean of Keras' per-position values);
calling it, ``loss(y_true, y_pred)``, returns the value as a float as Keras does, reduced as its
``reduction`` says. Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` when ``from_logits=False``.
"""
import numpy

from . import backend, primitives, targets
from .primitives import cross_entropy
from ._registry import Registry
from ._shapes import format_shape

EPSILON = 1e-7
registry = Registry("loss")
#: Keras' reductions: None and "none" keep each sample's loss; the others reduce to one number.
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    """``reduction`` if it is one of Keras' (``REDUCTIONS``), else a ValueError."""
    if not any(reduction is r or (isinstance(reduction, str) and reduction == r) for r in REDUCTIONS):
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {list(REDUCTIONS)}. "
                         f"Received: reduction={reduction!r}")
    return reduction


class Loss:
    """Base of the losses.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities (cross-entropies only).
        name: defaults to the loss's registered snake_case name (e.g. ``"mean_squared_error"``).
        reduction: Keras': ``"sum_over_batch_size"`` (default) and ``"mean"``: the mean of the per-position
            values; ``"sum"``: their sum; ``"mean_with_sample_weight"``: the weighted sum over the sum of the
            sample weights; None or ``"none"``: calling the loss returns each sample's loss (shape ``(N,)``,
            the mean over any positions), which fit() cannot train on.
    """
    #: The output activation this loss can absorb into a fused from-logits kernel (or None).
    fusable_activation = None
    #: The values its targets may hold (``nnkit.targets``), checked once per data set before training.
    target_domain = targets.REAL

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        self.from_logits = from_logits
        self.name = name or _registry_key(type(self))
        self.reduction = standardize_reduction(reduction)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss as a float, as Keras returns it (with ``reduction=None``, each sample's loss as an array);
        under a recording GradientTape, with a tracked ``y_pred`` (a model's output), a Tensor whose gradient
        is this loss's own."""
        from .ops import tape as tape_module
        tape = tape_module.recording()
        tracked = tape.tracked(y_pred) if tape is not None else None
        y_pred = backend.to_device(tape_module.unwrap(y_pred))
        xp = backend.get_array_module(y_pred)
        y_true = xp.asarray(tape_module.unwrap(y_true))
        self.validate_targets(y_true, y_pred.shape, what="y_true")
        weights = None if sample_weight is None else xp.asarray(tape_module.unwrap(sample_weight))
        if getattr(self, "reduction", "sum_over_batch_size") in (None, "none"):
            return self._unreduced(y_true, y_pred, weights, tracked, tape_module)
        value, grad = self.reduced_forward_backward(y_true, y_pred, weights)
        if tracked is None:
            return float(value)
        return tape_module.record(value, [tracked], lambda d: [grad * d])

    def reduced_forward_backward(self, y_true, y_pred, sample_weight=None):
        """``forward_backward`` (or ``weighted_forward_backward``) reduced as ``reduction`` says (not None)."""
        if sample_weight is None:
            value, grad = self.forward_backward(y_true, y_pred)
        else:
            value, grad = self.weighted_forward_backward(y_true, y_pred, sample_weight)
        scale = self._reduction_scale(y_pred, sample_weight)
        if scale != 1:
            value = value * scale
            grad *= grad.dtype.type(scale)
        return value, grad

    def _reduction_scale(self, y_pred, sample_weight):
        """The factor from "sum over batch size" (the mean of Keras' per-position values) to ``reduction``."""
        reduction = getattr(self, "reduction", "sum_over_batch_size")
        if reduction == "sum" or (reduction == "mean_with_sample_weight" and sample_weight is not None):
            positions = y_pred.size // y_pred.shape[self._reduced_axis()] if y_pred.ndim > 1 else 1
            if reduction == "sum":
                return positions
            return positions / float(sample_weight.sum())
        return 1

    def _reduced_axis(self):
        """The axis Keras' per-sample function reduces over (its values have the outputs' other axes)."""
        return -1

    def _unreduced(self, y_true, y_pred, weights, tracked, tape_module):
        """``reduction=None``: each sample's loss (times its weight); d(loss_n)/d(y_pred_n) is N times
        sample n's part of the gradient of the mean."""
        values = self.per_sample(y_true, y_pred)
        if weights is not None:
            values = values * weights.reshape(-1).astype(values.dtype, copy=False)
        if tracked is None:
            return values
        _, grad = self.forward_backward(y_true, y_pred)
        rows = (-1,) + (1,) * (grad.ndim - 1)
        grad *= grad.dtype.type(len(values))
        if weights is not None:
            grad *= weights.reshape(rows).astype(grad.dtype, copy=False)
        return tape_module.record(values, [tracked], lambda d: [grad * d.reshape(rows)])

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

    def validate_targets(self, y_true, output_shape, what="y"):
        """Raise a clear error when targets cannot go with outputs of ``output_shape`` (batch axis ignored): a shape
        that does not fit, or a value outside ``target_domain`` (naming the value and its sample in ``what``)."""
        self._check_target_shape(y_true, output_shape)
        targets.check_targets(self.target_domain, y_true, output_shape[-1], f"loss '{self.name}'", what)

    def _check_target_shape(self, y_true, output_shape):
        per_sample, expected = tuple(y_true.shape[1:]), tuple(output_shape[1:])
        if not shape_fits(per_sample, expected) and not (expected[-1:] == (1,) and shape_fits(per_sample, expected[:-1])):
            labels = self.target_domain is targets.DISTRIBUTIONS and shape_fits(per_sample, expected[:-1])
            hint = (" Integer class labels go with sparse_categorical_crossentropy (or one-hot encode them with "
                    "nnkit.utils.to_categorical).") if labels else ""
            raise ValueError(f"{self.name}: targets of shape {tuple(y_true.shape)} do not match the model output "
                             f"of shape {format_shape(output_shape)}.{hint}")

    def with_logits(self):
        """The same loss (same arguments: label smoothing, reduction...) taking logits, for the fused output path."""
        return type(self)(**{**self.get_config(), "from_logits": True})

    def get_config(self):
        """The constructor arguments, ``{"from_logits", "name", "reduction"}``."""
        return {"from_logits": self.from_logits, "name": self.name,
                "reduction": getattr(self, "reduction", "sum_over_batch_size")}


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


@registry.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    """``-mean(t * log(p) + (1 - t) * log(1 - p))`` over every element.

    ``p = y_pred`` clipped to ``[1e-7, 1 - 1e-7]`` (no gradient outside that range), or with
    ``from_logits=True`` ``p = sigmoid(y_pred)``, computed in the stable form of the fused kernel.
    ``label_smoothing`` in ``[0, 1]`` makes the targets ``t * (1 - label_smoothing) + 0.5 * label_smoothing``.
    Targets must lie in [0, 1] (Keras computes any, e.g. a negative loss for labels coded 1/2).
    """
    fusable_activation = "sigmoid"
    target_domain = targets.PROBABILITIES

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=from_logits, name=name, reduction=reduction)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def _targets(self, y_true, y_pred):
        t = _as_output_shape(y_true, y_pred)
        return t * (1 - self.label_smoothing) + 0.5 * self.label_smoothing if self.label_smoothing else t

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def forward_backward(self, y_true, y_pred):
        y_true = self._targets(y_true, y_pred)
        if self.from_logits:
            return primitives.sigmoid_binary_cross_entropy(y_pred, y_true)
        loss, grad = cross_entropy.clipped_binary_cross_entropy_elements(y_pred, y_true, EPSILON)
        return loss.sum() / loss.size, grad / loss.size

    def per_sample(self, y_true, y_pred):
        t = self._targets(y_true, y_pred)
        if self.from_logits:
            return _sample_means(cross_entropy.sigmoid_binary_cross_entropy_elements(y_pred, t))
        return _sample_means(cross_entropy.clipped_binary_cross_entropy_elements(y_pred, t, EPSILON)[0])


@registry.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """``-sum_k t_k * log(q_k)`` over the last axis, averaged over samples and positions.

    Targets are one-hot or soft distributions of the outputs' shape. Probabilities are renormalised to sum
    to 1 over the last axis and clipped to ``[1e-7, 1 - 1e-7]``, as Keras does; with ``from_logits=True``
    ``q = softmax(y_pred)`` (fused, stable). ``label_smoothing`` in ``[0, 1]`` makes the targets
    ``t * (1 - label_smoothing) + label_smoothing / K`` (K classes). Each target row must sum to 1 (or be all zeros,
    padding that adds nothing to the loss); Keras computes with any targets.
    """
    fusable_activation = "softmax"
    target_domain = targets.DISTRIBUTIONS

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=from_logits, name=name, reduction=reduction)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def _targets(self, y_true, y_pred):
        t = y_true.astype(y_pred.dtype, copy=False)
        if self.label_smoothing:
            t = t * (1 - self.label_smoothing) + self.label_smoothing / y_pred.shape[-1]
        return t

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def forward_backward(self, y_true, y_pred):
        return _per_position(self._rows, self._targets(y_true, y_pred), y_pred)

    def _rows(self, targets, y_pred):
        if self.from_logits:
            return primitives.softmax_cross_entropy(y_pred, targets)
        return _cross_entropy_of_probabilities(targets, y_pred)

    def per_sample(self, y_true, y_pred):
        return _categorical_per_sample(self._targets(y_true, y_pred), y_pred, self.from_logits)


@registry.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels: targets have the outputs' shape without
    the last axis (or with a trailing 1), and every label must lie in ``[0, K)``.
    """
    fusable_activation = "softmax"
    target_domain = targets.CLASS_INDICES

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

    def _check_target_shape(self, y_true, output_shape):
        per_sample, expected = tuple(y_true.shape[1:]), tuple(output_shape[1:-1])
        if not (shape_fits(per_sample, expected) or shape_fits(per_sample, expected + (1,))):
            raise ValueError(f"{self.name}: expected integer labels of shape {format_shape(output_shape[:-1])} for a "
                             f"model output of shape {format_shape(output_shape)}, but received labels of shape "
                             f"{tuple(y_true.shape)}. (One-hot targets go with categorical_crossentropy.)")


def _check_label_smoothing(label_smoothing):
    if not 0 <= float(label_smoothing) <= 1:
        raise ValueError(f"label_smoothing must lie in [0, 1]. Received: label_smoothing={label_smoothing!r}")
    return float(label_smoothing)


class _FormulaLoss(Loss):
    """A loss given by ``_terms(t, p) -> (values, d values / d p)``: Keras' values before its reduction over the
    last axis (each element's, or each position's for the losses that sum over it), and their derivatives.
    The loss is the mean of the values (as Keras' per-sample mean over the last axis, then the mean over
    samples and positions) and each sample's loss the mean of its values."""

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(name=name, reduction=reduction)

    def _terms(self, t, p):
        raise NotImplementedError

    def forward_backward(self, y_true, y_pred):
        values, grad = self._terms(_as_output_shape(y_true, y_pred), y_pred)
        return values.mean(), grad / values.size

    def per_sample(self, y_true, y_pred):
        values = self._terms(_as_output_shape(y_true, y_pred), y_pred)[0]
        return _sample_means(values.reshape(len(y_pred), -1))

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


@registry.register("huber")
class Huber(_FormulaLoss):
    """``0.5 * e ** 2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta ** 2`` (``e = y_pred - y_true``),
    averaged over every element. Keras' default name is ``"huber_loss"``."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        if not float(delta) > 0:
            raise ValueError(f"Huber: delta must be positive. Received: delta={delta!r}")
        super().__init__(reduction=reduction, name=name)
        self.delta = float(delta)

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        e = p - t
        small = xp.abs(e) <= self.delta
        values = xp.where(small, 0.5 * e * e, self.delta * xp.abs(e) - 0.5 * self.delta ** 2)
        return values, xp.where(small, e, self.delta * xp.sign(e))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


@registry.register("log_cosh")
class LogCosh(_FormulaLoss):
    """``log(cosh(e))`` (``e = y_pred - y_true``), averaged over every element; the derivative is ``tanh(e)``."""

    def _terms(self, t, p):
        e = p - t
        return stable_log_cosh(e), backend.get_array_module(e).tanh(e)


def l2_norm(x, axis):
    """``sqrt(sum(x**2))`` along ``axis`` (kept), computed on ``x`` scaled by its largest magnitude so that the
    squares cannot overflow where the norm itself is finite."""
    xp = backend.get_array_module(x)
    scale = xp.abs(x).max(axis=axis, keepdims=True)
    scale = xp.where(scale > 0, scale, x.dtype.type(1))
    return scale * xp.sqrt(xp.square(x / scale).sum(axis=axis, keepdims=True))


def stable_log_cosh(e):
    """``log(cosh(e))`` as ``|e| + log1p(exp(-2|e|)) - log(2)``: Keras' ``e + softplus(-2e) - log 2`` in the form
    that stays finite for every finite ``e`` (cosh is even, so the large side is ``|e|``)."""
    xp = backend.get_array_module(e)
    magnitude = xp.abs(e)
    return magnitude + xp.log1p(xp.exp(-2 * magnitude)) - e.dtype.type(numpy.log(2.0))


@registry.register("kl_divergence", "kld", "kullback_leibler_divergence")
class KLDivergence(_FormulaLoss):
    """``sum_k t_k * log(t_k / p_k)`` over the last axis with ``t`` and ``p`` clipped to ``[1e-7, 1]`` (no
    gradient outside), averaged over samples and positions. Targets must lie in [0, 1] (Keras clips them there
    silently)."""
    target_domain = targets.PROBABILITIES

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        t = xp.clip(t, EPSILON, 1)
        q = xp.clip(p, EPSILON, 1)
        values = (t * xp.log(t / q)).sum(axis=-1)
        return values, -t / q * ((p >= EPSILON) & (p <= 1))


@registry.register("poisson")
class Poisson(_FormulaLoss):
    """``y_pred - y_true * log(y_pred + 1e-7)`` averaged over every element; targets (counts, rates) must not be
    negative."""
    target_domain = targets.NON_NEGATIVE

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        return p - t * xp.log(p + EPSILON), 1 - t / (p + EPSILON)


def _hinge_labels(t):
    """Keras' hinge targets: labels that are all 0 or 1 (over the whole batch) become -1 / 1."""
    xp = backend.get_array_module(t)
    return xp.where(xp.all((t == 0) | (t == 1)), 2 * t - 1, t)


@registry.register("hinge")
class Hinge(_FormulaLoss):
    """``max(1 - t * y_pred, 0)`` averaged over every element; targets are -1 / 1 (0 / 1 labels are mapped to
    them when every target of the batch is 0 or 1). Other values, or a data set mixing the two codings, are refused
    (Keras computes with them)."""
    target_domain = targets.SIGNS

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        t = _hinge_labels(t)
        margin = 1 - t * p
        return xp.maximum(margin, 0), -t * (margin > 0)


@registry.register("squared_hinge")
class SquaredHinge(_FormulaLoss):
    """``max(1 - t * y_pred, 0) ** 2`` averaged over every element; targets as Hinge's."""
    target_domain = targets.SIGNS

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        t = _hinge_labels(t)
        margin = xp.maximum(1 - t * p, 0)
        return margin * margin, -2 * t * margin


@registry.register("categorical_hinge")
class CategoricalHinge(_FormulaLoss):
    """``max(max_k((1 - t_k) * p_k) - sum_k t_k * p_k + 1, 0)`` over the last axis, averaged over samples and
    positions. Targets are one-hot, coded 0/1 or -1/1 (Keras' documented values; it computes with any)."""
    target_domain = targets.SIGNS

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        others = (1 - t) * p
        top = others.argmax(axis=-1)[..., None]
        pos = (t * p).sum(axis=-1)
        neg = xp.take_along_axis(others, top, axis=-1)[..., 0]
        values = xp.maximum(neg - pos + 1, 0)
        picked = (xp.arange(p.shape[-1]) == top).astype(p.dtype)
        return values, ((1 - t) * picked - t) * (values > 0)[..., None]


@registry.register("cosine_similarity")
class CosineSimilarity(_FormulaLoss):
    """``-sum(l2_normalize(t) * l2_normalize(y_pred))`` over ``axis``, averaged over the other positions;
    ``l2_normalize(x) = x / max(||x||, 1e-7)`` as Keras'."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name=None):
        if not isinstance(axis, (int, numpy.integer)) or isinstance(axis, bool):
            raise ValueError(f"CosineSimilarity: axis must be an integer. Received: axis={axis!r}")
        super().__init__(reduction=reduction, name=name)
        self.axis = int(axis)

    def _reduced_axis(self):
        return self.axis

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        if self.axis % p.ndim == 0:
            raise ValueError(f"{self.name}: axis={self.axis} is the batch axis of outputs of shape {p.shape}.")
        t_norm, p_norm = l2_norm(t, self.axis), l2_norm(p, self.axis)
        tn, pn = t / xp.maximum(t_norm, EPSILON), p / xp.maximum(p_norm, EPSILON)
        cosine = (tn * pn).sum(axis=self.axis, keepdims=True)
        # Through pn = p / ||p||: d/dp = (tn - pn * cos) / ||p||; where the norm is clipped, pn = p / 1e-7.
        grad = xp.where(p_norm > EPSILON, (tn - pn * cosine) / xp.maximum(p_norm, EPSILON), tn / EPSILON)
        return -xp.squeeze(cosine, axis=self.axis), -grad

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@registry.register("mean_squared_logarithmic_error", "msle")
class MeanSquaredLogarithmicError(_FormulaLoss):
    """``(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2`` averaged over every element (a target
    below 1e-7, negative ones included, counts as 1e-7, as Keras documents)."""

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        q = xp.maximum(p, EPSILON) + 1
        diff = xp.log(q) - xp.log(xp.maximum(t, EPSILON) + 1)
        return diff * diff, 2 * diff / q * (p > EPSILON)


@registry.register("mean_absolute_percentage_error", "mape")
class MeanAbsolutePercentageError(_FormulaLoss):
    """``100 * |y_true - y_pred| / max(|y_true|, 1e-7)`` averaged over every element."""

    def _terms(self, t, p):
        xp = backend.get_array_module(p)
        scale = 100 / xp.maximum(xp.abs(t), EPSILON)
        return xp.abs(t - p) * scale, xp.sign(p - t) * scale


def shape_fits(shape, expected):
    """Whether ``shape`` matches ``expected``, whose None entries (steps of any length) match any size."""
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def _cross_entropy_of_probabilities(targets, probabilities):
    """Keras' categorical cross-entropy of probabilities (rows renormalised, then clipped), averaged over rows."""
    loss, grad = cross_entropy.clipped_categorical_cross_entropy_rows(targets, probabilities, EPSILON)
    n = probabilities.shape[0]
    return loss.sum() / n, grad / n


def _sample_means(values):
    """``(N, ...)`` -> ``(N,)``: the mean over every axis but the batch axis."""
    return values.reshape(values.shape[0], -1).mean(axis=1)


def _categorical_per_sample(targets, y_pred, from_logits):
    """Each sample's categorical cross-entropy (mean over positions), from logits or probabilities."""
    if not from_logits:
        return _sample_means(cross_entropy.clipped_categorical_cross_entropy_rows(targets, y_pred, EPSILON)[0])
    xp = backend.get_array_module(y_pred)
    shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
    log_q = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
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
    dict, a Loss instance (or a Loss class: its default instance, as in Keras), or a function ``fn(y_true, y_pred)``
    written with ``nnkit.ops``.
    """
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
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
huber = Huber()
log_cosh = LogCosh()
kl_divergence = kld = kullback_leibler_divergence = KLDivergence()
poisson = Poisson()
hinge = Hinge()
squared_hinge = SquaredHinge()
categorical_hinge = CategoricalHinge()
cosine_similarity = CosineSimilarity()
mean_squared_logarithmic_error = msle = MeanSquaredLogarithmicError()
mean_absolute_percentage_error = mape = MeanAbsolutePercentageError()
