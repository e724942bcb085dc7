"""One training step of the MLP from issue 2 on the CPU: nnkit on NumPy against PyTorch (when installed).

The model: 784-128(relu)-Dropout(0.2)-10(softmax), Adam, sparse categorical cross-entropy, batch 64. Both
libraries get the same batch and the same initial weights. A step is forward, loss and its gradient,
backward and the optimizer update: for nnkit the body of ``fit``'s batch loop (``Sequential._train_step``,
data already on the backend), for PyTorch ``zero_grad / forward / loss / backward / step``.

    python -m pytest benchmarks/test_mlp_cpu.py --benchmark-columns=min,median,mean,stddev,rounds

Run both in one session (the machine drifts): the ratio is nnkit's median over torch's.
"""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense, Dropout, Input

from training_step import benchmark_nnkit_step, wait_for_idle_threads

BATCH, FEATURES, HIDDEN, CLASSES = 64, 784, 128, 10


@pytest.fixture(scope="module")
def batch():
    rng = numpy.random.default_rng(0)
    return rng.random((BATCH, FEATURES), dtype=numpy.float32), rng.integers(0, CLASSES, BATCH)


def _nnkit_model():
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([Input(shape=(FEATURES,)), Dense(HIDDEN, activation="relu"), Dropout(0.2),
                              Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_nnkit_numpy_train_step(benchmark, batch):
    with backend.use("cpu"):
        benchmark_nnkit_step(benchmark, _nnkit_model(), *batch, warm_up=20)


def test_nnkit_numpy_fit_ten_batches(benchmark, batch):
    """The same steps through the public fit(): adds batch slicing, the shuffle and the callbacks."""
    x, y = numpy.tile(batch[0], (10, 1)), numpy.tile(batch[1], 10)
    with backend.use("cpu"):
        model = _nnkit_model()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        wait_for_idle_threads()
        benchmark(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0))


def test_torch_cpu_train_step(benchmark, batch):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    kernel_1, bias_1, kernel_2, bias_2 = _nnkit_model().get_weights()
    model = torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(HIDDEN, CLASSES))
    with torch.no_grad():  # the same initial weights (torch keeps kernels as (out, in))
        for layer, kernel, bias in ((model[0], kernel_1, bias_1), (model[3], kernel_2, bias_2)):
            layer.weight.copy_(torch.from_numpy(kernel.T.copy()))
            layer.bias.copy_(torch.from_numpy(bias))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    first = step().item()
    for _ in range(20):
        step()
    assert step().item() < first
    wait_for_idle_threads()
    benchmark(step)
