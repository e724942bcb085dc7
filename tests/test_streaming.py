"""A data set too large for the device stays on the host and is copied over batch by batch (DESIGN.md,
"The training step"); the results must not depend on where the data lived."""
import numpy

import nnkit
from nnkit import backend
from nnkit.trainer import data


def _model():
    nnkit.utils.set_random_seed(3)
    model = nnkit.Sequential([nnkit.Input(shape=(6,)), nnkit.layers.Dense(8, activation="relu"),
                              nnkit.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _train(x, y, x_val, y_val):
    model = _model()
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=(x_val, y_val), verbose=0)
    return model, history


def test_streamed_training_evaluation_and_prediction_equal_the_on_device_ones(backend_name, monkeypatch, rng):
    x = rng.standard_normal((100, 6)).astype("float32")
    y = rng.integers(0, 3, 100)
    x_val, y_val = x[:30] + 0.1, y[:30]
    resident, resident_history = _train(x, y, x_val, y_val)
    expected_prediction = resident.predict(x_val, verbose=0)
    expected_evaluation = resident.evaluate(x_val, y_val, verbose=0)

    monkeypatch.setattr(data, "fits_on_device", lambda *arrays: False)
    streamed, streamed_history = _train(x, y, x_val, y_val)
    for a, b in zip(resident.get_weights(), streamed.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        numpy.testing.assert_allclose(resident_history.history[key], streamed_history.history[key], rtol=1e-5)
    numpy.testing.assert_allclose(streamed.predict(x_val, verbose=0), expected_prediction, rtol=1e-5, atol=1e-7)
    numpy.testing.assert_allclose(streamed.evaluate(x_val, y_val, verbose=0), expected_evaluation, rtol=1e-5)


def test_a_data_set_larger_than_half_the_free_device_memory_is_streamed(monkeypatch):
    monkeypatch.setattr(backend, "free_device_bytes", lambda: 1000)
    small, large = numpy.zeros(100, numpy.uint8), numpy.zeros(200, numpy.uint8)
    # Counted in floatx (4 bytes each): 400 bytes fit under half of 1000, 800 do not.
    assert data.fits_on_device(small, None)
    assert not data.fits_on_device(large)
    assert not data.fits_on_device(small, small)


def test_the_cpu_backend_never_streams():
    with backend.use("cpu"):
        assert data.fits_on_device(numpy.zeros((10**6, 100), numpy.uint8))
