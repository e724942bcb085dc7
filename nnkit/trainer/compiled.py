"""``compile()``'s loss, loss_weights and metrics, resolved for each output of the model.

Each may be one value (every output), a list (one per output, in order) or a dict keyed by output name, as in
Keras. The log names are Keras': ``loss``; with several outputs ``<output>_loss`` for each output with a loss;
a metric ``<metric>`` (one output) or ``<output>_<metric>``.
"""
import copy
import math
import numbers

from .. import losses as losses_module, metrics as metrics_module


class CompiledOutputs:
    """What compile() was given; ``resolve`` fits it to the model's outputs once they are known.

    After ``resolve``: ``losses``, ``loss_weights``, ``metrics`` (a list of Metric per output), ``fused`` (the
    activation the loss takes over on each output, or None), ``names`` (the log names of ``totals``: the total
    loss, then each output's loss when there are several, then every metric).
    """

    def __init__(self, loss, loss_weights, metrics, weighted_metrics=None):
        self.loss, self.given_loss_weights, self.metric_identifiers = loss, loss_weights, metrics
        self.weighted_metric_identifiers = weighted_metrics
        for identifier in _leaves(loss):
            resolved = losses_module.get(identifier)  # unknown names fail here, not at fit time
            if getattr(resolved, "reduction", "sum_over_batch_size") in (None, "none"):
                raise ValueError(f"compile(loss=...): the loss '{resolved.name}' has "
                                 f"reduction={resolved.reduction!r}, which gives each sample's loss; fit() "
                                 f"trains on one number per batch: use "
                                 f"reduction='sum_over_batch_size' (the default), 'sum', 'mean' or "
                                 f"'mean_with_sample_weight'.")
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                example = repr(value) if isinstance(value, str) else type(value).__name__ + "()"
                raise TypeError(f"compile({argument}=...) expects a list (or a dict per output), e.g. "
                                f"{argument}=[{example}]. Received {value!r} of type {type(value).__name__}.")
            for identifier in _leaves(value):
                metrics_module.get(identifier)
        for weight in _leaves(loss_weights):
            if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight):
                raise ValueError(f"compile(loss_weights=...) must hold finite numbers (a list with one per output, or "
                                 f"a dict keyed by output name). Received: loss_weights={loss_weights!r}")
        self.graph = None  # the graph resolved for

    def resolve(self, output_names, output_shapes, graph):
        """Match the losses, weights and metrics to ``output_names`` (in the model's output order) of ``graph``."""
        if graph is self.graph:
            return
        self.graph = graph
        count = len(output_names)
        self.losses = [None if entry is None else losses_module.get(entry)
                       for entry in _per_output(self.loss, output_names, "loss")]
        weights = _per_output(self.given_loss_weights, output_names, "loss_weights")
        self.loss_weights = [1.0 if w is None else float(w) for w in weights]
        self.metrics, self.weighted_metrics = [
            [[copy.copy(metrics_module.get(identifier, loss, shape)) for identifier in (identifiers or [])]
             for identifiers, loss, shape in zip(_per_output(_metrics_per_output(given, count), output_names,
                                                             argument), self.losses, output_shapes)]
            for argument, given in (("metrics", self.metric_identifiers),
                                    ("weighted_metrics", self.weighted_metric_identifiers))]
        self.fused = [_fusable(loss, graph.fusable_activation(index)) for index, loss in enumerate(self.losses)]
        self.fused_outputs = [index for index, activation in enumerate(self.fused) if activation is not None]
        self.train_losses = [loss if act is None else loss.with_logits() for loss, act in zip(self.losses, self.fused)]
        per_output = [f"{name}_loss" for name, loss in zip(output_names, self.losses) if loss is not None] \
            if count > 1 else []
        prefixes = [f"{name}_" if count > 1 else "" for name in output_names]
        self.names = ["loss"] + per_output + [prefix + metric.name
                                              for prefix, metrics in zip(prefixes, self.metrics) for metric in metrics]
        for prefix, metrics in zip(prefixes, self.weighted_metrics):  # after the unweighted ones, as in Keras' logs
            for metric in metrics:
                name = prefix + metric.name
                self.names.append(prefix + "weighted_" + metric.name if name in self.names else name)
        #: evaluate's list order, as Keras': the total loss, each output's loss, then the metrics by name.
        self.returned_names = self.names[:1 + len(per_output)] + sorted(self.names[1 + len(per_output):])

    def config(self):
        """compile()'s arguments as JSON-ready data (for model files)."""
        return {"loss": _serialize(self.loss, _serialize_loss), "loss_weights": self.given_loss_weights,
                "metrics": _serialize(self.metric_identifiers, _serialize_metric),
                "weighted_metrics": _serialize(self.weighted_metric_identifiers, _serialize_metric)}


def _fusable(loss, activation):
    if loss is None or activation is None or loss.fusable_activation is None or loss.from_logits:
        return None
    return activation if activation.name == loss.fusable_activation else None


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if value is None else [value]


def _metrics_per_output(metrics, count):
    """A flat list of metrics applies to every output (Keras accepts that for a single output)."""
    if metrics is None or isinstance(metrics, dict):
        return metrics
    metrics = list(metrics)
    if count > 1 and any(isinstance(m, (list, tuple)) or m is None for m in metrics):
        return metrics
    return [metrics] * count if count > 1 else [metrics]


def _per_output(value, names, argument):
    """``value`` (one, a list, a dict by output name) as a list with one entry per output (None: nothing)."""
    count = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile({argument}=...) names outputs the model does not have: {unknown}. "
                             f"The model's outputs are {list(names)}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"compile({argument}=...) has {len(value)} entries, but the model has {count} "
                             f"output(s) {list(names)}. Give one entry per output, or a dict keyed by output name.")
        return list(value)
    return [value] * count


def _serialize(value, serialize_one):
    if isinstance(value, dict):
        return {key: _serialize(item, serialize_one) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize(item, serialize_one) for item in value]
    return None if value is None else serialize_one(value)


def _serialize_loss(loss):
    if isinstance(loss, str):
        return loss
    loss = losses_module.get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def _serialize_metric(metric):
    if isinstance(metric, str):
        return metric
    metric = metrics_module.get(metric)
    return {"class_name": type(metric).__name__, "config": {"name": metric.name}}


def deserialize(value, family):
    """The inverse of ``config()`` for one argument (``family``: ``"loss"`` or ``"metric"``)."""
    module = losses_module if family == "loss" else metrics_module

    def one(entry):
        if not isinstance(entry, dict):
            return entry
        if entry["class_name"] in ("LossFunctionWrapper", "MeanMetricWrapper"):
            raise ValueError(f"The saved model was compiled with the {family} function "
                             f"'{entry['config']['name']}', which a file cannot hold: load it with compile=False "
                             f"and compile it again.")
        cls = getattr(module, entry["class_name"], None)
        if not isinstance(cls, type):
            raise ValueError(f"The saved model uses the {family} class '{entry['class_name']}', which "
                             f"nnkit.{module.__name__.rsplit('.', 1)[-1]} does not have.")
        return cls(**entry["config"])
    if isinstance(value, dict) and "class_name" not in value:
        return {key: deserialize(item, family) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [deserialize(item, family) for item in value]
    return None if value is None else one(value)
