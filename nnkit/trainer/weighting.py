"""``fit``'s ``sample_weight`` and ``class_weight``: one weight per training sample, as Keras forms it."""
import numpy

from .. import backend


def sample_weights(y, sample_weight, class_weight, num_samples):
    """The per-sample weights ``(N,)`` on the device in floatx, or None when neither argument is given.

    ``class_weight`` maps a class index to a weight; a sample's class is its integer label, the argmax of
    a one-hot row, or the rounded value of a single output. Classes it does not name weigh 1.
    """
    if sample_weight is not None and class_weight is not None:
        raise ValueError("fit() accepts sample_weight or class_weight, not both (as in Keras): fold the class "
                         "weights into sample_weight.")
    if sample_weight is not None:
        return backend.to_device(_checked_sample_weight(sample_weight, num_samples), dtype=backend.floatx())
    if class_weight is not None:
        return backend.to_device(_from_class_weight(y, class_weight), dtype=backend.floatx())
    return None


def _checked_sample_weight(sample_weight, num_samples):
    weights = numpy.asarray(backend.to_host(sample_weight), dtype=numpy.float64)
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.shape != (num_samples,):
        raise ValueError(f"sample_weight must have shape ({num_samples},), one weight per training sample; "
                         f"received shape {weights.shape}.")
    if not numpy.isfinite(weights).all():
        raise ValueError("sample_weight contains NaN or Inf.")
    return weights


def _from_class_weight(y, class_weight):
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}. Received: {class_weight!r}")
    labels = numpy.asarray(backend.to_host(y))
    if labels.ndim == 2 and labels.shape[1] > 1:
        classes = labels.argmax(axis=1)
    elif labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1):
        classes = numpy.rint(labels.reshape(-1)).astype(numpy.int64)
    else:
        raise ValueError(f"class_weight works with targets of shape (N,), (N, 1) or one-hot (N, K); received "
                         f"targets of shape {labels.shape}. Pass sample_weight instead.")
    for index, weight in class_weight.items():  # all checked before the table is sized by the keys
        if isinstance(index, bool) or not isinstance(index, (int, numpy.integer)) or index < 0:
            raise ValueError(f"class_weight keys must be non-negative class indices. Received key {index!r}.")
        number = isinstance(weight, (int, float, numpy.number)) and not isinstance(weight, bool)
        if not number or not numpy.isfinite(weight):
            raise ValueError(f"class_weight values must be finite numbers. Received {weight!r} for class {index}.")
    table = numpy.ones(max(int(classes.max(initial=0)), max(class_weight, default=0)) + 1)
    for index, weight in class_weight.items():
        table[index] = float(weight)
    return table[classes]
