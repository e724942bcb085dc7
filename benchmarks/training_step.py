"""One training step exactly as ``fit`` runs it per batch, for the benchmarks to time; and the check that the other
library's thread pools are idle before a timing starts."""
import os
import threading
import time

import numpy
import pytest

from nnkit import backend


def wait_for_idle_threads(window=0.05, timeout=10.0):
    """Block until no thread of this process but the caller used CPU time for ``window`` seconds.

    nnkit and PyTorch benchmarks share a process here: OpenBLAS' threads (NumPy) busy-wait for a while after each
    parallel GEMM, and so do OpenMP's (PyTorch), slowing whichever library is timed next (PyTorch ran 1.5x slower
    right after NumPy, issue 15). Timing starts only once the counters in /proc say that every other thread sleeps.
    Where /proc is missing (not Linux) it waits ``window`` seconds instead. Fails after ``timeout`` seconds.
    """
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        time.sleep(window)
        return
    me = str(threading.get_native_id())
    deadline = time.monotonic() + timeout

    def cpu_ticks():
        total = 0
        for task in os.listdir(tasks):
            if task == me:
                continue
            try:
                with open(f"{tasks}/{task}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total
    before = cpu_ticks()
    while time.monotonic() < deadline:
        time.sleep(window)
        after = cpu_ticks()
        if after == before:
            return
        before = after
    pytest.fail(f"other threads of this process kept using CPU for {timeout} s: timings would be unfair")


def one_step(model, x, y):
    """A closure running the model's public ``train_step`` (forward, fused loss, backward, optimizer update) on
    the fixed batch ``(x, y)``, already on the backend as ``fit`` puts it there."""
    x = backend.to_device(x, dtype=backend.floatx())
    y = backend.to_device(y)
    return lambda: model.train_step((x, y))


def benchmark_nnkit_step(benchmark, model, x, y, warm_up=10):
    """Warm up nnkit's ``train_step`` on one batch, check that the loss went down, then time it."""
    step = one_step(model, x, y)
    before = model.evaluate(x, y, verbose=0)[0]
    for _ in range(warm_up):
        step()
    assert model.evaluate(x, y, verbose=0)[0] < before
    wait_for_idle_threads()
    benchmark(step)


def torch_training(torch, model, data, batch_size):
    """The PyTorch side of a CNN benchmark: Adam (Keras' epsilon), cross-entropy, NHWC ``data`` moved to NCHW.
    Returns ``(x, y, step, epoch)``: ``step(x_batch, y_batch)`` trains on one batch and returns its loss,
    ``epoch()`` runs over all of ``data`` in ``randperm`` order."""
    torch.set_num_threads(2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(data[0].transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(data[1])

    def step(x_batch, y_batch):
        optimizer.zero_grad()
        loss = loss_fn(model(x_batch), y_batch)
        loss.backward()
        optimizer.step()
        return loss

    def epoch():
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            step(x[index], y[index])
    return x, y, step, epoch


def benchmark_torch_step(benchmark, step, x, y, warm_up=10):
    """Warm up ``step`` on one batch, check that the loss went down, then time it."""
    first = step(x, y).item()
    for _ in range(warm_up):
        step(x, y)
    assert step(x, y).item() < first
    wait_for_idle_threads()
    benchmark(step, x, y)


def assert_torch_agrees(torch, nnkit_probabilities, torch_model, x):
    """The torch model's softmax on NHWC ``x`` equals nnkit's predicted probabilities."""
    logits = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    numpy.testing.assert_allclose(torch.softmax(logits, dim=1).detach().numpy(), nnkit_probabilities,
                                  rtol=1e-4, atol=1e-6)
