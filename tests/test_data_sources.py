"""Data sources of fit / evaluate / predict beyond arrays: objects that look like a tf.data.Dataset or a torch
DataLoader (recognised by duck typing; neither library is imported), and batches read ahead on background
threads without losing or reordering any."""
import threading

import numpy
import pytest

import nnkit
from nnkit.layers import Dense


class FakeTensor:
    """Converts like a TensorFlow EagerTensor or a CPU torch.Tensor: through ``__array__``."""

    def __init__(self, array):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


class FakeTFDataset:
    """Iterates (x, y) tuples of tensors; ``len()`` refuses (unknown size) but ``cardinality()`` knows."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __iter__(self):
        for start in range(0, len(self.x), self.batch_size):
            yield FakeTensor(self.x[start:start + self.batch_size]), FakeTensor(self.y[start:start + self.batch_size])

    def __len__(self):
        raise TypeError("The dataset length is unknown.")

    def cardinality(self):
        return FakeTensor(numpy.array(-(-len(self.x) // self.batch_size)))


class FakeDataLoader(FakeTFDataset):
    """Iterates [x, y] lists of tensors and has a length, as torch's DataLoader."""

    def __iter__(self):
        return (list(batch) for batch in super().__iter__())

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def cardinality(self):
        raise AssertionError("a DataLoader has no cardinality")


def _model():
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss="mse")
    return model


@pytest.fixture
def data():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    return x, (x @ numpy.array([1.0, -2.0, 0.5], dtype="float32"))[:, None]


@pytest.mark.parametrize("source", [FakeTFDataset, FakeDataLoader])
def test_dataset_like_objects_train_as_the_same_arrays_do(source, data):
    x, y = data
    reference = _model().fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    seen = []
    model = _model()
    history = model.fit(source(x, y, 8), epochs=2, verbose=0, validation_data=source(x, y, 16),
                        callbacks=[nnkit.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append(
                            model.history.params["steps"] if hasattr(model.history, "params") else None))])
    numpy.testing.assert_allclose(history.history["loss"], reference, rtol=1e-6)
    assert seen == [5]  # steps known from len() or cardinality()
    assert model.evaluate(source(x, y, 8), verbose=0) == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    assert model.predict(source(x, y, 8), verbose=0).shape == (40, 1)


class Recording(nnkit.Sequential):
    """Records the first target of every batch it trains on (the batch's number, by construction)."""

    def train_step(self, data):
        self.trained.append(int(numpy.asarray(data[1])[0, 0]))
        return super().train_step(data)


def _numbered_batches():
    number = 0
    while True:
        yield numpy.full((2, 3), number, dtype="float32"), numpy.full((2, 1), number, dtype="float32")
        number += 1


def test_a_generator_read_ahead_loses_no_batch_when_an_epoch_stops_early():
    model = Recording([nnkit.Input(shape=(3,)), Dense(1)])
    model.trained = []
    model.compile(optimizer="sgd", loss="mse")
    stop_after_second = nnkit.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", batch == 1))
    generator = _numbered_batches()
    model.fit(generator, steps_per_epoch=4, epochs=3, verbose=0, callbacks=[stop_after_second])
    model.fit(generator, steps_per_epoch=3, epochs=2, verbose=0)
    # the first fit stopped after 2 of 4 batches (the read-ahead batch 2 went back); the next fit goes on from 2
    assert model.trained == [0, 1, 2, 3, 4, 5, 6, 7]


class Slow(nnkit.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.threads, self.lock, self.active, self.most_active = set(), threading.Lock(), 0, 0

    def __len__(self):
        return 12

    def __getitem__(self, index):
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        threading.Event().wait(0.01)
        with self.lock:
            self.active -= 1
        return numpy.full((2, 3), index, dtype="float32"), numpy.full((2, 1), index, dtype="float32")


def test_a_pydataset_is_read_by_its_workers_in_order():
    model = Recording([nnkit.Input(shape=(3,)), Dense(1)])
    model.trained = []
    model.compile(optimizer="sgd", loss="mse")
    source = Slow(workers=3, max_queue_size=6)
    model.fit(source, epochs=2, verbose=0)
    assert model.trained == list(range(12)) * 2
    assert threading.current_thread().name not in source.threads
    assert source.most_active > 1  # batches were read in parallel


def test_an_error_in_a_batch_read_ahead_is_raised_at_its_turn_naming_it():
    def batches():
        for number in range(3):
            yield numpy.zeros((2, 3), "float32"), numpy.zeros((2, 1), "float32")
        yield numpy.zeros((2, 4), "float32"), numpy.zeros((2, 1), "float32")

    model = Recording([nnkit.Input(shape=(3,)), Dense(1)])
    model.trained = []
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="batch 3"):
        model.fit(batches(), verbose=0)
    assert len(model.trained) == 3


@pytest.mark.parametrize("validation_freq, validated", [(1, [1, 2, 3, 4]), (2, [2, 4]), ([1, 3], [1, 3])])
def test_validation_freq_validates_after_the_epochs_keras_does(validation_freq, validated, data):
    x, y = data
    seen = []
    model = _model()
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, validation_data=(x, y), validation_freq=validation_freq,
              callbacks=[nnkit.callbacks.LambdaCallback(
                  on_epoch_end=lambda epoch, logs: "val_loss" in logs and seen.append(epoch + 1))])
    assert seen == validated


@pytest.mark.parametrize("validation_freq", [0, "2", [0, 2], 1.5])
def test_a_bad_validation_freq_is_refused_naming_it(validation_freq, data):
    with pytest.raises(ValueError, match="validation_freq"):
        _model().fit(*data, epochs=2, verbose=0, validation_data=data, validation_freq=validation_freq)


def test_uint8_images_are_converted_per_batch_not_as_one_float_copy():
    import tracemalloc
    rng = numpy.random.default_rng(0)
    x = rng.integers(0, 256, size=(4096, 32, 32, 3), dtype=numpy.uint8)  # 12.6 MB; 50 MB as float32
    y = rng.integers(0, 10, size=4096)

    def model():
        nnkit.utils.set_random_seed(0)
        net = nnkit.Sequential([nnkit.Input(shape=(32, 32, 3)), nnkit.layers.Rescaling(1 / 255),
                                nnkit.layers.Flatten(), Dense(10, activation="softmax")])
        net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return net

    with nnkit.backend.use("cpu"):
        reference = model().fit(x.astype("float32"), y, batch_size=256, epochs=1, shuffle=False, verbose=0)
        trained = model()
        tracemalloc.start()
        history = trained.fit(x, y, batch_size=256, epochs=1, shuffle=False, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert history.history["loss"] == pytest.approx(reference.history["loss"], rel=1e-6)
    assert peak < x.nbytes  # a float32 copy alone would be 4 x x.nbytes


def test_float64_beyond_float32_is_found_in_any_chunk_and_named_with_its_sample():
    x = numpy.zeros((300, 3))
    x[257, 1] = 1e39
    with pytest.raises(ValueError, match="holds 1e\\+39 at sample 257, beyond the range of float32"):
        nnkit.trainer.data.check_finite_in_chunks(x, numpy.float32, "x", chunk_bytes=3 * 8 * 64)
