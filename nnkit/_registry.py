"""One ``get()`` per family: a string identifier, an instance, a callable or a config dict resolves to an object."""
import re


def snake_case(name):
    """``"GlorotUniform"`` -> ``"glorot_uniform"``; snake_case names pass through."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Registry:
    """Maps Keras identifiers (``"adam"``, ``"relu"``...) to factories."""

    def __init__(self, family, base_class=None):
        self.family = family
        self.base_class = base_class
        self._factories = {}

    def register(self, *names):
        def decorator(factory):
            for key in names:
                self._factories[key] = factory
            return factory
        return decorator

    def names(self):
        return sorted(self._factories)

    def get(self, identifier, **kwargs):
        if self.base_class is not None and isinstance(identifier, self.base_class):
            return identifier
        if isinstance(identifier, str):
            key = snake_case(identifier)
            if key not in self._factories:
                raise ValueError(f"Unknown {self.family} {identifier!r}. Expected one of: "
                                 f"{', '.join(self.names())}, or a {self.family} object.")
            return self._factories[key](**kwargs)
        if isinstance(identifier, dict) and "class_name" in identifier:
            return self.get(identifier["class_name"], **identifier.get("config", {}))
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.family} identifier: {identifier!r}. Expected a "
                         f"string (one of {', '.join(self.names())}), a {self.family} object or a callable.")
