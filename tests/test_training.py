"""End-to-end training: linear regression recovers its weights, an MLP learns two non-linear problems,
and an MLP reaches > 90 % test accuracy on the bundled digits."""
import numpy
import pytest

import nnkit
from nnkit.layers import Dense, Dropout, Flatten, Input


def test_linear_regression_recovers_weights(backend_name):
    rng = numpy.random.default_rng(0)
    true_w, true_b = numpy.array([[2.0], [-3.5], [0.5]]), 1.25
    x = rng.standard_normal((512, 3)).astype(numpy.float32)
    y = x @ true_w + true_b + 0.01 * rng.standard_normal((512, 1))
    model = nnkit.Sequential([Input(shape=(3,)), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    kernel, bias = model.get_weights()
    numpy.testing.assert_allclose(kernel, true_w, atol=0.01)
    assert bias[0] == pytest.approx(true_b, abs=0.01)
    assert history.history["loss"][-1] < 2e-4  # the noise variance is 1e-4


def _two_moons(rng, n):
    """Two interleaved half circles (not linearly separable), with a little noise."""
    angle = rng.uniform(0, numpy.pi, n)
    label = rng.integers(0, 2, n)
    x = numpy.where(label[:, None] == 0,
                    numpy.stack([numpy.cos(angle), numpy.sin(angle)], axis=1),
                    numpy.stack([1 - numpy.cos(angle), 0.5 - numpy.sin(angle)], axis=1))
    return (x + 0.1 * rng.standard_normal((n, 2))).astype(numpy.float32), label


def test_mlp_learns_two_moons(backend_name):
    rng = numpy.random.default_rng(1)
    nnkit.utils.set_random_seed(1)
    x, y = _two_moons(rng, 1000)
    x_test, y_test = _two_moons(rng, 500)
    model = nnkit.Sequential([Input(shape=(2,)), Dense(32, activation="tanh"), Dense(32, activation="relu"),
                              Dense(1, activation="sigmoid")])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.97
    # a linear classifier cannot: about 88 % at best on this data
    linear = nnkit.Sequential([Input(shape=(2,)), Dense(1, activation="sigmoid")])
    linear.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                   metrics=["accuracy"])
    linear.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert linear.evaluate(x_test, y_test, verbose=0)[1] < 0.92


def test_mlp_learns_xor_with_one_hot_targets(backend_name):
    rng = numpy.random.default_rng(2)
    nnkit.utils.set_random_seed(2)
    x = rng.uniform(-1, 1, (800, 2)).astype(numpy.float32)
    labels = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(int)
    model = nnkit.Sequential([Input(shape=(2,)), Dense(16, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer=nnkit.optimizers.RMSprop(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, nnkit.utils.to_categorical(labels, 2), epochs=60, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95


def test_mlp_digits_above_90_percent(backend_name):
    """The test images come from other writers than the training ones (1-NN on pixels: 95.6 %)."""
    nnkit.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    model = nnkit.Sequential([Input(shape=(8, 8)), Flatten(), Dense(256, activation="relu"), Dropout(0.5),
                              Dense(10, activation="softmax")])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train / 16.0, y_train, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.97
    loss, accuracy = model.evaluate(x_test / 16.0, y_test, verbose=0)
    assert accuracy > 0.9
