"""Reading and setting the optimizer's learning rate from a callback."""
import math
import numbers


def current_learning_rate(model, callback):
    """The optimizer's learning rate as a float; an error when it is a schedule (a callable)."""
    optimizer = _optimizer(model, callback)
    if callable(optimizer.learning_rate):
        raise TypeError(f"{callback} sets the learning rate, but the optimizer's learning_rate is a schedule "
                        f"({optimizer.learning_rate!r}). Compile with a number instead.")
    return float(optimizer.learning_rate)


def set_learning_rate(model, value, callback):
    """Give the optimizer a new (finite, non-negative) learning rate; takes effect from the next step."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{callback}: the learning rate must be a finite non-negative number. Received: {value!r}")
    current_learning_rate(model, callback)
    _optimizer(model, callback).learning_rate = float(value)


def _optimizer(model, callback):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{callback} needs a compiled model (it changes the optimizer's learning rate).")
    return optimizer
