"""One training step exactly as ``fit`` runs it per batch, for the benchmarks to time."""
from nnkit import backend


def one_step(model, x, y):
    """A closure running the model's public ``train_step`` (forward, fused loss, backward, optimizer update) on
    the fixed batch ``(x, y)``, already on the backend as ``fit`` puts it there."""
    x = backend.to_device(x, dtype=backend.floatx())
    y = backend.to_device(y)
    return lambda: model.train_step((x, y))
