"""Sequential: the ways to give the input shape, compile / fit / evaluate / predict, History, summary,
the progress display (verbose 0 / 1 / 2 / 'auto'), validation, weights and the flat parameter buffer."""
import io
import re
import warnings

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.callbacks import Callback
from nnkit.layers import Dense, Dropout, Flatten, Input


def _blobs(rng, n=120, features=4, classes=3):
    """Separable clusters: class c sits around 3 * e_c."""
    labels = rng.integers(0, classes, n)
    x = rng.standard_normal((n, features)) * 0.5
    x[numpy.arange(n), labels] += 3.0
    return x.astype(numpy.float32), labels


def _classifier(first=None, classes=3):
    first = first or Input(shape=(4,))
    return nnkit.Sequential([first, Dense(8, activation="relu"), Dense(classes, activation="softmax")])


# ---- building ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["Input", "input_shape", "input_dim", "batch_input_shape"])
def test_input_shape_given_up_front_builds_without_warnings(how):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if how == "Input":
            model = nnkit.Sequential([Input(shape=(4,)), Dense(8), Dense(3)])
        else:
            argument = {"input_shape": (4,), "input_dim": 4, "batch_input_shape": (None, 4)}[how]
            model = nnkit.Sequential([Dense(8, **{how: argument}), Dense(3)])
    assert model.built
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3


def test_input_shape_inferred_from_first_batch(backend_name, rng):
    x, y = _blobs(rng)
    model = nnkit.Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    assert not model.built
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.input_shape == (None, 4)
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 3), (3,)]


def test_add_and_pop():
    model = nnkit.Sequential()
    model.add(Input(shape=(5,)))
    model.add(Dense(4))
    model.add(Dense(2))
    assert [layer.output_shape for layer in model.layers] == [(None, 4), (None, 2)]
    popped = model.pop()
    assert isinstance(popped, Dense) and model.output_shape == (None, 4)
    with pytest.raises(ValueError, match="Input.*first entry"):
        model.add(Input(shape=(3,)))
    with pytest.raises(TypeError, match="expects a layer"):
        model.add("dense")


def test_build_without_shape_is_clear():
    with pytest.raises(ValueError, match="input shape is unknown"):
        nnkit.Sequential([Dense(3)]).build()


def test_predict_before_compile_and_on_unbuilt_model(backend_name, rng):
    backend.set_floatx("float64")
    model = nnkit.Sequential([Dense(3, activation="tanh")])
    x = rng.standard_normal((5, 2))
    out = model.predict(x, verbose=0)
    kernel, bias = model.get_weights()
    assert isinstance(out, numpy.ndarray)
    numpy.testing.assert_allclose(out, numpy.tanh(x @ kernel + bias), rtol=1e-12)


# ---- compile / fit / evaluate / predict --------------------------------------------------------------
def test_fit_returns_history_with_keras_keys(backend_name, rng):
    x, y = _blobs(rng)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2]
    assert all(len(values) == 3 for values in history.history.values())
    assert all(isinstance(v, float) for values in history.history.values() for v in values)
    assert model.history is history


def test_evaluate_matches_float64_computation(backend_name, rng):
    backend.set_floatx("float64")
    x, y = _blobs(rng, n=50)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights = model.get_weights()
    hidden = numpy.maximum(x @ weights[0] + weights[1], 0)
    logits = hidden @ weights[2] + weights[3]
    p = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected_loss = -numpy.mean(numpy.log(p[numpy.arange(len(y)), y]))
    expected_accuracy = numpy.mean(p.argmax(axis=1) == y)
    loss, accuracy = model.evaluate(x, y, batch_size=7, verbose=0)
    assert loss == pytest.approx(expected_loss, rel=1e-10)
    assert accuracy == pytest.approx(expected_accuracy)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"accuracy": pytest.approx(expected_accuracy),
                                                                  "loss": pytest.approx(expected_loss, rel=1e-10)}
    numpy.testing.assert_allclose(model.predict(x, batch_size=9, verbose=0), p, rtol=1e-10)


def test_evaluate_without_metrics_returns_a_float(backend_name, rng):
    model = nnkit.Sequential([Input(shape=(2,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.evaluate(rng.standard_normal((4, 2)), rng.standard_normal(4), verbose=0), float)


@pytest.mark.parametrize("loss, targets, expected_metric", [
    ("sparse_categorical_crossentropy", "labels", nnkit.metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", "one_hot", nnkit.metrics.CategoricalAccuracy),
    ("binary_crossentropy", "binary", nnkit.metrics.BinaryAccuracy),
])
def test_accuracy_is_picked_as_keras_does(loss, targets, expected_metric, backend_name, rng):
    x, labels = _blobs(rng, n=40)
    y = {"labels": labels, "one_hot": nnkit.utils.to_categorical(labels, 3),
         "binary": (labels == 0).astype(float)[:, None]}[targets]
    classes = 1 if targets == "binary" else 3
    model = nnkit.Sequential([Input(shape=(4,)), Dense(classes, activation="sigmoid" if classes == 1 else "softmax")])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    assert type(model.compiled.metrics[0][0]) is expected_metric
    probabilities = model.predict(x, verbose=0)
    if classes == 1:
        expected = numpy.mean((probabilities[:, 0] > 0.5) == (y[:, 0] > 0.5))
    else:
        expected = numpy.mean(probabilities.argmax(axis=1) == labels)
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(expected)


def test_regression_metrics(backend_name, rng):
    backend.set_floatx("float64")
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    model = nnkit.Sequential([Input(shape=(3,)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
    kernel, bias = model.get_weights()
    residual = x @ kernel + bias - y
    loss, mae, mse = model.evaluate(x, y, verbose=0)
    assert mae == pytest.approx(numpy.abs(residual).mean()) and mse == pytest.approx((residual ** 2).mean())
    assert loss == pytest.approx((residual ** 2).mean())


def test_output_metrics_alongside_a_fused_loss(backend_name, rng):
    """mae on a sigmoid + binary cross-entropy model is measured on probabilities, not logits."""
    backend.set_floatx("float64")
    x = rng.standard_normal((20, 3))
    y = (x[:, :1] > 0).astype(float)
    model = nnkit.Sequential([Input(shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["mae"])
    model.fit(x, y, epochs=1, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(numpy.abs(model.predict(x, verbose=0) - y).mean())


def test_validation_split_takes_the_last_samples_before_shuffling(backend_name, rng):
    x, y = _blobs(rng, n=100)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=10, validation_split=0.2, verbose=0)
    loss, accuracy = model.evaluate(x[80:], y[80:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_validation_data(backend_name, rng):
    x, y = _blobs(rng, n=60)
    x_val, y_val = _blobs(rng, n=30)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, validation_data=(x_val, y_val), verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x_val, y_val, verbose=0)[0], rel=1e-5)
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        model.fit(x, y, epochs=1, validation_data=x_val, verbose=0)


def test_training_loss_is_running_mean_of_batches(backend_name, rng):
    """The epoch's `loss` is the sample-weighted mean of the batch losses, as Keras reports it."""
    x, y = _blobs(rng, n=25)
    batch_losses = []

    class Recorder(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batch_losses.append(logs["loss"])

    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[Recorder()])
    # running means after 10, 20, 25 samples
    assert len(batch_losses) == 3
    assert history.history["loss"][0] == pytest.approx(batch_losses[-1])


def test_compile_and_fit_errors(rng):
    x, y = _blobs(rng, n=10)
    model = _classifier()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="needs a loss"):
        model.compile(optimizer="adam")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="Received: verbose=3"):
        model.fit(x, y, verbose=3)
    with pytest.raises(ValueError, match="no layers"):
        empty = nnkit.Sequential()
        empty.compile(loss="mse")
        empty.fit(x, y, verbose=0)


# ---- summary ---------------------------------------------------------------------------------------------
def test_summary_table():
    model = nnkit.Sequential([Input(shape=(8, 8)), Flatten(), Dense(32, activation="relu"), Dropout(0.2),
                              Dense(10, activation="softmax")], name="digits")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "digits"'
    assert re.search(r"┃ Layer \(type\) +┃ Output Shape +┃ +Param # ┃", text)
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 4
    expected = [("Flatten", "(None, 64)", "0"), ("Dense", "(None, 32)", "2,080"), ("Dropout", "(None, 32)", "0"),
                ("Dense", "(None, 10)", "330")]
    for row, (kind, shape, count) in zip(rows, expected):
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[0].endswith(f"({kind})") and cells[1] == shape and cells[2] == count
    assert len({len(line) for line in lines[1:-3]}) == 1  # a rectangular table
    assert " Total params: 2,410 (9.41 KB)" in lines
    assert " Trainable params: 2,410 (9.41 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


# ---- progress display --------------------------------------------------------------------------------------
PROGBAR_END = re.compile(r"^\s*(\d+)/\1 ━{20} \d+s \d+(?:s|ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$")
VERBOSE2_LINE = re.compile(r"^(\d+)/\1 - \d+s - \d+(?:s|ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$")


def _fit_printing(verbose, rng, epochs=2):
    x, y = _blobs(rng, n=90)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=verbose)


def test_verbose_0_prints_nothing(capsys, rng):
    _fit_printing(0, rng)
    assert capsys.readouterr().out == ""


def test_verbose_2_one_line_per_epoch(capsys, rng):
    _fit_printing(2, rng, epochs=3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6
    for line in lines[1::2]:
        assert VERBOSE2_LINE.match(line), line
        assert line.startswith("3/3 - ")


def test_verbose_auto_acts_as_2_when_piped(capsys, rng):
    _fit_printing("auto", rng)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and VERBOSE2_LINE.match(lines[1])


def test_verbose_1_keras_bar(capsys, rng):
    _fit_printing(1, rng)
    out = capsys.readouterr().out
    epochs = [chunk for chunk in out.split("\n") if chunk]
    assert epochs[0] == "Epoch 1/2" and epochs[2] == "Epoch 2/2"
    final = epochs[1].split("\r")[-1].rstrip()
    assert PROGBAR_END.match(final), final
    assert final.lstrip().startswith("3/3 ━━━━━━━━━━━━━━━━━━━━ ")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_auto_acts_as_1_on_a_terminal(monkeypatch, rng):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    _fit_printing("auto", rng, epochs=2)  # (with one epoch there is no "Epoch 1/1" line, as in Keras)
    final = terminal.getvalue().split("\n")[1].split("\r")[-1].rstrip()
    assert PROGBAR_END.match(final), final


def test_live_bar_redraws_at_most_every_50ms(monkeypatch):
    """Drive the logger with a fake clock: 1000 batches 1 ms apart may redraw about 20 times, not 1000."""
    from nnkit.callbacks import progbar
    clock = iter(numpy.arange(0, 10, 0.001))
    monkeypatch.setattr(progbar.time, "perf_counter", lambda: float(next(clock)))
    stream = _Terminal()
    logger = progbar.ProgbarLogger(verbose=1, stream=stream)
    logger.set_params({"epochs": 1, "steps": 1000})
    logger.on_epoch_begin(0)
    for batch in range(1000):
        logger.on_train_batch_end(batch, {"loss": 0.5})
    logger.on_epoch_end(0, {"loss": 0.5})
    redraws = stream.getvalue().count("\r")
    assert 15 <= redraws <= 22
    middle = stream.getvalue().split("\r")[redraws // 2]
    done = int(middle.split("/")[0])
    assert 400 <= done <= 600
    assert middle.count("━") == 20 and "\x1b[2m" in middle  # filled part, then the rest dimmed
    assert "- loss: 0.5000" in middle


def test_progbar_formats():
    from nnkit.callbacks.progbar import format_duration, format_per_step, format_value
    assert [format_per_step(s) for s in (2.4, 0.0031, 0.000045)] == ["2s/step", "3ms/step", "45us/step"]
    assert [format_duration(s) for s in (3.7, 75, 3725)] == ["3s", "1:15", "1:02:05"]
    assert [format_value(v) for v in (0.93354, 0.0, 0.00012345)] == ["0.9335", "0.0000", "1.2345e-04"]


# ---- weights and the flat buffer ----------------------------------------------------------------------
def test_get_and_set_weights_round_trip(backend_name, rng):
    x, y = _blobs(rng, n=30)
    first = _classifier()
    first.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    first.fit(x, y, epochs=1, verbose=0)
    second = _classifier()
    second.set_weights(first.get_weights())
    for a, b in zip(first.get_weights(), second.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    numpy.testing.assert_array_equal(first.predict(x, verbose=0), second.predict(x, verbose=0))
    assert all(isinstance(w, numpy.ndarray) for w in first.get_weights())


def test_set_weights_checks_before_writing(rng):
    model = _classifier()
    before = model.get_weights()
    bad = [w.copy() for w in before]
    bad[3] = numpy.zeros(4)
    with pytest.raises(ValueError, match=r"weight 'bias' has shape \(3,\), but the value given has shape \(4,\)"):
        model.set_weights(bad)
    with pytest.raises(ValueError, match="expects 4 arrays.*received 3"):
        model.set_weights(before[:3])
    for a, b in zip(before, model.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_every_trainable_weight_is_a_view_of_the_flat_buffer(backend_name, rng):
    x, y = _blobs(rng, n=30)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    store = model.store
    xp = backend.xp()
    assert store.values.ndim == 1 and store.values.size == model.count_params()
    offset = 0
    for layer in model.layers:
        for name in ("kernel", "bias"):
            weight, grad = getattr(layer, name), layer.grads[name]
            assert xp.shares_memory(weight, store.values) and xp.shares_memory(grad, store.grads)
            numpy.testing.assert_array_equal(backend.to_host(store.values[offset:offset + weight.size]),
                                             backend.to_host(weight).ravel())
            offset += weight.size
    # writing through the model still writes into the buffer; training moves it
    model.set_weights([numpy.full(w.shape, 0.5, numpy.float32) for w in model.get_weights()])
    assert float(store.values.min()) == float(store.values.max()) == 0.5
    model.fit(x, y, epochs=1, verbose=0)
    assert model.store is store and float(store.values.min()) != float(store.values.max())
    assert xp.shares_memory(model.layers[0].kernel, store.values)


def test_adding_a_layer_after_training_rebuilds_the_buffer(backend_name, rng):
    x, y = _blobs(rng, n=30)
    model = nnkit.Sequential([Input(shape=(4,)), Dense(8, activation="relu")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.standard_normal((30, 8)), epochs=1, verbose=0)
    trained = model.get_weights()
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.store.values.size == model.count_params()
    assert backend.xp().shares_memory(model.layers[1].kernel, model.store.values)
    assert not numpy.array_equal(trained[0], model.get_weights()[0])  # the first layer kept training
