"""IoU, MeanIoU, OneHotIoU, OneHotMeanIoU against Keras 3's values on the same label maps (tests/data/keras_iou.json,
written by tests/data/make_keras_iou.py) and a hand-computed confusion matrix."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.metrics import IoU, MeanIoU, OneHotIoU, OneHotMeanIoU

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "data", "keras_iou.json")))


@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_iou_metrics_equal_keras_over_several_batches(case, xp):
    spec = GOLDEN["cases"][case]
    metric = getattr(nnkit.metrics, spec["class"])(**spec["arguments"])
    for batch in range(3):
        y_true = numpy.array(GOLDEN["labels"][batch])
        if spec["class"].startswith("OneHot"):
            y_true = numpy.eye(4)[y_true]
        weight = xp.asarray(GOLDEN["weights"][batch]) if spec["weighted"] else None
        metric.update_state(xp.asarray(y_true), xp.asarray(GOLDEN["scores"][batch], dtype="float32"), weight)
    assert float(backend.to_host(metric.result())) == pytest.approx(spec["result"], abs=1e-6)


def test_mean_iou_of_a_hand_computed_confusion_matrix():
    # true:      0 0 1 1 2 ; predicted: 0 1 1 1 0  ->  class 0: TP 1, FP 1, FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3;
    # class 2: TP 0, FN 1 -> 0; class 3 never occurs and is left out: (1/3 + 2/3 + 0) / 3
    metric = MeanIoU(num_classes=4)
    metric.update_state(numpy.array([0, 0, 1, 1, 2]), numpy.array([0, 1, 1, 1, 0]))
    assert float(backend.to_host(metric.result())) == pytest.approx(1 / 3, abs=1e-6)
    metric.reset_state()
    assert float(backend.to_host(metric.result())) == 0.0


def test_mean_iou_trains_as_a_compiled_metric_of_a_segmentation_model():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(16, 4, 4, 2)).astype("float32")
    y = (x[..., 0] > 0).astype("int64")
    model = nnkit.Sequential([nnkit.Input(shape=(4, 4, 2)), nnkit.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[MeanIoU(num_classes=2, sparse_y_pred=False)])
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    predicted = model.predict(x, verbose=0).argmax(-1)
    ious = [((predicted == c) & (y == c)).sum() / ((predicted == c) | (y == c)).sum() for c in (0, 1)]
    assert logs["mean_io_u"] == pytest.approx(numpy.mean(ious), abs=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: MeanIoU(num_classes=0), "num_classes"),
    (lambda: IoU(num_classes=3, target_class_ids=[3]), "target class id"),
    (lambda: OneHotIoU(num_classes=3, target_class_ids=[]), "target class id"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_one_hot_mean_iou_is_mean_iou_of_the_argmaxes():
    scores = numpy.random.default_rng(1).random((10, 3))
    labels = numpy.random.default_rng(2).integers(0, 3, 10)
    one_hot, plain = OneHotMeanIoU(num_classes=3), MeanIoU(num_classes=3, sparse_y_pred=False)
    one_hot.update_state(numpy.eye(3)[labels], scores)
    plain.update_state(labels, scores)
    assert float(backend.to_host(one_hot.result())) == float(backend.to_host(plain.result()))
