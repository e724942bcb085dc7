"""Callbacks run as Keras runs them: every hook gets a dict, on_train_end the last epoch's logs, validation in
fit and evaluate fire the test hooks, predict the predict hooks; a callback not in a list is refused."""
import numpy
import pytest

import nnkit
from nnkit import layers


class Recorder(nnkit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *args: self.calls.append((name, args))
        return super().__getattribute__(name)


def _model(rng):
    model = nnkit.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, rng.normal(size=(10, 3)).astype("float32"), rng.integers(0, 2, 10)


def test_fit_hands_every_hook_a_dict_and_on_train_end_the_last_logs(rng):
    model, x, y = _model(rng)
    recorder = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x[:5], y[:5]), callbacks=[recorder],
                        verbose=0)
    names = [name for name, _ in recorder.calls]
    assert all(isinstance(args[-1], dict) for _, args in recorder.calls)
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names.count("on_train_batch_end") == 2 * 3 and names.count("on_test_batch_end") == 2 * 2
    assert names.count("on_test_begin") == names.count("on_test_end") == 2
    first_test_end = names.index("on_test_end")
    assert names[first_test_end + 1] == "on_epoch_end"  # validation runs before the epoch's end, as in Keras
    test_logs = recorder.calls[first_test_end][1][0]
    assert sorted(test_logs) == ["accuracy", "loss"] and test_logs["loss"] == history.history["val_loss"][0]
    last_logs = recorder.calls[-1][1][0]
    assert last_logs["loss"] == history.history["loss"][-1] and last_logs["val_accuracy"] == \
        history.history["val_accuracy"][-1]


def test_evaluate_and_predict_run_their_callbacks(rng):
    model, x, y = _model(rng)
    recorder = Recorder()
    loss, accuracy = model.evaluate(x, y, batch_size=3, callbacks=[recorder], verbose=0)
    names = [name for name, _ in recorder.calls]
    assert names == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 4 + ["on_test_end"]
    assert recorder.calls[-1][1][0] == pytest.approx({"loss": loss, "accuracy": accuracy})
    recorder.calls.clear()
    predictions = model.predict(x, batch_size=6, callbacks=[recorder], verbose=0)
    names = [name for name, _ in recorder.calls]
    assert names == ["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 2 + ["on_predict_end"]
    batch_outputs = [args[1]["outputs"] for name, args in recorder.calls if name == "on_predict_batch_end"]
    numpy.testing.assert_allclose(numpy.concatenate([nnkit.backend.to_host(o) for o in batch_outputs]), predictions)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_a_callback_not_in_a_list_is_refused_clearly(rng, method):
    model, x, y = _model(rng)
    call = {"fit": lambda c: model.fit(x, y, callbacks=c, verbose=0),
            "evaluate": lambda c: model.evaluate(x, y, callbacks=c, verbose=0),
            "predict": lambda c: model.predict(x, callbacks=c, verbose=0)}[method]
    with pytest.raises(TypeError, match=r"callbacks must be a list.*callbacks=\[\.\.\.\]"):
        call(nnkit.callbacks.History())
