"""The one layer (de)serializer: ``{"class_name": ..., "config": layer.get_config()}`` and back, for files,
wrappers and models alike. Custom classes come from ``custom_objects``, which reaches layers nested in
wrappers and models too (as Keras' custom object scope)."""
import contextlib

from .base import LAYER_CLASSES, Layer

_custom_objects = [{}]


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within the block, ``deserialize`` also finds the classes in ``custom_objects`` (``{"Name": class}``)."""
    _custom_objects.append({**_custom_objects[-1], **(custom_objects or {})})
    try:
        yield
    finally:
        _custom_objects.pop()


def serialize(layer):
    """``{"class_name": ..., "config": layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(entry, custom_objects=None):
    """The layer (or model) ``serialize`` described; an unknown class is a ValueError naming the known ones."""
    with custom_object_scope(custom_objects):
        class_name = entry["class_name"]
        cls = layer_class(class_name)
        if cls is None:
            raise ValueError(f"Unknown layer class '{class_name}' in the saved architecture. nnkit has: "
                             f"{', '.join(sorted(LAYER_CLASSES))}. Pass custom layers and models as "
                             f"custom_objects={{'{class_name}': {class_name}}}.")
        return cls.from_config(dict(entry["config"]))


def layer_class(class_name):
    """The Layer class named ``class_name``: a custom object in scope first, then nnkit's; None when neither."""
    cls = _custom_objects[-1].get(class_name) or LAYER_CLASSES.get(class_name)
    return cls if isinstance(cls, type) and issubclass(cls, Layer) else None
