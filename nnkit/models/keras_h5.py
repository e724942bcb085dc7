"""Keras' HDF5 weight layouts: the Keras 3 ``.weights.h5`` file (read and written; also the ``model.weights.h5``
inside a ``.keras`` archive) and the ``model_weights`` group of a legacy Keras 2 ``.h5`` model file (read).

Keras 3 writes one group per layer under ``layers/``, named like nnkit's stable layer keys (class name in
snake case, numbered per class: ``layers/dense``, ``layers/dense_1``), with the layer's variables as datasets
``vars/0``, ``vars/1``... in the order of its ``get_weights()``; every layer (and the model itself, at the top)
has a ``vars`` group whose ``name`` attribute is the layer's name. A nested model's layers are one level down
(``layers/sequential/layers/dense/vars/0``); a layer's inner layers are named groups (``WEIGHT_GROUPS``:
``layers/lstm/cell/vars/0``, ``layers/bidirectional/forward_layer/cell/vars/0``,
``layers/multi_head_attention/query_dense/vars/0``). nnkit's weight layouts are Keras', so arrays pass as they are.

A legacy ``.h5`` file lists its layers in the ``layer_names`` attribute of ``model_weights`` and each layer's
datasets in its group's ``weight_names`` attribute; Keras matches them to the layers that have weights, in order.
h5py is needed only here: ``pip install nnkit-keras[h5]``.
"""
import math
import warnings

import numpy

from .. import backend
from .._registry import snake_case
from ..layers.rnn_base import Recurrent
from .files import WeightsFileError
from .model import Model

#: Keras' group names for the inner layers nnkit routes weights to (``"<key>/<weight>"``), where they differ.
WEIGHT_GROUPS = {("Bidirectional", "forward"): "forward_layer", ("Bidirectional", "backward"): "backward_layer"}
#: Keras' optimizer variables after ``iteration`` and ``learning_rate``, as nnkit's slot names: groups of slots,
#: each group interleaved over the trainable weights (Keras' ``add_optimizer_variables``), the groups in turn.
KERAS_OPTIMIZER_SLOTS = {"SGD": (("momentum",),), "Adam": (("m", "v"),), "AdamW": (("m", "v"),),
                         "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)),
                         "Adagrad": (("accumulator",),)}
OPTIMIZER_GROUP = "optimizer/vars"


def h5py_module():
    """h5py, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading or writing Keras' HDF5 files (.weights.h5, .keras, .h5) needs h5py: "
                          "pip install nnkit-keras[h5] (or pip install h5py).") from None
    return h5py


# ---- where each weight lives -------------------------------------------------------------------------------
def layer_groups(model, prefix=""):
    """``[(group path, layer, [(dataset path, weight name)])]`` for ``model`` and every layer in it, as Keras 3
    lays them out (a nested model's layers under its own ``layers`` group)."""
    groups = [(prefix, model, [])]
    for key, layer in model.named_sublayers():
        path = f"{prefix}layers/{key}"
        if isinstance(layer, Model):
            groups.extend(layer_groups(layer, path + "/"))
        else:
            groups.append((path, layer, [(f"{path}/{_weight_path(layer, spec.name)}", spec.name)
                                         for spec in layer._weight_specs]))
    return groups


def _weight_path(layer, name):
    """The path, inside ``layer``'s group, of its weight ``name`` (``"kernel"``, or ``"forward/kernel"`` for a
    weight of an inner layer)."""
    if "/" in name:
        key = name.split("/", 1)[0]
        inner, rest = layer._route(name)
        return f"{WEIGHT_GROUPS.get((type(layer).__name__, key), key)}/{_weight_path(inner, rest)}"
    own = [spec.name for spec in layer._weight_specs if "/" not in spec.name]
    cell = "cell/" if isinstance(layer, Recurrent) else ""  # Keras keeps a recurrent layer's weights on its cell
    return f"{cell}vars/{own.index(name)}"


# ---- Keras 3 .weights.h5 -----------------------------------------------------------------------------------
def write_weights(model, handle):
    """Write every weight of ``model`` into the open h5py file ``handle`` in Keras 3's layout, and the optimizer's
    state when the model is compiled (``write_optimizer``)."""
    for path, layer, weights in layer_groups(model):
        handle.create_group(f"{path}vars" if not path else f"{path}/vars").attrs["name"] = layer.name
        for dataset, name in weights:
            _name_inner_groups(handle, path, dataset, layer)
            handle.create_dataset(dataset, data=numpy.require(backend.to_host(getattr(layer, name)), requirements="C"))
    if model.compiled is not None:
        write_optimizer(model, handle)


def _name_inner_groups(handle, path, dataset, layer):
    """Give the groups between a layer's group and a weight of an inner layer (a recurrent cell, a wrapped layer)
    a ``vars`` group named after that inner layer, as Keras does."""
    inner = dataset[len(path) + 1:].split("/")[:-2]  # e.g. ["forward_layer", "cell"]
    for depth in range(1, len(inner) + 1):
        group = "/".join([path] + inner[:depth]) + "/vars"
        if group not in handle:
            owner = inner[depth - 1]
            handle.create_group(group).attrs["name"] = f"{snake_case(type(layer).__name__)}_cell" if owner == "cell" \
                else f"{owner}_{layer.name}"


# ---- the optimizer's state ---------------------------------------------------------------------------------
def optimizer_slots(model):
    """``[(slot name, offset, shape)]`` of ``model``'s optimizer state in the order of Keras' optimizer variables
    after ``iteration`` and ``learning_rate``; None where nnkit does not know Keras' order for the optimizer, or a
    weight is frozen (Keras keeps no state for those)."""
    groups = KERAS_OPTIMIZER_SLOTS.get(type(model.optimizer).__name__)
    store = model._ensure_store()
    if model.optimizer.slot_names and not model.optimizer.slots:
        model.optimizer.build(store)  # never stepped: Keras' freshly built optimizer holds zeros too
    if groups is None or not all(layer.trainable for layer, _, _, _ in store.entries):
        return None
    from .saving import store_layout
    layout = store_layout(model, store)
    return [(slot, offset, shape) for group in groups for _, offset, shape in layout for slot in group
            if slot in model.optimizer.slot_names]


def _has_learning_rate_variable(optimizer):
    return not callable(optimizer.learning_rate)  # Keras keeps a schedule as an object, a number as a variable


def write_optimizer(model, handle):
    """The optimizer's ``iteration``, ``learning_rate`` and slots as Keras' ``optimizer/vars/<i>`` datasets (slots of
    zeros when it has not taken a step: Keras builds its optimizer when it loads a compiled model)."""
    optimizer, slots = model.optimizer, optimizer_slots(model)
    group = handle.create_group(OPTIMIZER_GROUP)
    group.attrs["name"] = optimizer.name
    values = [numpy.asarray(optimizer.iterations, dtype="int64")]
    if _has_learning_rate_variable(optimizer):
        values.append(numpy.asarray(optimizer.learning_rate, dtype="float32"))
    flats = dict(zip(optimizer.slot_names, optimizer.variables()))
    for slot, offset, shape in slots or []:
        values.append(backend.to_host(flats[slot][offset:offset + math.prod(shape)]).reshape(shape))
    for index, value in enumerate(values):
        group.create_dataset(str(index), data=numpy.require(value, requirements="C"))


def read_optimizer(model, path, handle):
    """Restore the compiled ``model``'s optimizer state from Keras' ``optimizer/vars`` in ``handle``; where the file
    holds another count of variables than this optimizer has, it is left fresh with a warning (as Keras does)."""
    if OPTIMIZER_GROUP not in handle:
        return
    stored = handle[OPTIMIZER_GROUP]
    optimizer, slots = model.optimizer, optimizer_slots(model)
    first = 2 if _has_learning_rate_variable(optimizer) else 1
    expected = first + len(slots or [])
    if len(stored) == first:  # Keras' optimizer had not taken a step (nor been built): nothing but its counters
        slots, expected = [], first
    if slots is None or len(stored) != expected:
        warnings.warn(f"'{path}': the optimizer state was not loaded: the file holds {len(stored)} optimizer "
                      f"variables, this {type(optimizer).__name__} has {expected}. Training starts with a fresh optimizer.")
        return
    values = [stored[str(index)][()] for index in range(expected)]
    flats = dict(zip(optimizer.slot_names, optimizer.variables()))
    for (slot, offset, shape), value in zip(slots, values[first:]):
        if tuple(value.shape) != tuple(shape):
            raise WeightsFileError(f"'{path}': the optimizer variable for slot '{slot}' has shape {value.shape}, "
                                   f"the model's weight {shape}.")
    for (slot, offset, shape), value in zip(slots, values[first:]):
        view = flats[slot][offset:offset + math.prod(shape)]
        view[...] = backend.get_array_module(view).asarray(value.reshape(-1), dtype=view.dtype)
    optimizer.iterations = int(values[0])
    if first == 2:
        optimizer.learning_rate = float(values[1])  # Keras keeps the rate as a variable (callbacks may change it)


def read_weights(model, path, handle=None):
    """The weights of ``model`` from the Keras 3 weights file at ``path`` (or the open h5py file ``handle``), in
    ``model.get_weights()`` order; a WeightsFileError naming every layer that does not fit."""
    if handle is None:
        with h5py_module().File(path, "r") as handle:
            return read_weights(model, path, handle)
    if "layers" not in handle:
        raise WeightsFileError(f"'{path}' is an HDF5 file but not a Keras 3 weights file: it has no 'layers' "
                               f"group (top-level entries: {sorted(handle.keys())}). A legacy Keras .h5 model file "
                               f"has a 'model_weights' group; name it '.h5' (not '.weights.h5') to read it.")
    values, problems, groups = [], [], layer_groups(model)
    for group, layer, weights in groups:
        if not weights:
            continue
        found = [tuple(handle[dataset].shape) if dataset in handle else None for dataset, _ in weights]
        expected = [tuple(getattr(layer, name).shape) for _, name in weights]
        if all(shape is None for shape in found):
            problems.append(f"layer '{_key(group)}' ({type(layer).__name__}) is not in the file")
        elif found != expected:
            problems.append(f"layer '{_key(group)}' ({type(layer).__name__}) has weights of shapes "
                            f"{_listed(handle, group)} in the file, {expected} in the model")
        else:
            values.extend(handle[dataset][()] for dataset, _ in weights)
    extra = sorted(set(_groups_with_weights(handle)) - {group for group, _, weights in groups if weights})
    if extra:
        problems.append(f"the file has weights for layers the model lacks: {', '.join(_key(e) for e in extra)}")
    if problems:
        raise WeightsFileError(f"The Keras weights in '{path}' do not fit model '{model.name}': "
                               + "; ".join(problems) + ".")
    return values


def _key(group):
    return group.replace("layers/", "")


def _listed(handle, group):
    """The shapes of every dataset under ``group`` (its own, then its inner layers'), for a message."""
    shapes = []
    handle[group].visititems(lambda name, item: shapes.append(tuple(item.shape)) if hasattr(item, "shape") else None)
    return shapes


def _groups_with_weights(handle, prefix=""):
    """The layer groups (``layers/<key>``, nested ones too) that hold at least one dataset."""
    found = []
    layers = handle[f"{prefix}layers"] if f"{prefix}layers" in handle else {}
    for key in layers:
        path = f"{prefix}layers/{key}"
        if "layers" in handle[path]:
            found.extend(_groups_with_weights(handle, path + "/"))
        else:
            datasets = []
            handle[path].visititems(lambda name, item: datasets.append(name) if hasattr(item, "shape") else None)
            if datasets:
                found.append(path)
    return found


# ---- legacy Keras 2 .h5 model files ------------------------------------------------------------------------
def read_legacy_weights(model, path, handle):
    """The weights of ``model`` from a legacy ``.h5`` file (its ``model_weights`` group, or the file itself for
    a Keras 2 ``save_weights("w.h5")``), matched to the model's layers with weights in order, as Keras does."""
    group = handle["model_weights"] if "model_weights" in handle else handle
    if "layer_names" not in group.attrs:
        raise WeightsFileError(f"'{path}' is an HDF5 file but not a Keras 3 weights file (it has no 'layers' group) "
                               f"nor a legacy Keras model or weights file (no 'layer_names' attribute).")
    stored = []
    for name in group.attrs["layer_names"]:
        name = text(name)
        weight_names = [text(n) for n in group[name].attrs.get("weight_names", [])]
        if weight_names:
            stored.append((name, [group[name][n][()] for n in weight_names]))
    layers = [(key, layer) for key, layer in model.named_sublayers() if layer._weight_specs]
    if len(stored) != len(layers):
        raise WeightsFileError(f"'{path}' holds the weights of {len(stored)} layers "
                               f"({', '.join(n for n, _ in stored)}), but model '{model.name}' has {len(layers)} "
                               f"layers with weights ({', '.join(k for k, _ in layers)}).")
    values, problems = [], []
    for (name, arrays), (key, layer) in zip(stored, layers):
        expected = [tuple(getattr(layer, spec.name).shape) for spec in layer._weight_specs]
        found = [tuple(array.shape) for array in arrays]
        if found != expected:
            problems.append(f"layer '{name}' of the file has weights of shapes {found}, the model's layer '{key}' "
                            f"({type(layer).__name__}) {expected}")
        values.extend(arrays)
    if problems:
        raise WeightsFileError(f"The legacy Keras weights in '{path}' do not fit model '{model.name}': "
                               + "; ".join(problems) + ".")
    return values


def text(value):
    """An HDF5 string attribute (bytes or str) as str."""
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
