"""One ``get()`` per family: a string identifier, an instance, a callable or a config dict resolves to an object."""
import re


def snake_case(name):
    """Keras' naming: ``"GlorotUniform"`` -> ``"glorot_uniform"``, ``"Conv2D"`` -> ``"conv2d"``,
    ``"SimpleRNN"`` -> ``"simple_rnn"``; snake_case names pass through."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """Maps Keras identifiers (``"adam"``, ``"relu"``...) to factories."""

    def __init__(self, family, base_class=None):
        self.family = family
        self.base_class = base_class
        self._factories = {}

    def register(self, *names):
        """Decorator that registers the decorated factory under each of ``names``."""
        def decorator(factory):
            for key in names:
                self._factories[key] = factory
            return factory
        return decorator

    def _object_phrase(self):
        article = "an" if self.family[0] in "aeiou" else "a"
        return f"{article} {self.family} object"

    def names(self):
        """The registered identifiers, sorted."""
        return sorted(self._factories)

    def get(self, identifier, **kwargs):
        """Resolve ``identifier`` to an object.

        A registered name (matched lower-cased or snake_cased, so ``"Adam"`` and ``"GlorotUniform"`` work) or a
        ``{"class_name": ..., "config": {...}}`` dict calls the factory with the config and ``kwargs``; an
        instance of ``base_class`` or any other callable is returned as it is. Anything else is a ValueError
        listing the known names.
        """
        if self.base_class is not None and isinstance(identifier, self.base_class):
            return identifier
        if isinstance(identifier, str):
            # "adam", "Adam", "GlorotUniform" and "RMSprop" all name registered entries.
            key = next((k for k in (identifier.lower(), snake_case(identifier)) if k in self._factories), None)
            if key is None:
                raise ValueError(f"Unknown {self.family} {identifier!r}. Expected one of: "
                                 f"{', '.join(self.names())}, or {self._object_phrase()}.")
            return self._factories[key](**kwargs)
        if isinstance(identifier, dict) and "class_name" in identifier:
            return self.get(identifier["class_name"], **identifier.get("config", {}))
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.family} identifier: {identifier!r}. Expected a "
                         f"string (one of {', '.join(self.names())}), {self._object_phrase()} or a callable.")
