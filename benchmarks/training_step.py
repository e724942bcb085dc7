"""One training step exactly as ``fit`` runs it per batch, for the benchmarks to time."""
from nnkit import backend


def one_step(model, x, y):
    """A closure running forward, loss, backward and the optimizer step on the fixed batch ``(x, y)``."""
    x, y = model._prepare(x, y)
    model._ensure_store()
    totals = backend.xp().zeros(1 + len(model._compiled_metrics), dtype=backend.floatx())
    return lambda: model._train_step(x, y, totals)
