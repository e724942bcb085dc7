"""Writes the Keras-made fixture for tests/test_callbacks_checkpoint.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_callbacks.py

It writes ``keras_callbacks.json`` (a few KB): for every case of ``CASES`` (a ModelCheckpoint's arguments and the
hooks fit would call, with their logs) what Keras 3's ModelCheckpoint printed and which saves it made
(``["save" or "save_weights", path]`` in order). The model's save methods are replaced by recorders, so nothing is
written: the fixture is Keras' decisions, file names and messages.

nnkit does not depend on Keras; only this file's output is committed.
"""
import contextlib
import io
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def epochs(*logs):
    """Hooks of epochs with these end logs (no batch hooks)."""
    return [event for epoch, log in enumerate(logs)
            for event in (["epoch_begin", epoch, {}], ["epoch_end", epoch, log])]


def batches(epoch_count, steps, loss_step):
    """Hooks of ``epoch_count`` epochs of ``steps`` batches whose running loss grows by ``loss_step``."""
    events, count = [], 0
    for epoch in range(epoch_count):
        events.append(["epoch_begin", epoch, {}])
        for batch in range(steps):
            events.append(["train_batch_end", batch, {"loss": loss_step * count}])
            count += 1
        events.append(["epoch_end", epoch, {"loss": 1.0}])
    return events


CASES = [
    {"arguments": {"filepath": "best.keras", "save_best_only": True, "verbose": 1},
     "events": epochs({"val_loss": 0.5}, {"val_loss": 0.6}, {"val_loss": 0.25})},
    {"arguments": {"filepath": "e{epoch:02d}-{val_loss:.3f}.keras", "verbose": 1},
     "events": epochs({"val_loss": 0.5, "loss": 1.0}, {"val_loss": 0.125, "loss": 0.5})},
    {"arguments": {"filepath": "best.weights.h5", "save_weights_only": True, "monitor": "val_accuracy",
                   "mode": "max", "save_best_only": True, "initial_value_threshold": 0.7, "verbose": 1},
     "events": epochs({"val_accuracy": 0.6}, {"val_accuracy": 0.75}, {"val_accuracy": 0.7})},
    {"arguments": {"filepath": "m-{epoch:02d}-{batch:03d}-{loss:.2f}.keras", "save_freq": 2, "verbose": 1},
     "events": batches(2, 3, 0.25)},
    {"arguments": {"filepath": "b{epoch}.keras", "save_freq": 4, "monitor": "loss", "save_best_only": True,
                   "verbose": 1},
     "events": batches(3, 3, -0.25)},
]


def run(case):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    saved = []
    model.save = lambda filepath, overwrite=True, **kwargs: saved.append(["save", filepath])
    model.save_weights = lambda filepath, overwrite=True, **kwargs: saved.append(["save_weights", filepath])
    checkpoint = keras.callbacks.ModelCheckpoint(**case["arguments"])
    checkpoint.set_model(model)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        checkpoint.on_train_begin({})
        for hook, index, logs in case["events"]:
            getattr(checkpoint, f"on_{hook}")(index, dict(logs))
        checkpoint.on_train_end({})
    return {**case, "printed": printed.getvalue(), "saved": saved}


def main():
    with open(os.path.join(HERE, "keras_callbacks.json"), "w") as stream:
        json.dump({"keras_version": keras.__version__, "cases": [run(case) for case in CASES]}, stream, indent=1)


if __name__ == "__main__":
    main()
