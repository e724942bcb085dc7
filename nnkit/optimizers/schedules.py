"""Learning-rate schedules (Keras' names, arguments and formulas): callables of the step number, accepted
wherever a learning rate is (``Adam(learning_rate=ExponentialDecay(1e-3, 1000, 0.9))``). The optimizer
calls the schedule with its step count before each update (0 for the first)."""
import math

from .._arguments import non_negative_number, number, positive_number
from .._registry import Registry

class LearningRateSchedule:
    """Base of the learning-rate schedules: ``schedule(step)`` returns the rate for the 0-based step
    number (the optimizer's ``iterations`` before the step).
    """
    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments (by default every instance attribute)."""
        return dict(vars(self))

    @classmethod
    def from_config(cls, config):
        """A new schedule from a ``get_config()`` dict."""
        return cls(**config)


registry = Registry("learning rate schedule", base_class=LearningRateSchedule)


@registry.register("exponential_decay")
class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is
    floored, so the rate drops every ``decay_steps`` steps.

    ``initial_learning_rate`` is a finite number >= 0, ``decay_steps`` and ``decay_rate`` finite numbers > 0.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = non_negative_number("ExponentialDecay", "initial_learning_rate",
                                                         initial_learning_rate)
        self.decay_steps = positive_number("ExponentialDecay", "decay_steps", decay_steps)
        self.decay_rate = positive_number("ExponentialDecay", "decay_rate", decay_rate)
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate ** exponent


@registry.register("piecewise_constant_decay")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while ``step <= boundaries[1]``, ...,
    ``values[-1]`` after the last boundary. Boundaries are finite increasing numbers, values finite numbers >= 0.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(500)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: expected len(values) == len(boundaries) + 1. Received: "
                             f"{len(boundaries)} boundaries and {len(values)} values.")
        boundaries = [number("PiecewiseConstantDecay", "boundaries", b) for b in boundaries]
        if any(b >= a for a, b in zip(boundaries[1:], boundaries)):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase. Received: {boundaries}")
        self.boundaries = boundaries
        self.values = [non_negative_number("PiecewiseConstantDecay", "values", v) for v in values]
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]


@registry.register("cosine_decay")
class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter 2017), with an optional linear warm-up (Goyal et al. 2017).

    Without warm-up: ``initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``
    with ``s = min(step, decay_steps)``. With ``warmup_target`` and ``warmup_steps``, the rate first rises
    linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then decays
    from ``warmup_target`` as above over the next ``decay_steps`` steps.

    Args:
        initial_learning_rate: a finite number >= 0.
        decay_steps: a finite number > 0.
        alpha: 0.0, the final rate as a fraction of the peak, in [0, 1].
        warmup_target: None, or a finite number >= 0.
        warmup_steps: 0, a finite number >= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = non_negative_number("CosineDecay", "initial_learning_rate", initial_learning_rate)
        self.decay_steps = positive_number("CosineDecay", "decay_steps", decay_steps)
        self.alpha = number("CosineDecay", "alpha", alpha, low=0, high=1)
        self.name = name
        self.warmup_target = (None if warmup_target is None else
                              non_negative_number("CosineDecay", "warmup_target", warmup_target))
        self.warmup_steps = non_negative_number("CosineDecay", "warmup_steps", warmup_steps)

    def _decay(self, step, peak):
        fraction = step / self.decay_steps
        return peak * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * fraction)) + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * fraction
        return self._decay(step - self.warmup_steps, self.warmup_target)


def serialize(schedule):
    """``{"class_name": ..., "config": {...}}``, as an optimizer's config stores a schedule."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule that ``serialize`` described."""
    return registry.get(config)


def get(identifier):
    """A schedule from a schedule, a ``{"class_name", "config"}`` dict or a callable of the step."""
    return registry.get(identifier)
