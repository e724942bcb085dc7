def format_shape(shape):
    """Keras' way of printing a shape with an unknown batch axis: ``(None, 28, 28, 1)``."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def format_shapes(shapes):
    """One shape as ``format_shape`` prints it, or several (a list or a dict of them) joined by ", "."""
    if isinstance(shapes, dict):
        shapes = list(shapes.values())
    if isinstance(shapes, list):
        return ", ".join(format_shape(shape) for shape in shapes)
    return format_shape(shapes)
