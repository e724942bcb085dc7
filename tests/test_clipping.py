"""Gradient clipping (clipnorm, clipvalue, global_clipnorm) on a deliberately exploding recurrent network:
a linear SimpleRNN whose recurrent kernel has gain 2.5, run over 16 steps, so gradients grow like 2.5**16."""
import numpy
import pytest

from nnkit import backend, initializers, optimizers
from nnkit.layers import Dense, Input, SimpleRNN
from nnkit.models import Sequential


@pytest.fixture(autouse=True)
def _cpu():
    with backend.use("cpu"):
        yield


def exploding_model(optimizer, weights=None):
    model = Sequential([Input((16, 3)), SimpleRNN(6, activation="linear",
                                                  recurrent_initializer=initializers.Orthogonal(gain=2.5)),
                        Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    if weights is not None:
        model.set_weights(weights)
    return model


def data():
    rng = numpy.random.default_rng(0)
    return rng.standard_normal((32, 16, 3)).astype("float32"), rng.standard_normal((32, 1)).astype("float32")


def one_step_update(optimizer, weights):
    """Parameters after one full-batch SGD step, minus before: ``-learning_rate * clipped gradient``."""
    model = exploding_model(optimizer, weights)
    x, y = data()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return [after - before for after, before in zip(model.get_weights(), weights)]


@pytest.fixture(scope="module")
def setup():
    backend.seed(3)
    with backend.use("cpu"):
        weights = exploding_model("sgd").get_weights()
        raw = [-d for d in one_step_update(optimizers.SGD(learning_rate=1.0), weights)]
    return weights, raw


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_the_setup_explodes(setup):
    _, raw = setup
    global_norm = numpy.sqrt(sum(float((g.astype("float64") ** 2).sum()) for g in raw))
    assert global_norm > 1e6
    weights = setup[0]
    model = exploding_model(optimizers.SGD(learning_rate=0.01), weights)
    with pytest.raises(FloatingPointError, match="diverged"):
        model.fit(*data(), batch_size=32, epochs=3, verbose=0)


def test_clipnorm_bounds_each_weight_gradient(setup):
    weights, raw = setup
    step = one_step_update(optimizers.SGD(learning_rate=1.0, clipnorm=1.0), weights)
    for delta, g in zip(step, raw):
        norm = numpy.linalg.norm(g.astype("float64"))
        expected = -g * min(1.0, 1.0 / norm)
        numpy.testing.assert_allclose(delta, expected, rtol=1e-3, atol=1e-6)
        assert numpy.linalg.norm(delta) <= 1.0 + 1e-4


def test_global_clipnorm_bounds_the_total_norm(setup):
    weights, raw = setup
    step = one_step_update(optimizers.SGD(learning_rate=1.0, global_clipnorm=2.0), weights)
    total = numpy.sqrt(sum(float((g.astype("float64") ** 2).sum()) for g in raw))
    for delta, g in zip(step, raw):
        numpy.testing.assert_allclose(delta, -g * 2.0 / total, rtol=1e-3, atol=1e-6)
    assert numpy.sqrt(sum(float((d.astype("float64") ** 2).sum()) for d in step)) == pytest.approx(2.0, rel=1e-4)


def test_clipvalue_bounds_each_entry(setup):
    weights, raw = setup
    step = one_step_update(optimizers.SGD(learning_rate=1.0, clipvalue=0.5), weights)
    for delta, g in zip(step, raw):
        numpy.testing.assert_allclose(delta, -numpy.clip(g, -0.5, 0.5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"clipvalue": 0.1}, {"global_clipnorm": 1.0}])
def test_clipped_training_stays_finite(setup, clip):
    model = exploding_model(optimizers.SGD(learning_rate=0.01, **clip), setup[0])
    history = model.fit(*data(), batch_size=8, epochs=3, verbose=0)
    assert numpy.isfinite(history.history["loss"]).all()
