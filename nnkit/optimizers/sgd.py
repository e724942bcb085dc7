from .. import primitives
from .base import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum; Keras' defaults.

    Args:
        learning_rate: 0.01. momentum: 0.0. nesterov: False.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: expected momentum in [0, 1]. Received: momentum={momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update(self, params, grads, slots, learning_rate):
        primitives.sgd_step(params, grads, slots.get("momentum"), learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
