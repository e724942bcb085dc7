"""Optimizers with Keras' names, defaults and update rules; each is one vectorised update over the model's
flat parameter buffer."""
from .._registry import Registry
from .adam import Adam, AdamW
from .adaptive import Adagrad, RMSprop
from .base import Optimizer
from .sgd import SGD
from . import schedules

registry = Registry("optimizer", base_class=Optimizer)
registry.register("sgd")(SGD)
registry.register("adam")(Adam)
registry.register("adamw", "adam_w")(AdamW)
registry.register("adagrad")(Adagrad)
registry.register("rmsprop")(RMSprop)


def get(identifier):
    """An Optimizer from a name (``"adam"``, ``"RMSprop"``...), a ``{"class_name", "config"}`` dict or an
    instance; anything else is a ValueError listing the names.
    """
    optimizer = registry.get(identifier)
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"Expected an optimizer name ({', '.join(registry.names())}) or an "
                         f"nnkit.optimizers.Optimizer. Received: {identifier!r}")
    return optimizer
