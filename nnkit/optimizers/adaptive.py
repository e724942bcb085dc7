"""Adagrad and RMSprop: per-parameter step sizes from accumulated squared gradients (Keras' update rules)."""
from .. import backend
from .._arguments import non_negative_number, number, positive_number
from .base import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): ``acc += g^2; p -= lr * g / sqrt(acc + epsilon)``.

    Args:
        learning_rate: 0.001. initial_accumulator_value: 0.1, >= 0. epsilon: 1e-7, > 0.
    """
    slot_names = ("accumulator",)
    non_negative_slots = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = non_negative_number("Adagrad", "initial_accumulator_value",
                                                             initial_accumulator_value)
        self.epsilon = positive_number("Adagrad", "epsilon", epsilon)

    def build(self, store):
        super().build(store)
        self.slots["accumulator"].fill(self.initial_accumulator_value)

    def update(self, params, grads, slots, learning_rate):
        xp = backend.get_array_module(params)
        accumulator = slots["accumulator"]
        accumulator += grads * grads
        params -= learning_rate * grads / xp.sqrt(accumulator + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop (Hinton 2012), Keras' form::

        v = rho * v + (1 - rho) * g^2
        mg = rho * mg + (1 - rho) * g                  (centered only)
        step = lr * g / sqrt(v - mg^2 + epsilon)        (mg = 0 unless centered)
        p -= step, or with momentum:  u = momentum * u + step;  p -= u

    Args:
        learning_rate: 0.001. rho: 0.9, in [0, 1). momentum: 0.0, in [0, 1]. epsilon: 1e-7, > 0. centered: False.
    """

    non_negative_slots = ("velocity",)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = number("RMSprop", "rho", rho, low=0, high=1, high_open=True)
        self.momentum = number("RMSprop", "momentum", momentum, low=0, high=1)
        self.epsilon = positive_number("RMSprop", "epsilon", epsilon)
        self.centered = centered
        self.slot_names = ("velocity",) + (("average_gradient",) if centered else ()) + \
            (("momentum",) if self.momentum else ())

    def update(self, params, grads, slots, learning_rate):
        xp = backend.get_array_module(params)
        velocity = slots["velocity"]
        velocity *= self.rho
        velocity += (1 - self.rho) * grads * grads
        denominator = velocity + self.epsilon
        if self.centered:
            average = slots["average_gradient"]
            average *= self.rho
            average += (1 - self.rho) * grads
            denominator -= average * average
        step = learning_rate * grads / xp.sqrt(denominator)
        if self.momentum:
            momentum = slots["momentum"]
            momentum *= self.momentum
            momentum += step
            step = momentum
        params -= step

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
