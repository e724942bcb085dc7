"""A functional residual block on the CPU: nnkit's graph engine on NumPy against the same network in PyTorch.

The model (functional API): Input(28, 28, 1) -> Conv2D(16, 3x3, same, relu) = x; two Conv2D(16, 3x3, same),
the first with relu, from x; Add with x (the skip connection) -> Activation(relu) -> MaxPooling2D(2x2) ->
Flatten -> Dense(10, softmax); Adam, sparse categorical cross-entropy, batch 64, random MNIST-shaped pixels.
Both libraries start from the same weights (outputs checked to agree first). A step is forward, loss and
gradient, backward and the update (nnkit's public ``train_step``); an epoch is 20 shuffled batches (nnkit's
``fit``, a plain PyTorch loop over a ``randperm``).

Time each library in its own process (their BLAS/OpenMP thread pools slow each other), in one session:

    python -m pytest benchmarks/test_residual_cpu.py -k "agree or nnkit" --benchmark-columns=min,median,rounds
    python -m pytest benchmarks/test_residual_cpu.py -k torch --benchmark-columns=min,median,rounds
"""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Activation, Add, Conv2D, Dense, Flatten, Input, MaxPooling2D

from training_step import (assert_torch_agrees, benchmark_nnkit_step, benchmark_torch_step,
                           torch_training, wait_for_idle_threads)

BATCH, SIZE, FILTERS, CLASSES, EPOCH_BATCHES = 64, 28, 16, 10, 20
POOLED = SIZE // 2


@pytest.fixture(scope="module")
def data():
    rng = numpy.random.default_rng(0)
    count = BATCH * EPOCH_BATCHES
    return rng.random((count, SIZE, SIZE, 1), dtype=numpy.float32), rng.integers(0, CLASSES, count)


def _nnkit_model():
    nnkit.utils.set_random_seed(0)
    inputs = Input(shape=(SIZE, SIZE, 1))
    x = Conv2D(FILTERS, (3, 3), padding="same", activation="relu")(inputs)
    branch = Conv2D(FILTERS, (3, 3), padding="same", activation="relu")(x)
    branch = Conv2D(FILTERS, (3, 3), padding="same")(branch)
    x = MaxPooling2D((2, 2))(Activation("relu")(Add()([x, branch])))
    model = nnkit.Model(inputs, Dense(CLASSES, activation="softmax")(Flatten()(x)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _torch_model(torch):
    """The same network in PyTorch (NCHW), holding nnkit's initial weights."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.first, self.second = (nn.Conv2d(c, FILTERS, 3, padding=1) for c in (1, FILTERS, FILTERS))
            self.head = nn.Linear(POOLED * POOLED * FILTERS, CLASSES)

        def forward(self, x):
            x = torch.relu(self.stem(x))
            x = torch.relu(x + self.second(torch.relu(self.first(x))))
            return self.head(torch.flatten(torch.max_pool2d(x, 2), 1))

    model = Residual()
    weights = _nnkit_model().get_weights()
    # nnkit flattens (h, w, c), torch (c, h, w): permute the rows of the dense kernel to match.
    dense = weights[6].reshape(POOLED, POOLED, FILTERS, CLASSES).transpose(2, 0, 1, 3).reshape(-1, CLASSES)
    with torch.no_grad():
        for conv, (kernel, bias) in zip((model.stem, model.first, model.second), zip(weights[0:6:2], weights[1:6:2])):
            conv.weight.copy_(torch.from_numpy(numpy.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
            conv.bias.copy_(torch.from_numpy(bias))
        model.head.weight.copy_(torch.from_numpy(numpy.ascontiguousarray(dense.T)))
        model.head.bias.copy_(torch.from_numpy(weights[7]))
    return model


def test_models_agree_before_timing(data):
    torch = pytest.importorskip("torch")
    x = data[0][:BATCH]
    with backend.use("cpu"):
        expected = _nnkit_model().predict(x, verbose=0)
    assert_torch_agrees(torch, expected, _torch_model(torch), x)


def test_nnkit_numpy_residual_train_step(benchmark, data):
    with backend.use("cpu"):
        benchmark_nnkit_step(benchmark, _nnkit_model(), data[0][:BATCH], data[1][:BATCH])


def test_nnkit_numpy_residual_fit_epoch(benchmark, data):
    with backend.use("cpu"):
        model = _nnkit_model()
        model.fit(*data, batch_size=BATCH, epochs=1, verbose=0)
        wait_for_idle_threads()
        benchmark(lambda: model.fit(*data, batch_size=BATCH, epochs=1, verbose=0))


def _torch_training(data):
    torch = pytest.importorskip("torch")
    return torch_training(torch, _torch_model(torch), data, BATCH)


def test_torch_cpu_residual_train_step(benchmark, data):
    x, y, step, _ = _torch_training(data)
    benchmark_torch_step(benchmark, step, x[:BATCH], y[:BATCH])


def test_torch_cpu_residual_epoch(benchmark, data):
    _, _, _, epoch = _torch_training(data)
    epoch()
    wait_for_idle_threads()
    benchmark(epoch)
