import math

from .. import primitives
from .._arguments import non_negative_number, number, positive_number
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"), as Keras applies it: the bias
    correction folded into the step size and ``epsilon`` added to ``sqrt(v)``.

    Args:
        learning_rate: 0.001. beta_1: 0.9 and beta_2: 0.999, each in [0, 1). epsilon: 1e-7, > 0.
    """
    slot_names = ("m", "v")
    non_negative_slots = ("v",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        owner = type(self).__name__
        self.beta_1 = number(owner, "beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = number(owner, "beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = positive_number(owner, "epsilon", epsilon)

    def update(self, params, grads, slots, learning_rate):
        t = self.iterations
        alpha = learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        primitives.adam_step(params, grads, slots["m"], slots["v"], alpha, self.beta_1, self.beta_2,
                      self.epsilon, self.decoupled_decay(learning_rate))

    def decoupled_decay(self, learning_rate):
        """The factor ``d`` of the decoupled weight decay ``p *= 1 - d`` applied before this step: 0 for Adam."""
        return 0.0

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``p -= learning_rate * weight_decay * p``
    before each Adam step, as Keras does. Keras' default ``weight_decay`` is 0.004 (a finite number >= 0)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.weight_decay = non_negative_number("AdamW", "weight_decay", weight_decay)

    def decoupled_decay(self, learning_rate):
        return learning_rate * self.weight_decay

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}
