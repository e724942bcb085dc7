"""Writes keras_metrics.npz: Keras 3's metrics on fixed batches (update_state per batch, then result), with
and without sample weights, for tests/test_metrics_more.py.

    KERAS_BACKEND=torch python tests/data/make_keras_metrics.py
"""
import os

import numpy
import keras

# (name in the file, class name, constructor arguments, kind of data)
CASES = [
    ("accuracy", "Accuracy", {}, "labels"),
    ("binary_accuracy", "BinaryAccuracy", {}, "binary"),
    ("binary_accuracy_t03", "BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("top_k", "TopKCategoricalAccuracy", {}, "onehot"),
    ("top_k2", "TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("sparse_top_k", "SparseTopKCategoricalAccuracy", {}, "sparse"),
    ("sparse_top_k2", "SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("rmse", "RootMeanSquaredError", {}, "regression"),
    ("mape", "MeanAbsolutePercentageError", {}, "regression"),
    ("msle", "MeanSquaredLogarithmicError", {}, "regression"),
    ("cosine", "CosineSimilarity", {}, "regression"),
    ("logcosh", "LogCoshError", {}, "regression"),
    ("tp", "TruePositives", {}, "binary"),
    ("fp", "FalsePositives", {}, "binary"),
    ("tn", "TrueNegatives", {}, "binary"),
    ("fn", "FalseNegatives", {}, "binary"),
    ("tp_multi", "TruePositives", {"thresholds": [0.2, 0.5, 0.75]}, "multilabel"),
    ("fn_multi", "FalseNegatives", {"thresholds": [0.1, 0.6]}, "multilabel"),
    ("precision", "Precision", {}, "binary"),
    ("recall", "Recall", {}, "binary"),
    ("precision_multilabel", "Precision", {}, "multilabel"),
    ("recall_multilabel", "Recall", {}, "multilabel"),
    ("precision_thresholds", "Precision", {"thresholds": [0.3, 0.7]}, "multilabel"),
    ("recall_thresholds", "Recall", {"thresholds": [0.3, 0.7]}, "multilabel"),
    ("precision_top2", "Precision", {"top_k": 2}, "multilabel"),
    ("recall_top2", "Recall", {"top_k": 2}, "multilabel"),
    ("precision_class1", "Precision", {"class_id": 1}, "multilabel"),
    ("recall_class2", "Recall", {"class_id": 2}, "multilabel"),
    ("precision_top1_class0", "Precision", {"top_k": 1, "class_id": 0}, "multilabel"),
    ("r2", "R2Score", {}, "regression"),
    ("r2_variance", "R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"),
    ("r2_raw", "R2Score", {"class_aggregation": None}, "regression"),
    ("r2_adjusted", "R2Score", {"num_regressors": 2}, "regression"),
    ("f1", "F1Score", {}, "onehot"),
    ("f1_multilabel_t05", "F1Score", {"threshold": 0.5}, "multilabel"),
    ("f1_micro", "F1Score", {"average": "micro", "threshold": 0.4}, "multilabel"),
    ("f1_macro", "F1Score", {"average": "macro"}, "onehot"),
    ("f1_weighted", "F1Score", {"average": "weighted", "threshold": 0.6}, "multilabel"),
    ("f1_binary", "F1Score", {"threshold": 0.5}, "binary"),
    ("fbeta2", "FBetaScore", {"beta": 2.0, "threshold": 0.5}, "multilabel"),
    ("fbeta05_macro", "FBetaScore", {"beta": 0.5, "average": "macro"}, "onehot"),
    ("fbeta3_weighted", "FBetaScore", {"beta": 3.0, "average": "weighted", "threshold": 0.3}, "multilabel"),
    ("fbeta2_micro", "FBetaScore", {"beta": 2.0, "average": "micro"}, "onehot"),
    ("auc", "AUC", {}, "binary"),
    ("auc_multilabel_flat", "AUC", {}, "multilabel"),
    ("auc_pr", "AUC", {"curve": "PR"}, "multilabel"),
    ("auc_prgain", "AUC", {"curve": "PRGAIN", "num_thresholds": 50}, "multilabel"),
    ("auc_minoring", "AUC", {"summation_method": "minoring", "num_thresholds": 11}, "binary"),
    ("auc_majoring", "AUC", {"summation_method": "majoring", "num_thresholds": 11}, "binary"),
    ("auc_pr_majoring", "AUC", {"curve": "PR", "summation_method": "majoring"}, "multilabel"),
    ("auc_thresholds", "AUC", {"thresholds": [0.1, 0.35, 0.5, 0.8]}, "multilabel"),
    ("auc_thresholds_even", "AUC", {"thresholds": [0.25, 0.5, 0.75]}, "multilabel"),
    ("auc_pr_thresholds", "AUC", {"curve": "PR", "thresholds": [0.2, 0.45, 0.7]}, "multilabel"),
    ("auc_multi_label", "AUC", {"multi_label": True}, "multilabel"),
    ("auc_multi_label_pr", "AUC", {"multi_label": True, "curve": "PR", "num_labels": 4}, "multilabel"),
    ("auc_multi_label_weights", "AUC", {"multi_label": True, "label_weights": [0.5, 1.0, 2.0, 0.0]},
     "multilabel"),
    ("auc_multi_label_thresholds", "AUC", {"multi_label": True, "thresholds": [0.3, 0.6, 0.65]}, "multilabel"),
    ("auc_label_weights", "AUC", {"label_weights": [0.5, 1.0, 2.0, 0.25]}, "multilabel"),
    ("auc_label_weights_thresholds", "AUC", {"label_weights": [1.5, 1.0, 0.0, 0.5], "thresholds": [0.3, 0.6]},
     "multilabel"),
    ("auc_logits", "AUC", {"from_logits": True}, "logits"),
    ("auc_logits_pr_multi", "AUC", {"from_logits": True, "curve": "PR", "multi_label": True}, "logits"),
]
BATCHES, BATCH, CLASSES = 3, 8, 6


def data(rng):
    """Per kind, a list of (y_true, y_pred, sample_weight) batches."""
    out = {}
    for kind in ("labels", "binary", "onehot", "sparse", "regression", "multilabel", "logits"):
        batches = []
        for _ in range(BATCHES):
            weight = rng.uniform(0.0, 2.0, BATCH).astype("float32")
            if kind == "labels":
                y_true = rng.integers(0, 3, (BATCH, 4)).astype("float32")
                y_pred = rng.integers(0, 3, (BATCH, 4)).astype("float32")
            elif kind == "binary":
                y_true = rng.integers(0, 2, (BATCH, 1)).astype("float32")
                y_pred = rng.uniform(0, 1, (BATCH, 1)).astype("float32")
            elif kind in ("onehot", "sparse"):
                labels = rng.integers(0, CLASSES, BATCH)
                y_pred = rng.uniform(0, 1, (BATCH, CLASSES)).astype("float32")
                y_true = numpy.eye(CLASSES, dtype="float32")[labels] if kind == "onehot" else labels
            elif kind == "regression":
                y_true = rng.uniform(0.1, 2.0, (BATCH, 3)).astype("float32")
                y_pred = (y_true + rng.normal(0, 0.5, (BATCH, 3))).astype("float32")
            elif kind == "multilabel":
                y_true = rng.integers(0, 2, (BATCH, 4)).astype("float32")
                y_pred = rng.uniform(0, 1, (BATCH, 4)).astype("float32")
            else:  # logits (added last: the kinds before draw the same numbers as before)
                y_true = rng.integers(0, 2, (BATCH, 3)).astype("float32")
                y_pred = rng.normal(0, 2.0, (BATCH, 3)).astype("float32")
            batches.append((y_true, y_pred, weight))
        out[kind] = batches
    return out


def main():
    rng = numpy.random.default_rng(12)
    batches = data(rng)
    arrays = {}
    for kind, items in batches.items():
        for i, (y_true, y_pred, weight) in enumerate(items):
            arrays[f"data/{kind}/{i}/y_true"] = y_true
            arrays[f"data/{kind}/{i}/y_pred"] = y_pred
            arrays[f"data/{kind}/{i}/weight"] = weight
    for key, class_name, kwargs, kind in CASES:
        for weighted in (False, True):
            metric = getattr(keras.metrics, class_name)(**kwargs)
            for y_true, y_pred, weight in batches[kind]:
                metric.update_state(y_true, y_pred, sample_weight=weight if weighted else None)
            arrays[f"result/{key}/{'weighted' if weighted else 'plain'}"] = numpy.asarray(
                keras.ops.convert_to_numpy(metric.result()), dtype="float64")
    values = numpy.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float32")
    total = keras.metrics.Sum()
    total.update_state(values)
    total.update_state(values, sample_weight=numpy.array([1.0, 0.5, 0.0], dtype="float32"))
    arrays["result/sum/mixed"] = numpy.asarray(keras.ops.convert_to_numpy(total.result()), dtype="float64")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_metrics.npz")
    numpy.savez_compressed(path, cases=numpy.array([f"{k}|{c}|{kwargs!r}|{kind}" for k, c, kwargs, kind in CASES]),
                           **arrays)
    print(f"wrote {path}: {len(arrays)} arrays")


if __name__ == "__main__":
    main()
