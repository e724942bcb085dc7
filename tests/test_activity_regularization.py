"""ActivityRegularization: the penalty joins the loss and its gradient the input's, checked in float64."""
import numpy
import pytest

import nnkit
from nnkit import backend, layers


def _model(l1, l2):
    model = nnkit.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"),
                              layers.ActivityRegularization(l1=l1, l2=l2), layers.Dense(2)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


def _reference_loss(weights, x, y, l1, l2):
    kernel, bias, kernel2, bias2 = weights
    hidden = numpy.tanh(x @ kernel + bias)
    prediction = hidden @ kernel2 + bias2
    penalty = (l1 * numpy.abs(hidden).sum() + l2 * numpy.square(hidden).sum()) / len(x)
    return numpy.mean(numpy.square(prediction - y)) + penalty


def test_loss_and_one_sgd_step_match_float64_reference(backend_name, rng):
    backend.set_floatx("float64")
    l1, l2 = 0.03, 0.05
    model = _model(l1, l2)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    weights = model.get_weights()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(_reference_loss(weights, x, y, l1, l2), rel=1e-12)
    expected = []
    for index, weight in enumerate(weights):  # central differences of the reference loss
        grad = numpy.zeros_like(weight)
        for position in numpy.ndindex(weight.shape):
            shifted = [w.copy() for w in weights]
            shifted[index][position] += 1e-6
            up = _reference_loss(shifted, x, y, l1, l2)
            shifted[index][position] -= 2e-6
            grad[position] = (up - _reference_loss(shifted, x, y, l1, l2)) / 2e-6
        expected.append(weight - 0.1 * grad)
    history = model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(_reference_loss(weights, x, y, l1, l2), rel=1e-12)
    for got, want in zip(model.get_weights(), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_is_the_identity_and_round_trips_its_config():
    layer = layers.ActivityRegularization(l1=0.5, name="act_reg")
    x = numpy.arange(6, dtype="float32").reshape(2, 3)
    numpy.testing.assert_array_equal(backend.to_host(layer(x)), x)
    twin = layers.ActivityRegularization.from_config(layer.get_config())
    assert (twin.l1, twin.l2, twin.name) == (0.5, 0.0, "act_reg")


@pytest.mark.parametrize("arguments", [{"l1": -1}, {"l2": "0.1"}, {"l1": True}, {"l2": float("nan")}])
def test_refuses_bad_factors(arguments):
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=f"ActivityRegularization: expected a finite number >= 0 for `{name}`"):
        layers.ActivityRegularization(**arguments)
