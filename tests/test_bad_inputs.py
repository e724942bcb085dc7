"""Bad input raises a clear error naming what was expected and what came, and leaves the model untouched."""
import numpy
import pytest

import nnkit
from nnkit.layers import Dense, Input


@pytest.fixture
def model():
    model = nnkit.Sequential([Input(shape=(4,)), Dense(6, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def data(rng):
    return rng.standard_normal((10, 4)).astype(numpy.float32), rng.integers(0, 3, 10)


def _unchanged(model, before):
    return all(numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_wrong_feature_count(model, data):
    x, y = data
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 4\), but x has shape \(10, 5\)"):
        model.fit(numpy.ones((10, 5)), y, verbose=0)
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 4\), but x has shape \(10, 4, 1\)"):
        model.predict(numpy.ones((10, 4, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"validation.*\(None, 4\).*\(3, 2\)|\(None, 4\).*\(3, 2\)"):
        model.fit(x, y, validation_data=(numpy.ones((3, 2)), y[:3]), verbose=0)
    assert _unchanged(model, before)


def test_wrong_feature_count_after_inferred_build(rng):
    model = nnkit.Sequential([Dense(2)])
    model.predict(rng.standard_normal((3, 4)), verbose=0)
    with pytest.raises(ValueError, match=r"\(None, 4\).*\(3, 7\)"):
        model.predict(rng.standard_normal((3, 7)), verbose=0)


def test_layer_names_itself_on_a_shape_mismatch():
    layer = Dense(2, name="hidden")
    layer.build_for((None, 4))
    with pytest.raises(ValueError, match=r"Layer 'hidden' \(Dense\) expects inputs with last dimension 4, but "
                                         r"received input of shape \(3, 6\)"):
        layer(numpy.ones((3, 6)))


def test_y_length_mismatch(model, data):
    x, y = data
    with pytest.raises(ValueError, match="x and y must have the same number of samples: x has 10, y has 9 samples"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match="x has 10, y has a scalar"):
        model.evaluate(x, 1, verbose=0)


def test_targets_that_do_not_fit_the_loss(data):
    x, y = data
    model = nnkit.Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"targets of shape \(10,\) do not match the model output of shape \(None, 3\)"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expected integer labels of shape \(None,\).*\(10, 3\).*categorical_crossentropy"):
        model.fit(x, nnkit.utils.to_categorical(y, 3), verbose=0)


@pytest.mark.parametrize("family, call, known", [
    ("optimizer", lambda: nnkit.Sequential([Dense(1)]).compile(optimizer="adamx", loss="mse"),
     ["adagrad", "adam", "adamw", "rmsprop", "sgd"]),
    ("loss", lambda: nnkit.Sequential([Dense(1)]).compile(optimizer="sgd", loss="mean_squared"),
     ["binary_crossentropy", "categorical_crossentropy", "mae", "mean_absolute_error", "mean_squared_error", "mse",
      "sparse_categorical_crossentropy"]),
    ("activation", lambda: Dense(1, activation="relu6x"),
     ["elu", "gelu", "leaky_relu", "linear", "relu", "sigmoid", "softmax", "softplus", "tanh"]),
    ("initializer", lambda: Dense(1, kernel_initializer="xavier_uniform"),
     ["glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "ones", "random_normal",
      "random_uniform", "zeros"]),
    ("regularizer", lambda: Dense(1, kernel_regularizer="l3"), ["l1", "l1_l2", "l2"]),
    ("metric", lambda: nnkit.Sequential([Dense(1)]).compile(optimizer="sgd", loss="mse", metrics=["acuracy"]),
     ["accuracy", "binary_accuracy", "categorical_accuracy", "mae", "mse", "sparse_categorical_accuracy"]),
])
def test_unknown_names_list_the_known_ones(family, call, known):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert f"Unknown {family} '" in message
    for name in known:
        assert name in message, (name, message)


@pytest.mark.parametrize("where", ["x", "y"])
@pytest.mark.parametrize("bad", [numpy.nan, numpy.inf])
def test_nan_or_inf_in_the_data(where, bad, rng):
    x = rng.standard_normal((10, 4))
    y = rng.standard_normal((10, 2))
    (x if where == "x" else y)[3, 1] = bad
    (x if where == "x" else y)[7, 0] = bad
    model = nnkit.Sequential([Input(shape=(4,)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"{where} contains NaN or Inf \(first at sample 3, 2 samples affected\)"):
        model.fit(x, y, verbose=0)
    assert _unchanged(model, before)


def test_nan_in_validation_data(model, data):
    x, y = data
    x_val = x.copy()
    x_val[0, 0] = numpy.nan
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        model.fit(x, y, validation_data=(x_val, y), verbose=0)


def test_labels_out_of_range(model, data):
    x, y = data
    y = y.copy()
    y[4] = 3
    with pytest.raises(ValueError, match=r"label 3 is out of range; the model has 3 outputs, so labels must lie "
                                         r"in \[0, 2\]"):
        model.fit(x, y, verbose=0)
    y[4] = -1
    with pytest.raises(ValueError, match="label -1 is out of range"):
        model.evaluate(x, y, verbose=0)


def test_non_integer_labels(model, data):
    x, y = data
    with pytest.raises(ValueError, match="labels must be integers; received non-integer values"):
        model.fit(x, y + 0.5, verbose=0)
    model.fit(x, y.astype(numpy.float32), verbose=0)  # integral floats are fine, as in Keras


def test_wrong_dtypes(model, data):
    x, y = data
    with pytest.raises(TypeError, match="x must hold numbers; received dtype <U"):
        model.fit(numpy.full((10, 4), "a"), y, verbose=0)
    with pytest.raises(TypeError, match="y must hold numbers; received dtype object"):
        model.fit(x, numpy.array([None] * 10), verbose=0)
    with pytest.raises(TypeError, match="x must hold numbers; received dtype complex"):
        model.predict(x.astype(numpy.complex64), verbose=0)


def test_bad_arguments(model, data):
    x, y = data
    with pytest.raises(ValueError, match="Received: epochs=0"):
        model.fit(x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\). Received: validation_split=1.5"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves no samples"):
        model.fit(x, y, validation_split=0.95, verbose=0)
    with pytest.raises(TypeError, match="callbacks must be nnkit.callbacks.Callback objects"):
        model.fit(x, y, callbacks=[print], verbose=0)


def test_divergence_is_reported(data):
    x, _ = data
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1e6), loss="mse")
    with pytest.raises(FloatingPointError, match="training diverged.*clipnorm"):
        with numpy.errstate(all="ignore"):
            model.fit(x * 1e3, numpy.ones(10), epochs=20, verbose=0)


def test_running_out_of_memory_in_a_step_names_the_batch_size_and_a_remedy(monkeypatch):
    model = nnkit.Sequential([nnkit.Input(shape=(4,)), nnkit.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")

    def exhausted(*args, **kwargs):
        raise MemoryError("cannot allocate 12 GiB")
    monkeypatch.setattr(model, "train_step", exhausted)
    with pytest.raises(MemoryError, match=r"Out of CPU memory while a training step \(batch_size=16\).*smaller batch_size"):
        model.fit(numpy.ones((32, 4)), numpy.zeros(32, dtype=int), batch_size=16, verbose=0)


def test_divergence_still_ends_the_callbacks_so_a_csv_log_is_closed(data, tmp_path):
    x, _ = data
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1e6), loss="mse")
    ended = []
    logger = nnkit.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    watcher = nnkit.callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(True))
    with pytest.raises(FloatingPointError):
        with numpy.errstate(all="ignore"):
            model.fit(x * 1e3, numpy.ones(10), epochs=20, verbose=0, callbacks=[logger, watcher])
    assert ended == [True]
    assert (tmp_path / "log.csv").read_text().startswith("epoch")
