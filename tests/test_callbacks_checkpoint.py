"""ModelCheckpoint as Keras 3 runs it (saving by batch, Keras' file names and messages, best tracking) and its
checks before the first epoch; the progress display of fit / evaluate / predict against Keras' own output."""
import io
import json
import os

import numpy
import pytest

import nnkit
from nnkit import layers
from nnkit.callbacks import Callback, LambdaCallback, ModelCheckpoint, ProgbarLogger
from nnkit.callbacks.progbar import format_value

KERAS_CASES = json.load(open(os.path.join(os.path.dirname(__file__), "data", "keras_callbacks.json")))["cases"]


class SavingModel:
    """What ModelCheckpoint touches outside fit: it records what would be written."""

    def __init__(self):
        self.stop_training = False
        self.saved = []

    def save(self, path):
        self.saved.append(("save", path))

    def save_weights(self, path):
        self.saved.append(("save_weights", path))


def drive(checkpoint, events):
    """Call the hooks ``events`` (``[hook, epoch or batch, logs]``) as fit does; returns the model, whose ``saved``
    lists what would have been written."""
    model = SavingModel()
    checkpoint.set_model(model)
    checkpoint.on_train_begin({})
    for hook, index, logs in events:
        getattr(checkpoint, f"on_{hook}")(index, dict(logs))
    checkpoint.on_train_end({})
    return model


def epochs(*logs):
    """The hooks of epochs that end with these logs."""
    return [event for epoch, log in enumerate(logs)
            for event in (["epoch_begin", epoch, {}], ["epoch_end", epoch, log])]


def regression_data(count=64):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(count, 3)).astype("float32")
    return x, x @ numpy.array([[1.0], [-2.0], [0.5]], "float32")


def regression_model():
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


class CountBatches(Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.count += 1


# ---- saving by batch -------------------------------------------------------------------------------------
def test_an_integer_save_freq_saves_every_n_batches_across_epochs(tmp_path):
    x, y = regression_data(64)  # batches of 16: 4 per epoch; every 3rd batch is epoch 1 batch 3, epoch 2 batch 2
    model = regression_model()
    at_sixth_batch = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: at_sixth_batch.append(model.get_weights())
                            if len(record_calls) == 5 else None)
    record_calls = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs: record_calls.append(batch))
    pattern = str(tmp_path / "w-{epoch}-{batch}-{loss:.3f}.weights.safetensors")
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
              callbacks=[record, count, ModelCheckpoint(pattern, save_weights_only=True, save_freq=3)])
    names = sorted(os.listdir(tmp_path))
    assert [name.split("-")[1:3] for name in names] == [["1", "3"], ["2", "2"]]
    restored = regression_model()
    restored.load_weights(tmp_path / names[1])
    for expected, actual in zip(at_sixth_batch[0], restored.get_weights()):
        numpy.testing.assert_array_equal(expected, actual)


@pytest.mark.parametrize("case", KERAS_CASES, ids=[case["arguments"]["filepath"] for case in KERAS_CASES])
def test_the_saves_and_messages_of_keras_own_checkpoint(case, capsys):
    """tests/data/make_keras_callbacks.py drove Keras 3's ModelCheckpoint with these hooks and logs."""
    model = drive(ModelCheckpoint(**case["arguments"]), case["events"])
    assert [list(saved) for saved in model.saved] == case["saved"]
    assert capsys.readouterr().out == case["printed"]


@pytest.mark.parametrize("save_freq", [0, -3, "batch", 2.0, True])
def test_save_freq_is_epoch_or_a_positive_integer(save_freq):
    with pytest.raises(ValueError, match=f"save_freq must be 'epoch' or a positive integer.*{save_freq!r}"):
        ModelCheckpoint("m.nnkit", save_freq=save_freq)


# ---- file names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, weights_only, method", [
    ("c.weights.h5", True, "save_weights"), ("c.weights.safetensors", True, "save_weights"),
    ("c.keras", False, "save"), ("c.nnkit", False, "save")])
def test_keras_and_nnkit_file_names_are_accepted_and_passed_on(path, weights_only, method):
    model = drive(ModelCheckpoint(path, save_weights_only=weights_only), epochs({"val_loss": 1.0}))
    assert model.saved == [(method, path)]


@pytest.mark.parametrize("path, weights_only, expected", [
    ("c.h5", False, "'.keras' or '.nnkit'"), ("c.weights.h5", False, "'.keras' or '.nnkit'"),
    ("c.keras", True, "'.weights.h5' or '.safetensors'"),
    ("c.bin", True, "'.weights.h5' or '.safetensors'")])
def test_other_file_names_are_refused_at_construction(path, weights_only, expected):
    with pytest.raises(ValueError, match=f"must end in {expected}. Received: filepath='{path}'"):
        ModelCheckpoint(path, save_weights_only=weights_only)


def test_an_existing_directory_at_the_path_is_refused(tmp_path):
    (tmp_path / "taken.nnkit").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath.*taken.nnkit"):
        drive(ModelCheckpoint(str(tmp_path / "taken.nnkit")), epochs({"val_loss": 1.0}))


# ---- best tracking and messages --------------------------------------------------------------------------
def test_save_best_only_without_the_monitored_key_warns_and_saves_as_keras():
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        model = drive(ModelCheckpoint("m.nnkit", save_best_only=True), epochs({"loss": 1.0}))
    assert model.saved == [("save", "m.nnkit")]


# ---- checks before the first epoch -----------------------------------------------------------------------
@pytest.mark.parametrize("pattern, fit_arguments, message", [
    ("m-{val_loss:.2f}.nnkit", {}, "uses {val_loss}, but val_ keys need validation data"),
    ("m-{val_mae}.nnkit", {"save_freq": 2, "validation_split": 0.25},
     "uses {val_mae}, but with save_freq=2 the file is written after batches, whose logs have no val_ keys"),
    ("m-{batch}.nnkit", {}, r"uses {batch}, but {batch} is only filled when saving by batch"),
    ("m-{acc}.nnkit", {"validation_split": 0.25},
     "uses {acc}, but fit's logs have no such key. Keys fit will produce: epoch, loss, mae, val_loss, val_mae, "
     "learning_rate"),
])
def test_pattern_keys_fit_will_not_produce_are_refused_before_any_work(tmp_path, pattern, fit_arguments, message):
    save_freq = fit_arguments.pop("save_freq", "epoch")
    x, y = regression_data()
    batches = CountBatches()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        regression_model().fit(x, y, epochs=2, verbose=0, **fit_arguments,
                               callbacks=[batches, ModelCheckpoint(str(tmp_path / pattern), save_freq=save_freq)])
    assert batches.count == 0 and os.listdir(tmp_path) == []


def test_keys_fit_produces_pass_the_check(tmp_path):
    x, y = regression_data()
    regression_model().fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[
        nnkit.callbacks.ReduceLROnPlateau(monitor="loss"),  # adds learning_rate to the logs ModelCheckpoint sees
        ModelCheckpoint(str(tmp_path / "m-{epoch}-{loss:.2f}-{val_mae:.2f}-{learning_rate}.nnkit"))])
    assert len(os.listdir(tmp_path)) == 1


def test_a_folder_that_cannot_be_created_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("in the way")
    x, y = regression_data()
    batches = CountBatches()
    with pytest.raises(NotADirectoryError, match="folder of filepath .* cannot be created: '.*file' is a file"):
        regression_model().fit(x, y, epochs=1, verbose=0, callbacks=[
            batches, ModelCheckpoint(str(tmp_path / "file" / "run-{epoch}" / "m.nnkit"))])
    assert batches.count == 0


def test_missing_folders_are_created_at_the_save(tmp_path):
    x, y = regression_data()
    regression_model().fit(x, y, epochs=2, verbose=0, callbacks=[
        ModelCheckpoint(str(tmp_path / "runs" / "e{epoch}" / "m.weights.safetensors"), save_weights_only=True)])
    assert sorted(os.listdir(tmp_path / "runs")) == ["e1", "e2"]
    assert os.listdir(tmp_path / "runs" / "e2") == ["m.weights.safetensors"]


@pytest.mark.parametrize("pattern", ["m-{epoch.nnkit", "m-{}.nnkit", "m-{0}.nnkit"])
def test_a_malformed_pattern_is_refused_at_construction(pattern):
    with pytest.raises(ValueError, match="ModelCheckpoint: filepath"):
        ModelCheckpoint(pattern)


# ---- the progress display, against Keras 3.15's output (KERAS_BACKEND=torch, piped: verbose=2) ------------
def test_one_epoch_has_no_epoch_header_and_evaluate_predict_draw_keras_lines(capsys):
    x, y = regression_data(100)
    model = regression_model()
    model.fit(x, y, epochs=1, batch_size=32, verbose=2)
    loss, mae = model.evaluate(x, y, verbose=2)
    model.predict(x, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    # Keras: "4/4 - 0s - 7ms/step - loss: ... - mae: ...", then the same for evaluate, then "4/4 - 0s - 2ms/step"
    assert len(lines) == 3, lines
    assert lines[0].startswith("4/4 - 0s - ") and lines[0].endswith("/step" + lines[0].split("/step")[-1])
    assert lines[1].startswith("4/4 - 0s - ") and lines[1].endswith(f" - loss: {format_value(loss)} - mae: "
                                                                    f"{format_value(mae)}")
    assert lines[2].startswith("4/4 - 0s - ") and lines[2].endswith("/step")


def test_validation_in_fit_draws_no_bar_of_its_own():
    x, y = regression_data(100)
    stream = io.StringIO()
    regression_model().fit(x, y, epochs=2, batch_size=32, validation_split=0.2, verbose=0,
                           callbacks=[ProgbarLogger(2, stream=stream)])
    lines = stream.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "3/3", "Epoch 2/2", "3/3"]
    assert all("val_loss: " in line for line in lines[1::2])


def test_a_progbar_logger_without_verbose_follows_the_call():
    x, y = regression_data()
    stream = io.StringIO()
    model = regression_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ProgbarLogger(stream=stream)])
    model.evaluate(x, y, verbose=0, callbacks=[ProgbarLogger(stream=stream)])
    assert stream.getvalue() == ""
    model.evaluate(x, y, verbose=2, callbacks=[ProgbarLogger(stream=stream)])
    assert stream.getvalue().startswith("2/2 - ")
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or None. Received: verbose=3"):
        ProgbarLogger(3)


def test_history_is_the_models_and_records_every_epoch():
    x, y = regression_data()
    model = regression_model()
    history = nnkit.callbacks.History()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[history])
    model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, callbacks=[history])
    assert model.history is history and history.epoch == [2]
    assert len(history.history["loss"]) == 3 and sorted(history.history) == ["loss", "mae"]
    assert history.params == {"epochs": 3, "steps": 2, "verbose": 0, "metrics": ["loss", "mae"]}
