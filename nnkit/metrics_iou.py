"""Intersection-over-union metrics, as Keras 3's: ``IoU``, ``MeanIoU``, ``OneHotIoU``, ``OneHotMeanIoU``.

Each accumulates a ``num_classes x num_classes`` confusion matrix (rows: true class, columns: predicted class,
weighted by ``sample_weight``) on the device; the result is the mean over the target classes of
``TP / (TP + FP + FN)``, classes that never occurred (denominator 0) left out, with Keras' epsilon.
"""
from . import backend
from ._arguments import positive_int
from .metrics import Metric
from .metrics_more import _arrays

#: Keras' ``backend.epsilon()``.
EPSILON = 1e-7


class IoU(Metric):
    """The mean IoU of the classes ``target_class_ids``.

    Args:
        num_classes: the number of classes.
        target_class_ids: the classes whose IoU is averaged (a list of ids in ``[0, num_classes)``).
        name, dtype: as every metric.
        ignore_class: a class id whose targets are left out (e.g. a "void" class), or None.
        sparse_y_true, sparse_y_pred: whether targets / predictions are class ids (True) or scores whose argmax
            along ``axis`` is the class (False). Class ids given as floats are truncated, as Keras casts them.
        axis: the class axis of scores.
    """
    default_name = "io_u"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        self.num_classes = positive_int(owner, "num_classes", num_classes)
        self.target_class_ids = [int(i) for i in target_class_ids]
        if not self.target_class_ids or not all(0 <= i < self.num_classes for i in self.target_class_ids):
            raise ValueError(f"{owner}: every target class id must lie in [0, {self.num_classes}). "
                             f"Received: target_class_ids={list(target_class_ids)!r}")
        self.ignore_class, self.axis = ignore_class, axis
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.total_cm = self.add_variable(shape=(self.num_classes, self.num_classes), dtype="float64",
                                          name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the batch's (weighted) pairs of true and predicted class to the confusion matrix; pairs with a
        class outside ``[0, num_classes)`` or the ``ignore_class`` count nothing."""
        xp, y_true, y_pred = _arrays(y_true, y_pred)
        true = (y_true if self.sparse_y_true else y_true.argmax(axis=self.axis)).reshape(-1).astype("int64")
        predicted = (y_pred if self.sparse_y_pred else y_pred.argmax(axis=self.axis)).reshape(-1).astype("int64")
        if sample_weight is None:
            weights = xp.ones(true.shape, dtype="float64")
        else:  # as Keras: flattened when of rank > 1, then broadcast to the flat targets
            weights = xp.asarray(getattr(sample_weight, "value", sample_weight), dtype="float64")
            weights = xp.broadcast_to(weights.reshape(-1) if weights.ndim > 1 else weights, true.shape)
        kept = (true >= 0) & (true < self.num_classes) & (predicted >= 0) & (predicted < self.num_classes)
        if self.ignore_class is not None:
            kept &= true != self.ignore_class
        pairs = xp.where(kept, true * self.num_classes + predicted, 0)
        counts = xp.bincount(pairs, weights=xp.where(kept, weights, 0), minlength=self.num_classes ** 2)
        self.total_cm.assign_add(counts.reshape(self.num_classes, self.num_classes))

    def result(self):
        """The mean IoU of the target classes that occurred (0-d array; no host synchronisation)."""
        xp = backend.get_array_module(self.total_cm.value)
        matrix = self.total_cm.value
        true_positives = xp.diagonal(matrix)
        denominator = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
        ids = xp.asarray(self.target_class_ids)
        true_positives, denominator = true_positives[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = xp.where(valid, true_positives / (denominator + EPSILON), 0.0)
        return (iou.sum() / (valid.sum() + EPSILON)).astype(self.dtype or backend.floatx())

    def get_config(self):
        """The constructor's arguments."""
        return {"name": self.name, "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """The mean IoU over every class (``IoU`` with ``target_class_ids = range(num_classes)``); see ``IoU``."""
    default_name = "mean_io_u"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, range(positive_int("MeanIoU", "num_classes", num_classes)), name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)


class OneHotIoU(IoU):
    """``IoU`` of one-hot targets and score predictions (both reduced by argmax); see ``IoU``."""
    default_name = "one_hot_io_u"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)


class OneHotMeanIoU(MeanIoU):
    """``MeanIoU`` of one-hot targets and score predictions (both reduced by argmax); see ``IoU``."""
    default_name = "one_hot_mean_io_u"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)
