"""Writes tests/data/keras_iou.json: Keras 3's IoU metrics on fixed targets and predictions (several batches,
weights, ignore_class, one-hot forms). Run with a Keras 3 environment:
    KERAS_BACKEND=torch python tests/data/make_keras_iou.py
"""
import json
import os

import keras
import numpy

rng = numpy.random.default_rng(5)
labels = rng.integers(0, 4, size=(3, 6, 5)).tolist()           # 3 batches of 6 x 5 label maps
scores = rng.random((3, 6, 5, 4)).round(3).tolist()             # class scores for the same positions
weights = rng.random((3, 6, 5)).round(2).tolist()
CASES = {
    "mean_iou": ("MeanIoU", {"num_classes": 4, "sparse_y_pred": False}, False),
    "mean_iou_weighted": ("MeanIoU", {"num_classes": 4, "sparse_y_pred": False}, True),
    "mean_iou_ignore_2": ("MeanIoU", {"num_classes": 4, "sparse_y_pred": False, "ignore_class": 2}, False),
    "iou_classes_1_3": ("IoU", {"num_classes": 4, "target_class_ids": [1, 3], "sparse_y_pred": False}, True),
    "one_hot_mean_iou": ("OneHotMeanIoU", {"num_classes": 4}, False),
    "one_hot_iou_0": ("OneHotIoU", {"num_classes": 4, "target_class_ids": [0]}, True),
    "absent_class": ("MeanIoU", {"num_classes": 6, "sparse_y_pred": False}, False),
}
results = {}
for key, (cls, arguments, weighted) in CASES.items():
    # float weights need a float dtype: with its default "int" dtype Keras truncates them (and warns)
    metric = getattr(keras.metrics, cls)(**arguments, **({"dtype": "float32"} if weighted else {}))
    for batch in range(3):
        y_true = numpy.array(labels[batch])
        if cls.startswith("OneHot"):
            y_true = numpy.eye(4)[y_true]
        metric.update_state(y_true, numpy.array(scores[batch]),
                            sample_weight=numpy.array(weights[batch]) if weighted else None)
    results[key] = {"class": cls, "arguments": arguments, "weighted": weighted,
                    "result": float(keras.ops.convert_to_numpy(metric.result()))}
with open(os.path.join(os.path.dirname(__file__), "keras_iou.json"), "w") as handle:
    json.dump({"keras": keras.__version__, "labels": labels, "scores": scores, "weights": weights,
               "cases": results}, handle)
