"""Metrics written Keras' way (``update_state``/``result``/``reset_state`` with ``add_variable``), Mean, and the
metric trackers of a custom ``train_step`` (the Keras guides' patterns), checked against hand-computed values."""
import numpy
import pytest

import nnkit
from nnkit import layers, ops


class CategoricalTruePositives(nnkit.metrics.Metric):
    """The Keras guide's custom metric."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(ops.equal(ops.cast(ops.reshape(y_true, (-1, 1)), "int32"), ops.cast(y_pred, "int32")),
                          "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1)))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def _classifier(rng):
    model = nnkit.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    x, y = rng.normal(size=(12, 4)).astype("float32"), rng.integers(0, 3, 12)
    return model, x, y


def test_a_metric_subclass_counts_over_the_epoch_and_resets(rng):
    model, x, y = _classifier(rng)
    metric = CategoricalTruePositives()
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy",
                  metrics=[metric])
    hits = float(numpy.sum(model.predict(x, verbose=0).argmax(axis=1) == y))
    history = model.fit(x, y, batch_size=5, epochs=2, verbose=0).history  # learning rate 0: predictions fixed
    assert history["categorical_true_positives"] == [hits, hits]  # a count over the epoch, reset at each epoch
    assert model.evaluate(x, y, batch_size=4, verbose=0)[1] == hits


def test_mean_and_the_stateful_interface_of_built_in_metrics():
    mean = nnkit.metrics.Mean()
    mean.update_state(numpy.array([1.0, 2.0, 3.0]))
    mean.update_state(numpy.array([10.0]), sample_weight=numpy.array([2.0]))
    assert float(mean.result()) == pytest.approx((1 + 2 + 3 + 20) / 5)
    mean.reset_state()
    assert float(mean.result()) == 0.0
    accuracy = nnkit.metrics.SparseCategoricalAccuracy()
    accuracy.update_state(numpy.array([0, 1]), numpy.array([[0.9, 0.1], [0.8, 0.2]]))
    accuracy.update_state(numpy.array([1]), numpy.array([[0.3, 0.7]]))
    assert float(accuracy.result()) == pytest.approx(2 / 3)
    assert float(accuracy(numpy.array([0]), numpy.array([[0.1, 0.9]]))) == pytest.approx(2 / 4)


class CustomModel(nnkit.Model):
    """The Keras guide's custom train_step with its metric trackers."""

    def train_step(self, data):
        x, y = data
        with nnkit.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_a_custom_train_step_with_the_tape_trains_and_reports_as_the_built_in_one(rng):
    x, target = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    histories, models = [], []
    for cls in (CustomModel, nnkit.Model):
        nnkit.utils.set_random_seed(0)
        inputs = nnkit.Input((4,))
        model = cls(inputs, layers.Dense(2)(inputs))
        model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
        histories.append(model.fit(x, target, batch_size=4, epochs=2, shuffle=False, verbose=0).history)
        models.append(model)
    assert sorted(histories[0]) == sorted(histories[1]) == ["loss", "mae"]
    for key in ("loss", "mae"):
        numpy.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)
    for got, want in zip(models[0].get_weights(), models[1].get_weights()):  # the same steps as the built-in one
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
