"""TensorBoard: the event files, read back with TensorBoard's own EventAccumulator, hold Keras' runs, tags and
steps (from Keras 3's callback source) with the values fit logged; without the package, a clear ImportError."""
import json
import os
import sys

import numpy
import pytest

import nnkit
from nnkit import layers
from nnkit.callbacks import LambdaCallback, TensorBoard

EPOCHS = 3  # 80 samples, validation_split=0.2, batch_size=16: 4 steps per epoch, 12 in all


def data():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(80, 3)).astype("float32")
    return x, x[:, :1] * 2 - x[:, 1:2]


def regression_model():
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def read(folder):
    """``{tag: [(step, value array)]}`` of the event files in ``folder``, through TensorBoard's reader."""
    accumulator_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.util import tensor_util
    accumulator = accumulator_module.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {tag: [(event.step, tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]
            for tag in accumulator.Tags()["tensors"]}


def scalars(events, tag):
    return [(step, float(value)) for step, value in events[tag]]


def as_float32(values):
    return [float(numpy.float32(value)) for value in values]  # event files hold float32 scalars, as Keras'


@pytest.fixture
def trained(tmp_path):
    pytest.importorskip("tensorboard")
    model = regression_model()
    batch_logs = {}
    step = iter(range(1, 100))
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: batch_logs.update({next(step): dict(logs)}))
    history = model.fit(*data(), epochs=EPOCHS, batch_size=16, validation_split=0.2, verbose=0, callbacks=[
        record, TensorBoard(str(tmp_path), update_freq=5, histogram_freq=2, write_steps_per_second=True)])
    return model, history, batch_logs, read(tmp_path / "train"), read(tmp_path / "validation")


def test_epoch_scalars_go_to_train_and_validation_as_keras_names_them(trained):
    _, history, _, train, validation = trained
    epochs = list(range(EPOCHS))
    for name in ("loss", "mae"):
        assert scalars(train, f"epoch_{name}") == list(zip(epochs, as_float32(history.history[name])))
        assert scalars(validation, f"epoch_{name}") == list(zip(epochs, as_float32(history.history[f"val_{name}"])))
    assert scalars(train, "epoch_learning_rate") == list(zip(epochs, as_float32([0.05] * EPOCHS)))
    assert [step for step, _ in train["epoch_steps_per_second"]] == epochs
    assert all(value > 0 for _, value in scalars(train, "epoch_steps_per_second"))


def test_every_evaluation_is_logged_against_the_optimizer_iterations(trained):
    _, history, _, _, validation = trained
    assert scalars(validation, "evaluation_loss_vs_iterations") == list(zip([4, 8, 12],
                                                                            as_float32(history.history["val_loss"])))


def test_batch_scalars_every_update_freq_steps_counted_across_epochs(trained):
    _, _, batch_logs, train, _ = trained
    for name in ("loss", "mae"):
        assert scalars(train, f"batch_{name}") == [(step, float(numpy.float32(batch_logs[step][name])))
                                                   for step in (5, 10)]
    assert [step for step, _ in train["batch_steps_per_second"]] == [5, 10]


def test_weight_histograms_every_histogram_freq_epochs(trained):
    model, _, _, train, _ = trained
    kernel = model.get_weights()[0]
    histograms = train[f"{model.name}/dense/kernel/histogram"]
    assert [step for step, _ in histograms] == [0, 2]  # epochs 0 and 2; the last is of the final weights
    buckets = histograms[-1][1]  # (bucket, [left edge, right edge, count])
    assert buckets[:, 2].sum() == kernel.size
    assert buckets[0, 0] == pytest.approx(kernel.min()) and buckets[-1, 1] == pytest.approx(kernel.max())
    assert {tag for tag in train if tag.endswith("/histogram")} == {
        f"{model.name}/{layer}/{weight}/histogram" for layer in ("dense", "dense_1") for weight in ("kernel", "bias")}


def test_the_model_config_is_written_for_the_graph_view(trained):
    model, _, _, train, _ = trained
    [(step, text)] = train["keras"]
    config = json.loads(text.item())
    assert step == 0 and config["class_name"] == "Sequential"
    assert [layer["config"]["units"] for layer in config["config"]["layers"]] == [4, 1]
    from tensorboard.plugins.graph.keras_util import keras_model_to_graph_def  # what TensorBoard draws it with
    graph = keras_model_to_graph_def(config)
    first, second = (f"{model.name}/{layer.name}" for layer in model.layers)
    assert [(node.name, list(node.input)) for node in graph.node] == [(first, []), (second, [first])]


def test_no_graph_is_written_for_a_functional_model(tmp_path):
    pytest.importorskip("tensorboard")
    inputs = nnkit.Input(shape=(3,))
    model = nnkit.Model(inputs, layers.Dense(1)(layers.Dense(4)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*data(), epochs=1, verbose=0, callbacks=[TensorBoard(str(tmp_path))])
    assert "keras" not in read(tmp_path / "train") and "epoch_loss" in read(tmp_path / "train")


def test_evaluate_with_the_callback_logs_its_results(tmp_path):
    pytest.importorskip("tensorboard")
    model = regression_model()
    model.fit(*data(), epochs=1, batch_size=16, verbose=0)
    loss, mae = model.evaluate(*data(), verbose=0, callbacks=[TensorBoard(str(tmp_path), write_graph=False)])
    validation = read(tmp_path / "validation")
    assert scalars(validation, "evaluation_loss_vs_iterations") == [(5, float(numpy.float32(loss)))]
    assert scalars(validation, "evaluation_mae_vs_iterations") == [(5, float(numpy.float32(mae)))]
    assert not os.path.exists(tmp_path / "train")


@pytest.mark.parametrize("arguments, message", [
    ({"update_freq": 0}, "update_freq must be 'epoch', 'batch' or a positive integer"),
    ({"update_freq": "step"}, "update_freq must be"),
    ({"histogram_freq": -1}, "histogram_freq must be a non-negative integer"),
    ({"write_images": True}, "write_images=True is not supported"),
    ({"profile_batch": 5}, "profile_batch=5 is not supported"),
    ({"embeddings_freq": 1}, "embeddings_freq=1 is not supported"),
])
def test_bad_or_unsupported_arguments_are_refused(arguments, message):
    pytest.importorskip("tensorboard")
    with pytest.raises(ValueError, match=message):
        TensorBoard(**arguments)


def test_without_the_tensorboard_package_the_error_names_the_extra(monkeypatch):
    for name in [name for name in sys.modules if name == "tensorboard" or name.startswith("tensorboard.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'with the tensorboard package.*pip install "nnkit-keras\[tensorboard\]"'):
        TensorBoard("logs")
