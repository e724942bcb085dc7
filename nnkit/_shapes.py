def format_shape(shape):
    """Keras' way of printing a shape with an unknown batch axis: ``(None, 28, 28, 1)``."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
