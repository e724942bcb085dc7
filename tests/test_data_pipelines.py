"""fit / evaluate / predict fed by a Python generator, an iterable or a nnkit.utils.PyDataset of batches (Keras'
data pipelines, issue 12): the same training as the same batches given as arrays, epochs over a PyDataset,
validation from a generator, ``steps``, and the errors for misuse."""
import io

import numpy
import pytest

import nnkit
from nnkit.callbacks import Callback, ProgbarLogger
from nnkit.layers import Dense, Input

BATCH = 8


def _data(n=40, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(numpy.float32)
    y = (x @ numpy.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(numpy.float32)
    return x, y


def _model(seed=0):
    nnkit.utils.set_random_seed(seed)
    model = nnkit.Sequential([Input(shape=(3,)), Dense(4, activation="tanh"), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def _generator(x, y, batch_size=BATCH, forever=True, weights=None):
    while True:
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            yield (x[part], y[part]) if weights is None else (x[part], y[part], weights[part])
        if not forever:
            return


class Batches(nnkit.utils.PyDataset):
    def __init__(self, x, y=None, batch_size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part] if self.y is None else (self.x[part], self.y[part])

    def on_epoch_end(self):
        self.epochs_ended += 1


class Steps(Callback):
    def on_train_begin(self, logs=None):
        self.steps = self.params["steps"]
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_generator_trains_as_the_same_batches_as_arrays(backend_name):
    x, y = _data()
    w = numpy.linspace(0.5, 1.5, len(x)).astype(numpy.float32)
    reference = _model()
    reference_history = reference.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, sample_weight=w, verbose=0)
    model = _model()
    steps = Steps()
    history = model.fit(_generator(x, y, weights=w), steps_per_epoch=len(x) // BATCH, epochs=3, verbose=0,
                        callbacks=[steps])
    assert steps.steps == 5 and steps.batches == 15
    for got, expected in zip(model.get_weights(), reference.get_weights()):
        numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(history.history["loss"], reference_history.history["loss"], rtol=1e-5)


def test_generator_is_consumed_across_epochs():
    x, y = _data(n=48)
    seen = []

    def generator():
        for start in range(0, len(x), BATCH):
            seen.append(start)
            yield x[start:start + BATCH], y[start:start + BATCH]

    _model().fit(generator(), steps_per_epoch=2, epochs=3, verbose=0)
    assert seen == [0, 8, 16, 24, 32, 40]  # no batch read twice or skipped between epochs


def test_one_pass_over_a_generator_without_steps_and_an_unbuilt_model():
    x, y = _data()
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([Dense(1)])  # built from the first batch
    model.compile(optimizer="sgd", loss="mse")
    steps = Steps()
    model.fit(_generator(x, y, forever=False), epochs=1, verbose=0, callbacks=[steps])
    assert steps.steps is None and steps.batches == 5
    assert model.get_weights()[0].shape == (3, 1)


def test_py_dataset_epochs(backend_name):
    x, y = _data()
    dataset = Batches(x, y)
    assert dataset.num_batches == 5 and dataset.workers == 1
    reference = _model()
    reference.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    model = _model()
    steps = Steps()
    model.fit(dataset, epochs=3, verbose=0, callbacks=[steps])
    assert steps.steps == 5 and steps.batches == 15
    assert dataset.epochs_ended == 3
    for got, expected in zip(model.get_weights(), reference.get_weights()):
        numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_reiterable_object_is_iterated_each_epoch():
    x, y = _data()

    class Reiterable:
        def __iter__(self):
            return _generator(x, y, forever=False)

    steps = Steps()
    _model().fit(Reiterable(), epochs=2, verbose=0, callbacks=[steps])
    assert steps.batches == 10


def test_validation_from_a_generator(backend_name):
    x, y = _data()
    x_val, y_val = _data(n=16, seed=1)
    reference = _model()
    expected = reference.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, validation_data=(x_val, y_val),
                             verbose=0).history
    model = _model()
    history = model.fit(Batches(x, y), epochs=2, validation_data=_generator(x_val, y_val), validation_steps=2,
                        verbose=0).history
    numpy.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-5)
    numpy.testing.assert_allclose(history["val_mae"], expected["val_mae"], rtol=1e-5)
    # array training data, validation from a PyDataset
    model = _model()
    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, validation_data=Batches(x_val, y_val),
                        verbose=0).history
    numpy.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-5)


def test_evaluate_and_predict_with_steps(backend_name):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    expected = model.evaluate(x[:16], y[:16], verbose=0, return_dict=True)
    got = model.evaluate(_generator(x, y), steps=2, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, rel=1e-5)
    whole = model.evaluate(Batches(x, y), verbose=0)
    assert whole == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)
    predicted = model.predict(x, verbose=0)
    numpy.testing.assert_allclose(model.predict((x[s:s + BATCH] for s in range(0, 40, BATCH)), verbose=0),
                                  predicted, rtol=1e-5)
    numpy.testing.assert_allclose(model.predict(_generator(x, y), steps=3, verbose=0), predicted[:24], rtol=1e-5)
    numpy.testing.assert_allclose(model.predict(Batches(x), verbose=0), predicted, rtol=1e-5)
    numpy.testing.assert_allclose(model.predict(x, steps=2, batch_size=BATCH, verbose=0), predicted[:16],
                                  rtol=1e-5)


def test_multi_input_dict_batches():
    x, y = _data()
    nnkit.utils.set_random_seed(0)
    a, b = Input(shape=(2,), name="a"), Input(shape=(1,), name="b")
    out = Dense(1, name="out")(nnkit.layers.Concatenate()([a, b]))
    model = nnkit.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    batches = [({"a": x[s:s + BATCH, :2], "b": x[s:s + BATCH, 2:]}, {"out": y[s:s + BATCH]})
               for s in range(0, 40, BATCH)]
    model.fit(iter(batches), epochs=1, verbose=0)
    assert model.predict(iter([b[0] for b in batches]), verbose=0).shape == (40, 1)


def test_progress_bar_with_unknown_steps():
    x, y = _data()
    stream = io.StringIO()
    _model().fit(_generator(x, y, forever=False), epochs=1, verbose=0, callbacks=[ProgbarLogger(2, stream=stream)])
    assert "5/5 - " in stream.getvalue()
    bar = ProgbarLogger(1, stream=stream)
    bar.set_params({"epochs": 1, "steps": None, "verbose": 1})
    bar.on_epoch_begin(0)
    bar._last_draw = -1.0
    bar.on_train_batch_end(2, {"loss": 1.0})
    assert "3/Unknown" in stream.getvalue()
    bar.on_epoch_end(0, {"loss": 1.0})
    assert "3/3" in stream.getvalue()


def test_batch_size_with_a_generator_is_an_error():
    x, y = _data()
    with pytest.raises(ValueError, match="does not take batch_size="):
        _model().fit(_generator(x, y), batch_size=8, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="does not take y="):
        _model().fit(_generator(x, y), y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="does not take batch_size="):
        _model().predict(Batches(x), batch_size=8, verbose=0)


def test_exhausted_generator_says_so():
    x, y = _data()
    # 5 batches: 3 in epoch 1, then 2 left for epoch 2
    with pytest.raises(ValueError, match=r"ran out of data after 2 batches, but steps_per_epoch=3"):
        _model().fit(_generator(x, y, forever=False), steps_per_epoch=3, epochs=2, verbose=0)
    with pytest.raises(ValueError, match="needs steps_per_epoch"):
        _model().fit(_generator(x, y), epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"ran out of data after 5 batches, but steps=6"):
        _model().evaluate(_generator(x, y, forever=False), steps=6, verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        _model().fit(iter([]), verbose=0)


def test_batch_with_the_wrong_structure_names_what_was_expected():
    x, y = _data()
    with pytest.raises(ValueError, match=r"batch 0 is a ndarray, but fit expects each batch to be a tuple \(x, y\)"):
        _model().fit((x[s:s + BATCH] for s in range(0, 40, BATCH)), verbose=0)
    with pytest.raises(ValueError, match=r"batch 1: The model expects input of shape \(None, 3\)"):
        _model().fit(iter([(x[:8], y[:8]), (x[8:16, :2], y[8:16])]), verbose=0)
    with pytest.raises(ValueError, match=r"batch 0: x and y must have the same number of samples"):
        _model().fit(iter([(x[:8], y[:7])]), verbose=0)
    with pytest.raises(ValueError, match=r"batch 0: y is missing"):
        _model().fit(iter([(x[:8],)]), verbose=0)
