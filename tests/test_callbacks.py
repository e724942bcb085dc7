"""Callbacks against hand-worked sequences of epoch logs, then a few inside a real fit."""
import math

import numpy
import pytest

import nnkit
from nnkit import layers
from nnkit.callbacks import (CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                             ReduceLROnPlateau, TerminateOnNaN)


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks touch: stop_training, weights (here: the epoch that produced them), optimizer, saving."""

    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.weights_from_epoch = None
        self.optimizer = FakeOptimizer(learning_rate)
        self.saved = []

    def get_weights(self):
        return [numpy.array(self.weights_from_epoch)]

    def set_weights(self, weights):
        self.weights_from_epoch = int(weights[0])

    def save(self, path):
        self.saved.append(("save", path))

    def save_weights(self, path):
        self.saved.append(("save_weights", path))


def run(callback, epoch_logs, model=None):
    """Drive ``callback`` as fit does; returns (model, epochs run, the logs as the callback left them)."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    seen = []
    for epoch, logs in enumerate(epoch_logs):
        model.weights_from_epoch = epoch
        callback.on_epoch_begin(epoch)
        logs = dict(logs)
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback.on_train_end()
    return model, len(seen), seen


def losses(*values):
    return [{"val_loss": v} for v in values]


# ---- EarlyStopping -------------------------------------------------------------------------------------
def test_early_stopping_waits_patience_epochs_after_the_best():
    # best 0.9 at epoch 1; epochs 2 and 3 do not improve -> stop after epoch 3 (patience 2).
    stop = EarlyStopping(patience=2)
    model, epochs, _ = run(stop, losses(1.0, 0.9, 0.95, 0.91, 0.5, 0.4))
    assert (epochs, stop.stopped_epoch, stop.best, stop.best_epoch) == (4, 3, 0.9, 1)


def test_early_stopping_min_delta_decides_what_counts_as_improving():
    sequence = losses(1.0, 0.97, 0.96, 0.90)
    # min_delta 0.02: 0.97 improves on 1.0, 0.96 does not improve on 0.97, 0.90 does -> never stops.
    assert run(EarlyStopping(patience=2, min_delta=0.02), sequence)[1] == 4
    # min_delta 0.05 (its sign ignored): neither 0.97 nor 0.96 improves on 1.0 -> stops after epoch 2.
    stop = EarlyStopping(patience=2, min_delta=-0.05)
    assert run(stop, sequence)[1] == 3 and stop.stopped_epoch == 2


def test_early_stopping_mode_max_and_auto_for_accuracy():
    logs = [{"val_accuracy": a} for a in (0.5, 0.6, 0.55, 0.58, 0.7)]
    stop = EarlyStopping(monitor="val_accuracy", patience=2)
    assert stop.mode == "max"
    assert run(stop, logs)[1] == 4 and stop.best == 0.6
    # Watching accuracy as if lower were better: 0.6 is no improvement on 0.5.
    assert run(EarlyStopping(monitor="val_accuracy", patience=1, mode="min"), logs)[1] == 2


def test_early_stopping_baseline_must_be_beaten_to_reset_the_count():
    flat = [{"val_accuracy": 0.5}] * 5
    assert run(EarlyStopping(monitor="val_accuracy", patience=2), flat)[1] == 3
    # With a baseline of 0.68 the first epoch does not reset the count: one epoch earlier.
    assert run(EarlyStopping(monitor="val_accuracy", patience=2, baseline=0.68), flat)[1] == 2


def test_early_stopping_restores_the_weights_of_the_best_epoch():
    model, _, _ = run(EarlyStopping(patience=2, restore_best_weights=True), losses(1.0, 0.8, 0.9, 0.95, 0.7))
    assert model.weights_from_epoch == 1
    # Without the option the last weights stay.
    model, _, _ = run(EarlyStopping(patience=2), losses(1.0, 0.8, 0.9, 0.95, 0.7))
    assert model.weights_from_epoch == 3


def test_early_stopping_start_from_epoch_ignores_the_warm_up():
    # Epochs 0-1 are ignored; from epoch 2: best 3.0, then 3.1 and 3.2 -> stop after epoch 4.
    stop = EarlyStopping(patience=2, start_from_epoch=2)
    assert run(stop, losses(1.0, 0.5, 3.0, 3.1, 3.2, 0.1))[1] == 5
    assert stop.best == 3.0


def test_early_stopping_without_the_monitored_key_warns_and_never_stops():
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs. Available: loss"):
        assert run(EarlyStopping(patience=0), [{"loss": 1.0}] * 3)[1] == 3


def test_mode_auto_refuses_names_it_cannot_read():
    with pytest.raises(ValueError, match="pass mode='min' or mode='max'"):
        EarlyStopping(monitor="val_f7")


# ---- ReduceLROnPlateau ---------------------------------------------------------------------------------
def test_reduce_lr_on_plateau_with_cooldown_and_floor():
    # lr 1, factor 0.5, patience 2, cooldown 1, floor 0.2, the loss never improves after epoch 0:
    # epoch 2: 0.5 (cooldown 1); epoch 3: cooling down, counts 1; epoch 4: 0.25; epoch 6: max(0.125, 0.2).
    callback = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0)
    model, _, seen = run(callback, losses(*[1.0] * 8), FakeModel(learning_rate=1.0))
    assert [logs["learning_rate"] for logs in seen] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2]
    assert model.optimizer.learning_rate == 0.2


def test_reduce_lr_on_plateau_min_delta():
    # 0.95 is not better than 1.0 by more than 0.1, so it counts as a plateau: reduce after epoch 1.
    model, _, _ = run(ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.1), losses(1.0, 0.95),
                      FakeModel(learning_rate=0.5))
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    model, _, _ = run(ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.01), losses(1.0, 0.95),
                      FakeModel(learning_rate=0.5))
    assert model.optimizer.learning_rate == 0.5


def test_reduce_lr_on_plateau_rejects_a_factor_of_one_or_more():
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        ReduceLROnPlateau(factor=1.0)


# ---- LearningRateScheduler -----------------------------------------------------------------------------
def test_learning_rate_scheduler_with_epoch_and_rate():
    scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr * 0.5)
    model, _, seen = run(scheduler, [{"loss": 1.0}] * 3, FakeModel(learning_rate=0.1))
    assert [logs["learning_rate"] for logs in seen] == [0.1, 0.05, 0.025]


def test_learning_rate_scheduler_with_epoch_only():
    model, _, seen = run(LearningRateScheduler(lambda epoch: 1.0 / (epoch + 1)), [{}] * 4)
    assert [logs["learning_rate"] for logs in seen] == [1.0, 0.5, 1 / 3, 0.25]


def test_learning_rate_scheduler_rejects_bad_rates():
    for bad in (float("nan"), -0.1, "0.1"):
        with pytest.raises(ValueError, match="finite non-negative"):
            run(LearningRateScheduler(lambda epoch: bad), [{}])


# ---- ModelCheckpoint -----------------------------------------------------------------------------------
def test_model_checkpoint_every_epoch_fills_the_pattern():
    checkpoint = ModelCheckpoint("ckpt-{epoch:02d}-{val_loss:.2f}.nnkit")
    model, _, _ = run(checkpoint, losses(0.5, 0.6, 0.123))
    assert model.saved == [("save", "ckpt-01-0.50.nnkit"), ("save", "ckpt-02-0.60.nnkit"),
                           ("save", "ckpt-03-0.12.nnkit")]


def test_model_checkpoint_save_best_only_and_weights_only():
    checkpoint = ModelCheckpoint("best-{epoch}.weights.safetensors", save_best_only=True, save_weights_only=True)
    model, _, _ = run(checkpoint, losses(0.5, 0.6, 0.4, 0.4))
    assert model.saved == [("save_weights", "best-1.weights.safetensors"),
                           ("save_weights", "best-3.weights.safetensors")]
    checkpoint = ModelCheckpoint("best.nnkit", monitor="val_accuracy", save_best_only=True,
                                 initial_value_threshold=0.55)
    model, _, _ = run(checkpoint, [{"val_accuracy": a} for a in (0.5, 0.6, 0.58)])
    assert model.saved == [("save", "best.nnkit")]


def test_model_checkpoint_checks_the_suffix_and_the_pattern_keys():
    with pytest.raises(ValueError, match="must end in '.weights.h5' or '.safetensors'"):
        ModelCheckpoint("w.nnkit", save_weights_only=True)
    with pytest.raises(ValueError, match="must end in '.keras' or '.nnkit'"):
        ModelCheckpoint("model.h5")
    with pytest.raises(KeyError, match="refers to 'val_acc', which is not in the epoch logs"):
        run(ModelCheckpoint("m-{val_acc}.nnkit"), losses(0.5))


def test_model_checkpoint_files_load_after_a_real_fit(tmp_path):
    x, y = digits()
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}.nnkit")),
                         ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.safetensors"), save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.nnkit", "m-2.nnkit", "w-1.weights.safetensors",
                                                         "w-2.weights.safetensors"]
    restored = nnkit.models.load_model(tmp_path / "m-2.nnkit")
    for expected, actual in zip(model.get_weights(), restored.get_weights()):
        numpy.testing.assert_array_equal(expected, actual)


# ---- CSVLogger -----------------------------------------------------------------------------------------
def test_csv_logger_writes_sorted_columns_and_appends_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"val_loss": 0.5, "loss": 0.25}, {"val_loss": 0.75, "loss": 0.125}])
    assert path.read_text() == "epoch,loss,val_loss\n0,0.25,0.5\n1,0.125,0.75\n"
    run(CSVLogger(path, separator=";", append=True), [{"val_loss": 1.5, "loss": 2.0}])
    assert path.read_text() == "epoch,loss,val_loss\n0,0.25,0.5\n1,0.125,0.75\n0;2.0;1.5\n"
    run(CSVLogger(path), [{"loss": 3.0}])
    assert path.read_text() == "epoch,loss\n0,3.0\n"


# ---- TerminateOnNaN and LambdaCallback inside fit ------------------------------------------------------
def digits(count=128):
    (x, y), _ = nnkit.datasets.digits.load_data()
    return x.reshape(len(x), -1)[:count] / 16.0, y[:count]


def small_model(optimizer="adam", loss="sparse_categorical_crossentropy"):
    model = nnkit.Sequential([nnkit.Input(shape=(64,)), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_terminate_on_nan_stops_fit_at_the_first_bad_batch():
    x = numpy.ones((64, 4), "float32")
    y = numpy.ones((64, 1), "float32")
    def diverging():
        model = nnkit.Sequential([nnkit.Input(shape=(4,)), layers.Dense(1)])
        model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1e30), loss="mse")
        return model
    with pytest.raises(FloatingPointError, match="training diverged"):
        diverging().fit(x, y, epochs=3, batch_size=8, verbose=0)
    batches = []
    history = diverging().fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[
        TerminateOnNaN(), LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(logs["loss"]))])
    assert len(history.epoch) == 1
    assert math.isfinite(batches[0]) and not math.isfinite(batches[-1]) and len(batches) < 8
    assert all(math.isfinite(loss) for loss in batches[:-1])


def test_lambda_callback_hooks_run_in_keras_order():
    calls = []
    hooks = LambdaCallback(on_train_begin=lambda logs: calls.append("train_begin"),
                           on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
                           on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
                           on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch}"),
                           on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch} {sorted(logs)}"),
                           on_train_end=lambda logs: calls.append("train_end"))
    x, y = digits(64)
    small_model().fit(x, y, epochs=2, batch_size=32, verbose=0, initial_epoch=0, callbacks=[hooks])
    epoch = ["batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1"]
    assert calls == (["train_begin", "epoch_begin 0"] + epoch + ["epoch_end 0 ['accuracy', 'loss']", "epoch_begin 1"]
                     + epoch + ["epoch_end 1 ['accuracy', 'loss']", "train_end"])
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_epoch_ended=print)


def test_early_stopping_inside_fit_stops_and_restores():
    x, y = digits()
    model = small_model()
    # Treat the (falling) loss as if higher were better: epoch 1 does not improve on epoch 0 -> stop.
    stop = EarlyStopping(monitor="loss", mode="max", patience=1, restore_best_weights=True)
    first_epoch = []
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[
        LambdaCallback(on_epoch_end=lambda epoch, logs: first_epoch.append(model.get_weights()) if epoch == 0 else None),
        stop])
    assert len(history.epoch) == 2
    for expected, actual in zip(first_epoch[0], model.get_weights()):
        numpy.testing.assert_array_equal(expected, actual)
