import math

from .. import primitives
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"), as Keras applies it: the bias
    correction folded into the step size and ``epsilon`` added to ``sqrt(v)``.

    Args:
        learning_rate: 0.001. beta_1: 0.9. beta_2: 0.999. epsilon: 1e-7.
    """
    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

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
    before each Adam step, as Keras does. Keras' default ``weight_decay`` is 0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.weight_decay = float(weight_decay)

    def decoupled_decay(self, learning_rate):
        return learning_rate * self.weight_decay

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}
