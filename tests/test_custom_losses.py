"""Losses and metrics written as functions of ``nnkit.ops`` (or a Loss subclass with ``call``): the gradient comes
from the traced ops. Checked against the built-in losses and hand-computed values."""
import numpy
import pytest

import nnkit
from nnkit import layers, ops


def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


class Huberish(nnkit.losses.Loss):
    """A Loss subclass the Keras way: ``call`` with ops; ``delta`` as an attribute."""

    def __init__(self, delta=1.0, name="huberish"):
        super().__init__(name=name)
        self.delta = delta

    def call(self, y_true, y_pred):
        error = ops.abs(y_pred - y_true)
        quadratic = ops.minimum(error, self.delta)
        return ops.mean(0.5 * ops.square(quadratic) + self.delta * (error - quadratic), axis=-1)


def _models(rng, loss_a, loss_b, outputs=2):
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, outputs)).astype("float32")
    models = []
    for loss in (loss_a, loss_b):
        model = nnkit.Sequential([layers.Input((4,)), layers.Dense(outputs)])
        if models:
            model.set_weights(models[0].get_weights())
        model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss=loss)
        models.append(model)
    return models, x, y


def test_a_loss_function_trains_exactly_as_the_built_in_loss(backend_name, rng):
    (custom, built_in), x, y = _models(rng, my_mse, "mse")
    histories = [m.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"] for m in (custom, built_in)]
    numpy.testing.assert_allclose(histories[0], histories[1], rtol=1e-6)
    for got, want in zip(custom.get_weights(), built_in.get_weights()):
        numpy.testing.assert_allclose(got, want, rtol=1e-6)


def test_sample_weights_scale_a_function_loss_per_sample(rng):
    (custom, built_in), x, y = _models(rng, my_mse, "mse")
    weights = rng.random(8).astype("float32")
    for model in (custom, built_in):
        model.fit(x, y, sample_weight=weights, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(custom.get_weights(), built_in.get_weights()):
        numpy.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_loss_subclass_with_call_matches_a_hand_computed_value():
    loss = Huberish(delta=1.0)
    y_true = numpy.array([[0.0, 0.0]], "float32")
    y_pred = numpy.array([[0.5, 3.0]], "float32")
    # 0.5 * 0.5**2 = 0.125 and 0.5 * 1 + (3 - 1) = 2.5, averaged over the two outputs
    assert loss(y_true, y_pred) == pytest.approx((0.125 + 2.5) / 2)


def test_a_metric_function_is_reported_under_its_name(rng):
    def mean_error(y_true, y_pred):
        return ops.mean(y_pred - y_true, axis=-1)

    (model, _), x, y = _models(rng, "mse", "mse")
    model.compile(optimizer="sgd", loss="mse", metrics=[mean_error])
    kernel, bias = model.get_weights()
    expected = float(numpy.mean(x @ kernel + bias - y))
    loss, value = model.evaluate(x, y, batch_size=8, verbose=0)
    assert value == pytest.approx(expected, rel=1e-5)
    assert "mean_error" in model.fit(x, y, epochs=1, verbose=0).history


def test_a_model_compiled_with_a_function_loss_saves_and_says_how_to_load(rng, tmp_path):
    (model, _), x, y = _models(rng, my_mse, "mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "custom.nnkit")
    with pytest.raises(ValueError, match="loss function 'my_mse'.*compile=False"):
        nnkit.models.load_model(tmp_path / "custom.nnkit")
    loaded = nnkit.models.load_model(tmp_path / "custom.nnkit", compile=False)
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
