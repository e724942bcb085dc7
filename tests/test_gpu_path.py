"""The GPU path end to end: CPU and GPU agree on loss and gradients, weights move between them, fit trains."""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D

pytestmark = pytest.mark.gpu

# float32 on both sides: GEMMs and reductions differ in summation order, hence the looser bound (DESIGN.md).
RTOL = 1e-3


def mlp(loss, outputs, activation):
    model = nnkit.Sequential([nnkit.Input(shape=(12,)), Dense(32, activation="relu"), Dense(16, activation="tanh"),
                              Dense(8, activation="elu"), Dense(outputs, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    return model


def cnn(loss="sparse_categorical_crossentropy"):
    model = nnkit.Sequential([nnkit.Input(shape=(9, 8, 2)), Conv2D(4, 3, padding="same", activation="relu"),
                              MaxPooling2D(2), Conv2D(6, (2, 3), strides=(1, 2), activation="relu"), Flatten(),
                              Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss=loss)
    return model


CASES = {
    "mlp sparse softmax": (lambda: mlp("sparse_categorical_crossentropy", 5, "softmax"),
                           (13, 12), lambda rng, n: rng.integers(0, 5, n)),
    "mlp one-hot softmax": (lambda: mlp("categorical_crossentropy", 5, "softmax"),
                            (13, 12), lambda rng, n: numpy.eye(5)[rng.integers(0, 5, n)]),
    "mlp sigmoid": (lambda: mlp("binary_crossentropy", 3, "sigmoid"),
                    (13, 12), lambda rng, n: (rng.random((n, 3)) > 0.5).astype(float)),
    "mlp mse": (lambda: mlp("mse", 2, "linear"), (13, 12), lambda rng, n: rng.standard_normal((n, 2))),
    "cnn": (cnn, (7, 9, 8, 2), lambda rng, n: rng.integers(0, 5, n)),
}


def loss_and_gradients(model, x, y):
    """One forward/backward pass through the public building blocks of the default train_step (the fused loss
    included): (loss, flat gradient buffer) on the host."""
    x, y = backend.to_device(x, dtype=backend.floatx()), backend.to_device(y)
    y_pred = model(x, training=True, logits=True)
    loss, y_pred_grad = model.compute_loss_and_gradients(y, y_pred, logits=True)
    model.backward(y_pred_grad)
    return float(loss), backend.to_host(model.store.grads).copy()


@pytest.mark.parametrize("case", list(CASES))
def test_cpu_and_gpu_agree_on_loss_and_gradients(case, rng):
    factory, x_shape, make_targets = CASES[case]
    x = rng.standard_normal(x_shape).astype(numpy.float32)
    y = make_targets(rng, x_shape[0])
    with backend.use("cpu"):
        cpu_model = factory()
        cpu_loss, cpu_grads = loss_and_gradients(cpu_model, x, y)
        weights = cpu_model.get_weights()
    with backend.use("gpu"):
        gpu_model = factory()
        gpu_model.build((None,) + x_shape[1:])
        gpu_model.set_weights(weights)
        gpu_loss, gpu_grads = loss_and_gradients(gpu_model, x, y)
        assert backend.is_device_array(gpu_model.store.grads)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    scale = numpy.abs(cpu_grads).max()
    assert numpy.abs(gpu_grads - cpu_grads).max() <= RTOL * scale


@pytest.mark.parametrize("train_on, predict_on", [("gpu", "cpu"), ("cpu", "gpu")])
def test_a_model_trained_on_one_backend_predicts_the_same_on_the_other(train_on, predict_on, rng):
    x = rng.standard_normal((64, 9, 8, 2)).astype(numpy.float32)
    y = rng.integers(0, 5, 64)
    with backend.use(train_on):
        trained = cnn()
        trained.fit(x, y, epochs=2, batch_size=16, verbose=0)
        expected = trained.predict(x, verbose=0)
        weights = trained.get_weights()
    with backend.use(predict_on):
        other = cnn()
        other.build((None, 9, 8, 2))
        other.set_weights(weights)
        got = other.predict(x, verbose=0)
    assert isinstance(got, numpy.ndarray)
    numpy.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-5)


def test_fit_on_gpu_trains_the_digits_end_to_end():
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    x_train = x_train.reshape(len(x_train), -1).astype(numpy.float32) / 16
    x_test = x_test.reshape(len(x_test), -1).astype(numpy.float32) / 16
    with backend.use("gpu"):
        model = nnkit.Sequential([nnkit.Input(shape=(64,)), Dense(64, activation="relu"),
                                  Dense(10, activation="softmax")])
        model.compile(optimizer=nnkit.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=20, batch_size=32, validation_split=0.1, verbose=0)
        assert backend.is_device_array(model.store.values)
        assert backend.is_device_array(model.optimizer.slots["m"])
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert accuracy > 0.85, accuracy  # the CPU path reaches about 0.89 on this small 8x8 set
    assert numpy.isfinite(loss)


def test_fit_on_gpu_with_sgd_nesterov_and_a_cnn(rng):
    x = rng.standard_normal((96, 9, 8, 2)).astype(numpy.float32)
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 0).astype(numpy.int64)  # a learnable rule
    with backend.use("gpu"):
        model = cnn()
        model.compile(optimizer=nnkit.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8
