"""Reading the weights of a Keras 3 ``.weights.h5`` file (``keras_model.save_weights(...)``) into nnkit.

Keras 3 writes one group per layer under ``layers/``, named like nnkit's stable layer keys (class name in
snake case, numbered per class: ``layers/dense``, ``layers/dense_1``), with the layer's variables as
datasets ``vars/0``, ``vars/1``... in the order of its ``get_weights()``. Recurrent layers keep theirs one
level down (``layers/lstm/cell/vars/0``). nnkit's weight layouts are Keras', so the arrays load as they are.
h5py is needed only here: ``pip install nnkit[h5]``.
"""
from .files import WeightsFileError
from .model import Model


def read_weights(model, path):
    """The weights of ``model`` from the Keras file at ``path``, in ``model.get_weights()`` order."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading a Keras .weights.h5 file needs h5py: pip install nnkit[h5] "
                          "(or pip install h5py).") from None
    with h5py.File(path, "r") as handle:
        if "layers" not in handle:
            raise WeightsFileError(f"'{path}' is an HDF5 file but not a Keras 3 weights file: it has no 'layers' "
                                   f"group (top-level entries: {sorted(handle.keys())}). Keras 2 .h5 files are "
                                   f"not supported; re-save the model with Keras 3.")
        values, problems = [], []
        _read_container(model, handle["layers"], values, problems, "")
        if problems:
            raise WeightsFileError(f"The Keras weights in '{path}' do not fit model '{model.name}': "
                                   + "; ".join(problems) + ".")
    return values


def _read_container(model, groups, values, problems, path):
    """Append the weights of ``model``'s layers from ``groups`` (Keras' ``layers`` group of a model, one group per
    layer; a nested model's layers one level down under its own ``layers``)."""
    named = model.named_sublayers()
    for key, layer in named:
        if isinstance(layer, Model) and key in groups and "layers" in groups[key]:
            _read_container(layer, groups[key]["layers"], values, problems, f"{path}{key}/")
            continue
        specs = layer._weight_specs
        arrays = _layer_variables(groups[key]) if key in groups else []
        expected = [tuple(getattr(layer, spec.name).shape) for spec in specs]
        found = [tuple(array.shape) for array in arrays]
        if specs and key not in groups:
            problems.append(f"layer '{path}{key}' ({type(layer).__name__}) is not in the file")
        elif found != expected:
            problems.append(f"layer '{path}{key}' ({type(layer).__name__}) has weights of shapes {found} in the "
                            f"file, {expected} in the model")
        else:
            values.extend(array[()] for array in arrays)
    weighted_in_file = {name for name in groups if _layer_variables(groups[name])}
    extra = sorted(weighted_in_file - {key for key, _ in named})
    if extra:
        problems.append(f"the file has weights for layers the model lacks: {', '.join(path + e for e in extra)}")


def _layer_variables(group):
    """The datasets under ``group``'s ``vars`` (numeric order), then those of its sub-groups (name order)."""
    found = []
    if "vars" in group:
        variables = group["vars"]
        found.extend(variables[name] for name in sorted(variables, key=int))
    for name in sorted(group):
        if name != "vars" and hasattr(group[name], "keys"):
            found.extend(_layer_variables(group[name]))
    return found
