"""``model.summary()``: Keras' table of layers, output shapes and parameter counts."""
import math

from .._shapes import format_shape

COLUMNS = (("Layer (type)", 33, "<"), ("Output Shape", 24, "<"), ("Param #", 15, ">"))


def _row(cells, left, middle, right):
    parts = [f" {text:{align}{width - 2}} " for text, (_, width, align) in zip(cells, COLUMNS)]
    return left + middle.join(parts) + right


def _rule(left, fill, middle, right):
    return left + middle.join(fill * width for _, width, _ in COLUMNS) + right


def _bytes(count, itemsize):
    size = count * itemsize
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def summary_lines(model):
    """The lines of ``model.summary()``: a table of layers, output shapes and parameter counts, then the totals."""
    lines = [f'Model: "{model.name}"',
             _rule("┏", "━", "┳", "┓"),
             _row([title for title, _, _ in COLUMNS], "┃", "┃", "┃"),
             _rule("┡", "━", "╇", "┩")]
    for index, layer in enumerate(model.layers):
        count = layer.count_params() if layer.built else 0
        shape = getattr(layer, "output_shape", None) if layer.built else None
        lines.append(_row([f"{layer.name} ({type(layer).__name__})", format_shape(shape),
                           f"{count:,}" if layer.built else "0 (unbuilt)"], "│", "│", "│"))
        if index < len(model.layers) - 1:
            lines.append(_rule("├", "─", "┼", "┤"))
    lines.append(_rule("└", "─", "┴", "┘"))
    trainable = sum(math.prod(w.shape) for layer in model.layers if layer.built for w in layer.trainable_weights)
    total = sum(layer.count_params() for layer in model.layers if layer.built)
    itemsize = 4 if not model.layers or not model.layers[0].built or not model.layers[0].weights \
        else model.layers[0].weights[0].dtype.itemsize
    lines += [f" Total params: {total:,} ({_bytes(total, itemsize)})",
              f" Trainable params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Non-trainable params: {total - trainable:,} ({_bytes(total - trainable, itemsize)})"]
    return lines
