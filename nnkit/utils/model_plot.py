"""``plot_model``: a model's graph of layers drawn with Graphviz (needs pydot and Graphviz: ``nnkit-keras[graph]``)."""
import os

from .._shapes import format_shapes


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False):
    """Draw ``model``'s layers and how their calls connect, as Keras' ``plot_model`` does.

    Args:
        model: a built model (functional, Sequential or subclassed).
        to_file: the image to write; its suffix picks the format (``.png``, ``.svg``, ``.pdf``...). A ``.dot``
            file is the Graphviz source, written without Graphviz installed.
        show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable: what each box shows.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: draw the layers of nested models inside a cluster instead of one box.
        dpi: the image resolution.

    Returns ``to_file``.
    """
    try:
        import pydot
    except ImportError as error:
        raise ImportError("plot_model needs pydot and Graphviz. Install them with `pip install nnkit-keras[graph]` and "
                          "Graphviz from your system's packages (e.g. `apt-get install graphviz`).") from error
    if getattr(model, "graph", None) is None:
        raise ValueError(f"Model '{model.name}' is not built yet: call it on data or build(input_shape) first.")
    options = dict(show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                   show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=str(dpi), concentrate="true")
    dot.set_node_defaults(shape="record")
    _add_graph(pydot, dot, model, options, expand_nested, prefix="")
    extension = os.path.splitext(str(to_file))[1].lstrip(".").lower() or "png"
    if extension == "dot":
        with open(to_file, "w") as handle:
            handle.write(dot.to_string())
        return to_file
    try:
        dot.write(str(to_file), format=extension)
    except FileNotFoundError as error:
        raise OSError("plot_model needs the Graphviz programs (`dot`), which were not found. Install Graphviz "
                      "(e.g. `apt-get install graphviz`), or write a .dot file.") from error
    return to_file


def _add_graph(pydot, container, model, options, expand_nested, prefix):
    """Add a box per layer of ``model`` and an edge per connection; returns ``(entry ids, exit id)`` of the graph."""
    graph = model.graph
    entries, exits = {}, {}
    for layer in graph.layers:
        key = prefix + layer.name
        nested = getattr(layer, "graph", None)
        if expand_nested and nested is not None and layer is not model:
            cluster = pydot.Cluster(f"cluster_{key}", label=layer.name, style="dashed")
            inner_entries, inner_exit = _add_graph(pydot, cluster, layer, options, expand_nested, key + "/")
            container.add_subgraph(cluster)
            entries[layer], exits[layer] = inner_entries, inner_exit
            continue
        container.add_node(pydot.Node(key, label=_label(layer, options)))
        entries[layer], exits[layer] = [key], key
    for node in graph.nodes:
        for tensor in node.flat_inputs:
            for entry in entries[node.layer]:
                container.add_edge(pydot.Edge(exits[tensor.node.layer], entry))
    inputs = [entry for tensor in graph.flat_inputs for entry in entries[tensor.node.layer]]
    return inputs, exits[graph.flat_outputs[-1].node.layer]


def _label(layer, options):
    title = type(layer).__name__
    if options["show_layer_names"]:
        title = f"{layer.name} ({title})"
    activation = getattr(layer, "activation", None)
    if options["show_layer_activations"] and activation is not None:
        title += f" | activation: {activation.name}"
    if options["show_trainable"]:
        title += f" | trainable: {layer.trainable}"
    if options["show_dtype"]:
        title += f" | dtype: {layer.dtype or 'float'}"
    if options["show_shapes"]:
        title += f" | {{input: {format_shapes(getattr(layer, 'input_shape', None))} | " \
                 f"output: {format_shapes(getattr(layer, 'output_shape', None))}}}"
    return "{" + title.replace("<", "\\<").replace(">", "\\>") + "}"
