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


def two_heads():
    """The functional model of make_keras_weights.py: a shared layer, Concatenate, a residual Add, two outputs."""
    a, b = nnkit.Input(shape=(6,), name="a"), nnkit.Input(shape=(6,), name="b")
    shared = layers.Dense(8, activation="tanh", name="shared")
    h = layers.Concatenate(name="concat")([shared(a), shared(b)])
    h2 = layers.Add(name="add")([h, layers.Dense(16, activation="relu", name="res")(h)])
    outputs = [layers.Dense(3, activation="softmax", name="cls")(h2), layers.Dense(1, name="reg")(h2)]
    return nnkit.Model(inputs=[a, b], outputs=outputs, name="two_heads")


def test_keras_functional_weights_reproduce_keras_outputs(backend_name):
    io = numpy.load(os.path.join(DATA, "keras_functional_io.npz"))
    model = two_heads()
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "concat", "res", "add", "cls", "reg"]
    model.load_weights(os.path.join(DATA, "keras_functional.weights.h5"))
    y_cls, y_reg = model.predict([io["xa"], io["xb"]], verbose=0)
    numpy.testing.assert_allclose(y_cls, io["y_cls"], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(y_reg, io["y_reg"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_keras_functional_one_step_matches_keras_logs_and_weights(optimizer, backend_name):
    """One train_on_batch with per-output losses, loss_weights and metrics: Keras' logs (computed before the
    update; ``loss`` weighted, ``cls_loss``/``reg_loss`` not) and Keras' weights after the step."""
    io = numpy.load(os.path.join(DATA, "keras_functional_io.npz"))
    model = two_heads()
    model.set_weights([io[f"start_weights_{i}"] for i in range(8)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1) if optimizer == "sgd"
                  else nnkit.optimizers.Adam(learning_rate=0.01),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    logs = model.train_on_batch([io["xa"], io["xb"]], {"cls": io["labels"], "reg": io["targets"]}, return_dict=True)
    assert sorted(logs) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    for key, value in logs.items():
        assert value == pytest.approx(float(io[f"{optimizer}_logs_{key}"]), rel=1e-5), key
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, io[f"{optimizer}_weights_{i}"], rtol=1e-4, atol=1e-6)
    values = model.evaluate([io["xa"], io["xb"]], [io["labels"], io["targets"]], verbose=0)
    assert len(values) == 4  # [loss, cls_loss, reg_loss, cls_accuracy], Keras' order


def test_keras_nested_sequential_weights_reproduce_keras_outputs(backend_name):
    io = numpy.load(os.path.join(DATA, "keras_nested_io.npz"))
    encoder = nnkit.Sequential([nnkit.Input(shape=(6,)), layers.Dense(8, activation="relu"), layers.Dense(4)],
                               name="encoder")
    inputs = nnkit.Input(shape=(6,))
    model = nnkit.Model(inputs, layers.Dense(2, activation="softmax")(encoder(inputs)))
    model.load_weights(os.path.join(DATA, "keras_nested.weights.h5"))
    numpy.testing.assert_allclose(model.predict(io["x"], verbose=0), io["y"], rtol=1e-5, atol=1e-6)


def test_functional_summary_is_keras_table():
    """Keras 3 printed this table for the same model (tests/data/keras_functional_info.json)."""
    import json
    with open(os.path.join(DATA, "keras_functional_info.json")) as handle:
        expected = json.load(handle)["summary"].strip("\n").splitlines()
    lines = []
    two_heads().summary(print_fn=lines.append)
    assert lines == expected
