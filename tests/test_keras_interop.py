"""Keras 3 ``.weights.h5`` files load into the same nnkit architecture and reproduce Keras' outputs.

The fixtures in tests/data were written by Keras itself (tests/data/make_keras_weights.py, Keras 3 on its
PyTorch backend); Keras is not needed to run these tests, h5py is.
"""
import os

import numpy
import pytest

import nnkit
from nnkit import layers
from nnkit.models import WeightsFileError

pytest.importorskip("h5py")
DATA = os.path.join(os.path.dirname(__file__), "data")


def mlp(hidden=16):
    return nnkit.Sequential([nnkit.Input(shape=(6,)), layers.Dense(hidden, activation="relu"), layers.Dropout(0.25),
                             layers.Dense(8, activation="tanh"), layers.Dense(3, activation="softmax")])


def test_keras_mlp_weights_reproduce_keras_outputs(backend_name):
    io = numpy.load(os.path.join(DATA, "keras_mlp_io.npz"))
    model = mlp()
    model.load_weights(os.path.join(DATA, "keras_mlp.weights.h5"))
    numpy.testing.assert_allclose(model.predict(io["x"]), io["y"], rtol=1e-5, atol=1e-6)


def test_keras_cnn_weights_reproduce_keras_outputs(backend_name):
    if not hasattr(nnkit.layers, "Conv2D"):
        pytest.skip("nnkit.layers.Conv2D is not available")
    io = numpy.load(os.path.join(DATA, "keras_cnn_io.npz"))
    model = nnkit.Sequential([
        nnkit.Input(shape=(8, 8, 2)),
        layers.Conv2D(4, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(5, (3, 3), padding="valid"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.load_weights(os.path.join(DATA, "keras_cnn.weights.h5"))
    numpy.testing.assert_allclose(model.predict(io["x"]), io["y"], rtol=1e-4, atol=1e-6)


def test_keras_weights_of_other_shapes_are_refused_and_leave_the_model_untouched():
    model = mlp(hidden=12)
    before = model.get_weights()
    with pytest.raises(WeightsFileError, match=r"layer 'dense' \(Dense\) has weights of shapes \[\(6, 16\), \(16,\)\] "
                                               r"in the file, \[\(6, 12\), \(12,\)\] in the model"):
        model.load_weights(os.path.join(DATA, "keras_mlp.weights.h5"))
    for old, new in zip(before, model.get_weights()):
        numpy.testing.assert_array_equal(old, new)


def test_keras_weights_for_fewer_layers_are_refused():
    model = nnkit.Sequential([nnkit.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dense(8),
                              layers.Dense(3), layers.Dense(3)])
    with pytest.raises(WeightsFileError, match="layer 'dense_3' \\(Dense\\) is not in the file"):
        model.load_weights(os.path.join(DATA, "keras_mlp.weights.h5"))


def test_keras_weights_for_more_layers_are_refused():
    model = nnkit.Sequential([nnkit.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dense(8)])
    with pytest.raises(WeightsFileError, match="the file has weights for layers the model lacks: dense_2"):
        model.load_weights(os.path.join(DATA, "keras_mlp.weights.h5"))


def test_an_hdf5_file_that_is_not_a_keras_3_weights_file_is_named_as_such(tmp_path):
    import h5py
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["model_weights/dense/kernel"] = numpy.zeros((6, 16))
    with pytest.raises(WeightsFileError, match="not a Keras 3 weights file"):
        mlp().load_weights(path)
