"""compile(weighted_metrics=...): each sample counts by its sample_weight (Keras' weighted mean), under Keras' log
names (``weighted_<name>`` where an unweighted metric has the name). Expected values are float64 formulas."""
import numpy
import pytest

import nnkit
from nnkit.layers import Dense


@pytest.fixture
def data():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32")[:, None], numpy.linspace(0.1, 2.0, 20)


def _model(**compile_arguments):
    nnkit.utils.set_random_seed(3)
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", **compile_arguments)
    return model


def test_weighted_metrics_weigh_each_sample_and_take_keras_names(data):
    x, y, w = data
    model = _model(metrics=["accuracy"], weighted_metrics=["accuracy", "mse"])
    logs = model.evaluate(x, y, sample_weight=w, batch_size=8, return_dict=True, verbose=0)
    assert sorted(logs) == ["accuracy", "loss", "mse", "weighted_accuracy"]  # Keras 3.15's keys for this compile
    p = model.predict(x, verbose=0).astype(numpy.float64)
    hits = ((p > 0.5) == (y > 0.5)).astype(numpy.float64)[:, 0]
    assert logs["accuracy"] == pytest.approx(hits.mean(), abs=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx((hits * w).sum() / w.sum(), abs=1e-6)
    assert logs["mse"] == pytest.approx((((p - y) ** 2)[:, 0] * w).sum() / w.sum(), rel=1e-5)


def test_without_sample_weight_a_weighted_metric_is_the_plain_mean(data):
    x, y, _ = data
    logs = _model(weighted_metrics=["mae"]).evaluate(x, y, return_dict=True, verbose=0)
    p = _model().predict(x, verbose=0).astype(numpy.float64)
    assert logs["mae"] == pytest.approx(numpy.abs(p - y).mean(), rel=1e-5)


def test_class_weight_weighs_the_weighted_metrics_in_fit(data):
    x, y, _ = data
    seen = {}
    model = _model(weighted_metrics=["accuracy"])
    probe = nnkit.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.setdefault(
        "p", model.predict_on_batch(x).astype(numpy.float64)))
    history = model.fit(x, y, class_weight={0: 1.0, 1: 3.0}, batch_size=20, epochs=1, verbose=0, callbacks=[probe])
    weights = numpy.where(y[:, 0] > 0.5, 3.0, 1.0)
    hits = ((seen["p"] > 0.5) == (y > 0.5))[:, 0]
    assert history.history["accuracy"][0] == pytest.approx((hits * weights).sum() / weights.sum(), abs=1e-6)


def test_a_weighted_metric_that_cannot_weigh_samples_says_so():
    per_batch = nnkit.metrics.MeanMetricWrapper(lambda y_true, y_pred: (y_pred - y_true).mean(), name="batch_mean")
    with pytest.raises(ValueError, match="'batch_mean'.*cannot be weighted per sample"):
        per_batch.update_state(numpy.zeros((4, 1)), numpy.ones((4, 1)), sample_weight=numpy.ones(4))


def test_weighted_metrics_must_be_a_list():
    with pytest.raises(TypeError, match="compile\\(weighted_metrics=...\\) expects a list"):
        _model(weighted_metrics="accuracy")


def test_weighted_metrics_survive_a_model_file(tmp_path, data):
    x, y, w = data
    model = _model(weighted_metrics=["accuracy"])
    model.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    model.save(tmp_path / "m.nnkit")
    loaded = nnkit.models.load_model(tmp_path / "m.nnkit")
    assert loaded.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0) == pytest.approx(
        model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0))
