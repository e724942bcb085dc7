"""``model.summary()``: Keras' table of layers, output shapes and parameter counts; for a graph that is not a
chain also what each layer is connected to (``layer[call][output]``, as Keras prints it)."""
import math

from .._shapes import format_shapes

CHAIN_COLUMNS = (("Layer (type)", 33, "<"), ("Output Shape", 24, "<"), ("Param #", 15, ">"))
GRAPH_COLUMNS = (("Layer (type)", 31, "<"), ("Output Shape", 27, "<"), ("Param #", 17, ">"),
                 ("Connected to", 28, "<"))


def _row(cells, columns, left, middle, right):
    parts = [f" {text:{align}{width - 2}} " for text, (_, width, align) in zip(cells, columns)]
    return left + middle.join(parts) + right


def _rule(columns, left, fill, middle, right):
    return left + middle.join(fill * width for _, width, _ in columns) + right


def _bytes(count, itemsize):
    size = count * itemsize
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _wrap(text, width):
    """``text`` split at ", " into lines of at most ``width`` characters (a longer piece stays whole)."""
    lines = []
    for piece in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(piece) <= width:
            lines[-1] += ", " + piece
        else:
            if lines:
                lines[-1] += ","
            lines.append(piece)
    return lines or [""]


def _is_chain(graph):
    nodes = graph.nodes
    return (len(graph.flat_inputs) == 1 and len(graph.flat_outputs) == 1
            and all(len(node.flat_inputs) == 1 and not node.multiple_outputs for node in nodes)
            and len({node.layer for node in nodes}) == len(nodes)
            and all(node.flat_inputs[0].node is (nodes[i - 1] if i else graph.flat_inputs[0].node)
                    for i, node in enumerate(nodes)))


def summary_lines(model):
    """The lines of ``model.summary()``: a table of layers, output shapes and parameter counts, then the totals."""
    from .functional import Functional
    graph = model.graph
    connected = isinstance(model, Functional) and not _is_chain(graph)
    columns = GRAPH_COLUMNS if connected else CHAIN_COLUMNS
    layers = model.layers if graph is None or not connected else graph.layers
    call_index = {}
    if connected:
        for layer in layers:
            for index, node in enumerate(n for n in layer.inbound_nodes if n in graph.nodes or not n.flat_inputs):
                call_index[node] = index
    lines = [f'Model: "{model.name}"', _rule(columns, "┏", "━", "┳", "┓"),
             _row([title for title, _, _ in columns], columns, "┃", "┃", "┃"), _rule(columns, "┡", "━", "╇", "┩")]
    for position, layer in enumerate(layers):
        count = layer.count_params() if layer.built else 0
        shape = getattr(layer, "output_shape", None) if layer.built else None
        cells = [f"{layer.name} ({type(layer).__name__})", format_shapes(shape),
                 f"{count:,}" if layer.built else "0 (unbuilt)"]
        extra = [[""] * len(columns)]
        if connected:
            calls = [node for node in layer.inbound_nodes if node in graph.nodes]
            sources = [f"{t.node.layer.name}[{call_index[t.node]}][{t.index}]" for node in calls for t in node.flat_inputs]
            wrapped = _wrap(", ".join(sources), columns[3][1] - 2) if sources else ["-"]
            cells.append(wrapped[0])
            extra = [["", "", "", text] for text in wrapped[1:]]
        lines.append(_row(cells, columns, "│", "│", "│"))
        lines.extend(_row(cells, columns, "│", "│", "│") for cells in extra if any(cells))
        if position < len(layers) - 1:
            lines.append(_rule(columns, "├", "─", "┼", "┤"))
    lines.append(_rule(columns, "└", "─", "┴", "┘"))
    weights = model.weights if model.built else []
    total = sum(math.prod(w.shape) for w in weights)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights) if model.built else 0
    itemsize = weights[0].dtype.itemsize if weights else 4
    lines += [f" Total params: {total:,} ({_bytes(total, itemsize)})",
              f" Trainable params: {trainable:,} ({_bytes(trainable, itemsize)})",
              f" Non-trainable params: {total - trainable:,} ({_bytes(total - trainable, itemsize)})"]
    return lines
