"""Weight penalties added to the loss: L1, L2, L1L2 (Keras' names and defaults)."""
from . import backend
from ._registry import Registry

registry = Registry("regularizer")


class Regularizer:
    """``penalty(w)`` is added to the loss; ``gradient(w)`` to the weight's gradient."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weights):
        return self.penalty(weights)

    def penalty(self, w):
        """``l1 * sum(|w|) + l2 * sum(w ** 2)`` (the plain number 0.0 when both factors are 0)."""
        xp = backend.get_array_module(w)
        total = 0.0
        if self.l1:
            total = total + self.l1 * xp.abs(w).sum()
        if self.l2:
            total = total + self.l2 * xp.vdot(w, w)
        return total

    def add_gradient(self, w, grad):
        """``grad += d penalty / dw``, in place."""
        xp = backend.get_array_module(w)
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2 * self.l2) * w

    def get_config(self):
        """The factors, ``{"l1": ..., "l2": ...}``."""
        return {"l1": self.l1, "l2": self.l2}


@registry.register("l1")
class L1(Regularizer):
    """``l1 * sum(|w|)``; ``l1`` defaults to 0.01."""
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        """``{"l1": ...}``."""
        return {"l1": self.l1}


@registry.register("l2")
class L2(Regularizer):
    """``l2 * sum(w ** 2)``; ``l2`` defaults to 0.01. Its gradient is ``2 * l2 * w``."""
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        """``{"l2": ...}``."""
        return {"l2": self.l2}


@registry.register("l1_l2", "l1l2")
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``; both factors default to 0.0, as in Keras."""
    pass


l1 = L1
l2 = L2
l1_l2 = L1L2


def get(identifier):
    """A Regularizer from a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict or an instance; None stays None."""
    if identifier is None:
        return None
    return registry.get(identifier)


def serialize(regularizer):
    """``{"class_name": ..., "config": {...}}`` for a model file, or None for no regularizer."""
    return None if regularizer is None else {"class_name": type(regularizer).__name__,
                                             "config": regularizer.get_config()}
