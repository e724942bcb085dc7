"""Training the Keras MNIST CNN on the CPU: nnkit on NumPy against PyTorch (when installed).

The model: Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dense(10, softmax),
Adam, sparse categorical cross-entropy, batch 64, on MNIST-shaped data (28x28x1; random pixels: full MNIST
cannot be downloaded here, and the time of a step does not depend on the pixel values). Both libraries get
the same batches and the same initial weights (the outputs are checked to agree before timing). A step is
forward, loss and its gradient, backward and the optimizer update; an "epoch" is 20 shuffled batches through
nnkit's public ``fit`` and through a plain PyTorch loop over a ``randperm``.

    python -m pytest benchmarks/test_cnn_cpu.py --benchmark-columns=min,median,iqr,rounds

Both libraries run in this one process, so each timing starts only when the other library's thread pools are
provably idle (``wait_for_idle_threads``: no other thread of the process used CPU time for 50 ms). Without it,
PyTorch timed right after NumPy ran 1.5x slower than in a process of its own (OpenBLAS' threads were still
spinning) and this file reported nnkit at 0.73x PyTorch where separate processes gave 1.26x (issue 15). The
figures to quote come from ``benchmarks/cpu_training_race.py``, which runs each library in its own process.
"""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D

from training_step import (assert_torch_agrees, benchmark_nnkit_step, benchmark_torch_step,
                           torch_training, wait_for_idle_threads)

BATCH, SIZE, FILTERS, HIDDEN, CLASSES, EPOCH_BATCHES = 64, 28, 32, 128, 10, 20
POOLED = (SIZE - 2) // 2  # 13


@pytest.fixture(scope="module")
def data():
    rng = numpy.random.default_rng(0)
    count = BATCH * EPOCH_BATCHES
    return rng.random((count, SIZE, SIZE, 1), dtype=numpy.float32), rng.integers(0, CLASSES, count)


def _nnkit_model():
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([Input(shape=(SIZE, SIZE, 1)), Conv2D(FILTERS, (3, 3), activation="relu"),
                              MaxPooling2D((2, 2)), Flatten(), Dense(HIDDEN, activation="relu"),
                              Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _torch_model(torch):
    """The same network in PyTorch (NCHW), holding nnkit's initial weights."""
    kernel, conv_bias, dense_kernel, dense_bias, out_kernel, out_bias = _nnkit_model().get_weights()
    model = torch.nn.Sequential(torch.nn.Conv2d(1, FILTERS, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(POOLED * POOLED * FILTERS, HIDDEN),
                                torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    # nnkit flattens (h, w, c), torch (c, h, w): permute the rows of the first dense kernel to match.
    dense_kernel = dense_kernel.reshape(POOLED, POOLED, FILTERS, HIDDEN).transpose(2, 0, 1, 3).reshape(-1, HIDDEN)
    with torch.no_grad():
        for parameter, value in ((model[0].weight, kernel.transpose(3, 2, 0, 1)), (model[0].bias, conv_bias),
                                 (model[4].weight, dense_kernel.T), (model[4].bias, dense_bias),
                                 (model[6].weight, out_kernel.T), (model[6].bias, out_bias)):
            parameter.copy_(torch.from_numpy(numpy.ascontiguousarray(value)))
    return model


def test_models_agree_before_timing(data):
    torch = pytest.importorskip("torch")
    x = data[0][:BATCH]
    with backend.use("cpu"):
        expected = _nnkit_model().predict(x, verbose=0)
    assert_torch_agrees(torch, expected, _torch_model(torch), x)


def test_nnkit_numpy_cnn_train_step(benchmark, data):
    with backend.use("cpu"):
        benchmark_nnkit_step(benchmark, _nnkit_model(), data[0][:BATCH], data[1][:BATCH])


def test_nnkit_numpy_cnn_fit_epoch(benchmark, data):
    """20 batches through the public fit(): adds batch gathering, the shuffle and the callbacks."""
    with backend.use("cpu"):
        model = _nnkit_model()
        model.fit(*data, batch_size=BATCH, epochs=1, verbose=0)
        wait_for_idle_threads()
        benchmark(lambda: model.fit(*data, batch_size=BATCH, epochs=1, verbose=0))


def _torch_training(data):
    torch = pytest.importorskip("torch")
    return torch_training(torch, _torch_model(torch), data, BATCH)


def test_torch_cpu_cnn_train_step(benchmark, data):
    x, y, step, _ = _torch_training(data)
    benchmark_torch_step(benchmark, step, x[:BATCH], y[:BATCH])


def test_torch_cpu_cnn_epoch(benchmark, data):
    _, _, _, epoch = _torch_training(data)
    epoch()
    wait_for_idle_threads()
    benchmark(epoch)
