"""Keras 3's further metrics (nnkit.metrics_more, issue 12): the values Keras gives on the same batches
(tests/data/make_keras_metrics.py writes them), their string aliases, and their logs in compile/evaluate/fit."""
import ast
import os

import numpy
import pytest

import nnkit
from nnkit import layers

GOLDENS = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_metrics.npz"))
CASES = [tuple(case.split("|")) for case in GOLDENS["cases"]]


def _batches(kind):
    i = 0
    while f"data/{kind}/{i}/y_true" in GOLDENS:
        yield (GOLDENS[f"data/{kind}/{i}/y_true"], GOLDENS[f"data/{kind}/{i}/y_pred"],
               GOLDENS[f"data/{kind}/{i}/weight"])
        i += 1


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("key,class_name,kwargs,kind", CASES, ids=[case[0] for case in CASES])
def test_values_equal_keras(backend_name, key, class_name, kwargs, kind, weighted):
    metric = getattr(nnkit.metrics, class_name)(**ast.literal_eval(kwargs))
    for y_true, y_pred, weight in _batches(kind):
        metric.update_state(y_true, y_pred, sample_weight=weight if weighted else None)
    expected = GOLDENS[f"result/{key}/{'weighted' if weighted else 'plain'}"]
    numpy.testing.assert_allclose(numpy.asarray(nnkit.backend.to_host(metric.result()), dtype="float64"),
                                  expected, rtol=2e-5, atol=1e-6)
    metric.reset_state()
    assert all(numpy.all(variable.numpy() == 0) for variable in metric.variables)


def test_sum_equals_keras(backend_name):
    values = numpy.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float32")
    total = nnkit.metrics.Sum()
    total.update_state(values)
    total.update_state(values, sample_weight=numpy.array([1.0, 0.5, 0.0], dtype="float32"))
    assert float(total.result()) == pytest.approx(float(GOLDENS["result/sum/mixed"]))


def test_names_and_aliases():
    expected = {
        "top_k_categorical_accuracy": nnkit.metrics.TopKCategoricalAccuracy,
        "sparse_top_k_categorical_accuracy": nnkit.metrics.SparseTopKCategoricalAccuracy,
        "mape": nnkit.metrics.MeanAbsolutePercentageError,
        "mean_absolute_percentage_error": nnkit.metrics.MeanAbsolutePercentageError,
        "msle": nnkit.metrics.MeanSquaredLogarithmicError,
        "mean_squared_logarithmic_error": nnkit.metrics.MeanSquaredLogarithmicError,
        "cosine_similarity": nnkit.metrics.CosineSimilarity,
        "logcosh": nnkit.metrics.LogCoshError,
        "log_cosh_error": nnkit.metrics.LogCoshError,
        "root_mean_squared_error": nnkit.metrics.RootMeanSquaredError,
        "precision": nnkit.metrics.Precision,
        "recall": nnkit.metrics.Recall,
        "true_positives": nnkit.metrics.TruePositives,
        "false_positives": nnkit.metrics.FalsePositives,
        "true_negatives": nnkit.metrics.TrueNegatives,
        "false_negatives": nnkit.metrics.FalseNegatives,
        "sum": nnkit.metrics.Sum,
        "r2_score": nnkit.metrics.R2Score,
        "f1_score": nnkit.metrics.F1Score,
        "fbeta_score": nnkit.metrics.FBetaScore,
        "auc": nnkit.metrics.AUC,
        "AUC": nnkit.metrics.AUC,
        "Precision": nnkit.metrics.Precision,
        "TopKCategoricalAccuracy": nnkit.metrics.TopKCategoricalAccuracy,
    }
    for alias, cls in expected.items():
        metric = nnkit.metrics.get(alias)
        assert type(metric) is cls and metric.name == alias
    defaults = {nnkit.metrics.Accuracy: "accuracy", nnkit.metrics.TopKCategoricalAccuracy: "top_k_categorical_accuracy",
                nnkit.metrics.LogCoshError: "logcosh", nnkit.metrics.RootMeanSquaredError: "root_mean_squared_error",
                nnkit.metrics.TruePositives: "true_positives", nnkit.metrics.Precision: "precision",
                nnkit.metrics.CosineSimilarity: "cosine_similarity", nnkit.metrics.Sum: "sum",
                nnkit.metrics.F1Score: "f1_score", nnkit.metrics.FBetaScore: "fbeta_score", nnkit.metrics.AUC: "auc"}
    for cls, name in defaults.items():
        assert cls().name == name
    assert nnkit.metrics.TopKCategoricalAccuracy(k=3).k == 3
    assert nnkit.metrics.BinaryAccuracy(threshold=0.3).threshold == 0.3
    with pytest.raises(ValueError):
        nnkit.metrics.Precision(thresholds=[1.5])


def test_fscore_and_auc_arguments():
    assert nnkit.metrics.FBetaScore(beta=2.0, average="macro", threshold=0.5).beta == 2.0
    for kwargs in ({"average": "samples"}, {"beta": 2}, {"beta": -1.0}, {"threshold": 1}, {"threshold": 0.0},
                   {"threshold": 1.5}):
        with pytest.raises(ValueError):
            nnkit.metrics.FBetaScore(**kwargs)
    with pytest.raises(ValueError):
        nnkit.metrics.F1Score().update_state(numpy.ones(4), numpy.ones(4))  # F-scores need 2-D data
    auc = nnkit.metrics.AUC(num_thresholds=5)
    assert auc.thresholds == pytest.approx([-1e-7, 0.25, 0.5, 0.75, 1 + 1e-7])
    assert nnkit.metrics.AUC(thresholds=[0.7, 0.2]).thresholds == pytest.approx([-1e-7, 0.2, 0.7, 1 + 1e-7])
    assert nnkit.metrics.AUC(curve="pr", summation_method="Majoring").curve == "PR"
    for kwargs in ({"num_thresholds": 1}, {"curve": "Roc"}, {"summation_method": "trapezoid"},
                   {"num_labels": 3}):
        with pytest.raises(ValueError):
            nnkit.metrics.AUC(**kwargs)
    assert float(nnkit.metrics.AUC().result()) == 0.0
    multi = nnkit.metrics.AUC(multi_label=True)
    assert float(multi.result()) == 0.0 and not multi.variables  # built at the first update
    with pytest.raises(ValueError):
        multi.update_state(numpy.ones(4), numpy.ones(4))  # multi_label needs 2-D data


def _direct(metric, y_true, y_pred):
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    return float(metric.result())


@pytest.mark.parametrize("use_strings", [False, True], ids=["instances", "strings"])
def test_compile_evaluate_logs_the_direct_values(backend_name, rng, use_strings):
    model = nnkit.Sequential([layers.Input((5,)), layers.Dense(6, activation="softmax")])
    x = rng.normal(size=(20, 5)).astype("float32")
    labels = rng.integers(0, 6, 20)
    y = numpy.eye(6, dtype="float32")[labels]
    instances = [nnkit.metrics.TopKCategoricalAccuracy(k=2), nnkit.metrics.Precision(),
                 nnkit.metrics.Recall(thresholds=0.2), nnkit.metrics.TruePositives(), nnkit.metrics.FalseNegatives(),
                 nnkit.metrics.RootMeanSquaredError(), nnkit.metrics.LogCoshError(), nnkit.metrics.Accuracy(),
                 nnkit.metrics.CosineSimilarity(), nnkit.metrics.MeanSquaredLogarithmicError(),
                 nnkit.metrics.R2Score()]
    strings = ["top_k_categorical_accuracy", "precision", "recall", "true_positives", "false_negatives",
               "root_mean_squared_error", "logcosh", "cosine_similarity", "msle", "mape", "r2_score"]
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy",
                  metrics=strings if use_strings else instances)
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    y_pred = model.predict(x, verbose=0)
    references = [nnkit.metrics.get(m) if isinstance(m, str) else type(m)(**_kwargs(m))
                  for m in (strings if use_strings else instances)]
    for reference in references:
        assert logs[reference.name] == pytest.approx(_direct(reference, y, y_pred), rel=1e-5, abs=1e-6), \
            reference.name
    # fit at learning rate 0: the same values each epoch, so the stateful ones were reset between epochs
    history = model.fit(x, y, batch_size=7, epochs=2, verbose=0).history
    for reference in references:
        first, second = history[reference.name]
        assert first == pytest.approx(second, rel=1e-5, abs=1e-6), reference.name
        assert first == pytest.approx(logs[reference.name], rel=1e-5, abs=1e-6), reference.name


def _kwargs(metric):
    if isinstance(metric, nnkit.metrics.TopKCategoricalAccuracy):
        return {"k": metric.k}
    if isinstance(metric, nnkit.metrics.Recall):
        return {"thresholds": metric.init_thresholds}
    return {}


def test_compile_evaluate_logs_fscore_and_auc(backend_name, rng):
    model = nnkit.Sequential([layers.Input((5,)), layers.Dense(4, activation="softmax")])
    x = rng.normal(size=(21, 5)).astype("float32")
    y = numpy.eye(4, dtype="float32")[rng.integers(0, 4, 21)]
    # (F-scores with average=None give one value per class, which the logs, one number per metric, cannot hold)
    metrics = ["auc", nnkit.metrics.F1Score(average="macro"),
               nnkit.metrics.FBetaScore(beta=2.0, average="weighted", threshold=0.3),
               nnkit.metrics.AUC(curve="PR", multi_label=True, name="pr_auc")]
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy",
                  metrics=metrics)
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    y_pred = model.predict(x, verbose=0)
    references = {"auc": nnkit.metrics.AUC(), "f1_score": nnkit.metrics.F1Score(average="macro"),
                  "fbeta_score": nnkit.metrics.FBetaScore(beta=2.0, average="weighted", threshold=0.3),
                  "pr_auc": nnkit.metrics.AUC(curve="PR", multi_label=True)}
    for name, reference in references.items():
        assert logs[name] == pytest.approx(_direct(reference, y, y_pred), rel=1e-5, abs=1e-6), name
    per_class = nnkit.metrics.F1Score()
    per_class.update_state(y, y_pred)
    assert numpy.asarray(nnkit.backend.to_host(per_class.result())).shape == (4,)
    history = model.fit(x, y, batch_size=7, epochs=2, verbose=0).history
    for name in references:
        first, second = history[name]
        assert first == pytest.approx(second, rel=1e-5, abs=1e-6) and first == pytest.approx(logs[name], rel=1e-5,
                                                                                               abs=1e-6), name


def test_binary_accuracy_threshold_with_fused_logits(rng):
    model = nnkit.Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.integers(0, 2, (16, 1)).astype("float32")
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                  metrics=[nnkit.metrics.BinaryAccuracy(threshold=0.3)])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = float(numpy.mean((model.predict(x, verbose=0) > 0.3) == (y > 0.5)))
    assert logs["binary_accuracy"] == pytest.approx(expected)
