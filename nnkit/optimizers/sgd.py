from .. import primitives
from .._arguments import number
from .base import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum; Keras' defaults.

    Args:
        learning_rate: 0.01. momentum: 0.0, in [0, 1]. nesterov: False.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = number("SGD", "momentum", momentum, low=0, high=1), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update(self, params, grads, slots, learning_rate):
        primitives.sgd_step(params, grads, slots.get("momentum"), learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
