"""Saving and loading models: weights in safetensors, whole models as one safetensors file with the
architecture and the optimizer state. No pickle: a file holds tensors and JSON, nothing executable.

Tensor names are stable and readable: ``"<layer key>/<weight name>"`` such as ``"dense/kernel"`` and
``"dense_1/bias"``. The layer key is the layer's class in snake case with a counter per class, counted in
model order (as Keras 3 names the groups of a ``.weights.h5`` file), not the layer's own name, which
changes from one process to the next (``dense_7`` when six Dense layers were made before).

Files:
    weights file (``model.save_weights``): the weights of every layer, trainable or not, and metadata
        ``{"format": "nnkit.weights", "nnkit_version": ...}``.
    model file (``model.save``, ``.nnkit`` by convention): the same weight tensors, plus one tensor per
        optimizer slot and trainable weight, ``"optimizer/<slot>/<layer key>/<weight name>"`` (e.g.
        ``"optimizer/m/dense/kernel"``), and metadata ``{"format": "nnkit.model", "nnkit_version": ...,
        "config": <JSON>}``, where the JSON holds ``{"model": {"class_name", "config"}, "build_input_shape": ...,
        "floatx": ...,
        "compile": {"loss": ..., "metrics": [...], "optimizer": {"class_name", "config", "iterations"}},
        "assets": {<index in model.leaf_layers()>: <layer.get_assets()>}}`` (adapted vocabularies).

Both are ordinary safetensors files: ``safetensors.numpy.load_file(path)`` (or ``safetensors.torch``)
reads them. Every write is atomic (see ``files.atomic_write``).

The file name chooses the format written (``WEIGHTS_SUFFIXES``, ``MODEL_SUFFIXES``): ``.weights.h5`` and ``.keras``
are Keras 3's (``keras_h5``, ``keras_archive``), ``.weights.safetensors`` (any ``.safetensors``) and ``.nnkit``
nnkit's; any other name is a ValueError listing these. Reading goes by the file's content (HDF5, zip or
safetensors), so a legacy Keras ``.h5`` model file is read too (``keras_legacy``).
"""
import json
import math
import os

import numpy

from .. import backend, optimizers
from ..layers.serialization import deserialize, serialize
from ..trainer.compiled import deserialize as deserialize_compiled
from . import files
from .files import WeightsFileError

WEIGHTS_FORMAT = "nnkit.weights"
MODEL_FORMAT = "nnkit.model"
OPTIMIZER_PREFIX = "optimizer/"
#: What ``save_weights`` writes for each file-name suffix, and what ``save`` writes.
WEIGHTS_SUFFIXES = {".weights.h5": "Keras 3 weights (HDF5)", ".safetensors": "nnkit weights (safetensors)"}
MODEL_SUFFIXES = {".keras": "Keras 3 archive", ".nnkit": "nnkit model (safetensors)"}


def weight_entries(model):
    """``[(tensor name, layer, weight name)]`` for every weight of ``model``, in ``get_weights()`` order; a
    nested layer's weights are named by path (``"sequential/dense/kernel"``)."""
    return [(spec.name, model, spec.name) for spec in model._weight_specs]


def _version():
    from .. import __version__
    return __version__


def _require_built(model, action):
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built, so it has no weights to {action}. Give it an input "
                         f"shape (Input(shape=...) or model.build(input_shape)) first.")


# ---- weights ---------------------------------------------------------------------------------------------
def file_format(path, suffixes, action, other=""):
    """The suffix of ``suffixes`` that ``path`` ends with, or a ValueError naming them (raised before writing)."""
    name = os.fspath(path)
    for suffix in suffixes:
        if name.endswith(suffix):
            return suffix
    listed = ", ".join(f"'{suffix}' ({what})" for suffix, what in suffixes.items())
    raise ValueError(f"{action} chooses the format by the file name, which must end in one of: {listed}.{other} "
                     f"Received: filepath={name!r}")


def save_weights(model, path):
    """Write every weight of ``model`` to ``path`` (atomically): Keras 3's ``.weights.h5`` or safetensors."""
    suffix = file_format(path, WEIGHTS_SUFFIXES, "save_weights")
    _require_built(model, "save")
    if suffix == ".weights.h5":
        from .keras_archive import weights_bytes
        files.atomic_write(path, weights_bytes(model))
        return
    tensors = _weight_tensors(model)
    files.write_safetensors(path, tensors, {"format": WEIGHTS_FORMAT, "nnkit_version": _version()})


def _weight_tensors(model):
    return {name: numpy.require(backend.to_host(getattr(layer, weight)), requirements="C")
            for name, layer, weight in weight_entries(model)}


def load_weights(model, path):
    """Load weights written by ``save_weights`` or ``save`` (safetensors), or by Keras (a Keras 3 ``.weights.h5``
    or ``.keras`` file, a legacy ``.h5`` model or weights file), recognised by the file's content.

    Every name and shape is checked before any weight is written, so a file that does not fit leaves the
    model untouched and raises a WeightsFileError listing the differences.
    """
    _require_built(model, "load")
    data = files.read_bytes(path)
    if data.startswith(files.HDF5_SIGNATURE):
        from . import keras_h5
        with keras_h5.h5py_module().File(path, "r") as handle:
            legacy = "layers" not in handle and ("model_weights" in handle or "layer_names" in handle.attrs)
            values = (keras_h5.read_legacy_weights(model, path, handle) if legacy
                      else keras_h5.read_weights(model, path, handle))
    elif data.startswith(files.ZIP_SIGNATURE):
        from .keras_archive import read_archive_weights
        values = read_archive_weights(model, path)
    else:
        tensors, _ = files.read_safetensors(path, data)
        weights = {name: value for name, value in tensors.items() if not name.startswith(OPTIMIZER_PREFIX)}
        values = _match(model, weights, path)
    model.set_weights(values)


def _match(model, tensors, path):
    """The file's tensors in ``weight_entries`` order, or a WeightsFileError naming every difference."""
    expected = {name: tuple(getattr(layer, weight).shape) for name, layer, weight in weight_entries(model)}
    found = {name: tuple(value.shape) for name, value in tensors.items()}
    problems = []
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    if missing:
        problems.append("missing from the file: " + ", ".join(f"{n} {expected[n]}" for n in missing))
    if unexpected:
        problems.append("in the file but not in the model: " + ", ".join(f"{n} {found[n]}" for n in unexpected))
    reshaped = [name for name in expected if name in found and found[name] != expected[name]]
    if reshaped:
        problems.append("shapes differ: " + ", ".join(f"{n} is {found[n]} in the file, {expected[n]} in the model"
                                                      for n in reshaped))
    if problems:
        raise WeightsFileError(f"The weights in '{path}' do not fit model '{model.name}' (another architecture?): "
                               + "; ".join(problems) + ".")
    return [tensors[name] for name in expected]


# ---- whole models ----------------------------------------------------------------------------------------
def save_model(model, path):
    """Write the architecture, the weights and (when compiled) the optimizer state to one file, atomically: an
    nnkit model file (``.nnkit``) or a Keras 3 archive (``.keras``, without the optimizer state)."""
    suffix = file_format(path, MODEL_SUFFIXES, "save", _LEGACY_HINT if os.fspath(path).endswith((".h5", ".hdf5"))
                         else "")
    _require_built(model, "save")
    if suffix == ".keras":
        from .keras_archive import save_archive
        save_archive(model, path)
        return
    config = {"model": serialize(model), "build_input_shape": _json_shape(model.input_shape),
              "floatx": str(backend.floatx()), "compile": None, "assets": _assets(model)}
    tensors = _weight_tensors(model)
    if model.compiled is not None:
        config["compile"] = _compile_config(model)
        tensors.update(_optimizer_tensors(model))
    try:
        text = json.dumps(config)
    except TypeError as error:
        raise TypeError(f"Model '{model.name}' cannot be saved: its configuration holds a value JSON cannot store "
                        f"({error}). Layers, losses and optimizers must describe themselves with plain numbers, "
                        f"strings, lists and dicts in get_config().") from None
    files.write_safetensors(path, tensors, {"format": MODEL_FORMAT, "nnkit_version": _version(), "config": text})


_LEGACY_HINT = (" nnkit reads legacy Keras .h5 model files but does not write them (Keras 3 calls the format legacy): "
                "use '.keras', or save_weights('....weights.h5') for the weights alone.")


def _assets(model):
    """``{leaf layer index: assets}`` of the layers that learned something besides weights (adapted vocabularies)."""
    return {str(index): assets for index, layer in enumerate(model.leaf_layers())
            if (assets := layer.get_assets()) is not None}


def _compile_config(model):
    optimizer = model.optimizer
    optimizer_config = optimizer.get_config()
    if callable(optimizer_config["learning_rate"]):
        raise TypeError(f"Model '{model.name}' cannot be saved with its optimizer: the learning rate is a callable "
                        f"({optimizer.learning_rate!r}), which a file cannot hold. Use a number or a schedule "
                        f"from nnkit.optimizers.schedules, or save_weights().")
    return {**model.compiled.config(),
            "optimizer": {"class_name": type(optimizer).__name__, "config": optimizer_config,
                          "iterations": int(optimizer.iterations)}}


def _optimizer_tensors(model):
    store = model._ensure_store()
    tensors = {}
    for slot, flat in zip(model.optimizer.slot_names, model.optimizer.variables()):
        for name, start, shape in store_layout(model, store):
            tensors[f"{OPTIMIZER_PREFIX}{slot}/{name}"] = numpy.ascontiguousarray(
                backend.to_host(flat[start:start + math.prod(shape)]).reshape(shape))
    return tensors


def store_layout(model, store):
    """``(tensor name, offset, shape)`` of each trainable weight in the flat parameter buffer."""
    names = {}
    for name, _, _ in weight_entries(model):
        names.setdefault(_owner(model, name), name)
    layout, offset = [], 0
    for layer, weight, value, _ in store.entries:
        layout.append((names[(layer, weight)], offset, tuple(value.shape)))
        offset += value.size
    return layout


def _json_shape(shape):
    if isinstance(shape, dict):
        return {key: list(value) for key, value in shape.items()}
    if isinstance(shape, list):
        return [list(value) for value in shape]
    return None if shape is None else list(shape)


def _owner(layer, name):
    """``(layer, weight name)`` of the layer that owns the weight ``name`` (``"<prefix>/.../<weight>"``)."""
    while "/" in name:
        layer, name = layer._route(name)
    return layer, name


def load_model(path, custom_objects=None, compile=True):
    """A model saved with ``model.save(path)``: architecture, weights and, when it was compiled, the loss,
    metrics and optimizer with its state, so ``fit`` continues exactly where it stopped. Keras' files load too:
    a Keras 3 ``.keras`` archive and a legacy ``.h5`` model file (architecture, weights, compile arguments; the
    optimizer starts afresh), recognised by the file's content.

    Args:
        path: the file written by ``model.save`` (nnkit's or Keras').
        custom_objects: ``{"ClassName": class}`` for layers that are not in ``nnkit.layers``.
        compile: False to skip the loss and optimizer (for inference only).

    Example:
        >>> model.save("model.nnkit")
        >>> restored = nnkit.models.load_model("model.nnkit")
        >>> from_keras = nnkit.models.load_model("keras_model.keras")
    """
    data = files.read_bytes(path)
    if data.startswith(files.ZIP_SIGNATURE):
        from .keras_archive import load_archive
        return load_archive(path, custom_objects, compile)
    if data.startswith(files.HDF5_SIGNATURE):
        from .keras_legacy import load_legacy_model
        return load_legacy_model(path, custom_objects, compile)
    tensors, metadata = files.read_safetensors(path, data)
    file_format = metadata.get("format")
    if file_format == WEIGHTS_FORMAT:
        raise WeightsFileError(f"'{path}' holds only weights (written by save_weights), not an architecture. Build "
                               f"the model in code, then call model.load_weights('{path}').")
    if file_format != MODEL_FORMAT or "config" not in metadata:
        raise WeightsFileError(f"'{path}' is a safetensors file but not an nnkit model file (its metadata format is "
                               f"{file_format!r}, expected {MODEL_FORMAT!r}). For bare weights use load_weights().")
    try:
        config = json.loads(metadata["config"])
    except ValueError as error:
        raise WeightsFileError(f"'{path}': the stored architecture is not valid JSON ({error}).") from None

    previous_floatx = backend.floatx()
    try:
        backend.set_floatx(config["floatx"])
        entry = config["model"]
        if "class_name" not in entry:  # files written before models other than Sequential
            entry = {"class_name": "Sequential", "config": entry}
        try:
            model = deserialize(entry, custom_objects)
        except ValueError as error:
            raise WeightsFileError(str(error)) from None
        if not model.built and config.get("build_input_shape") is not None:
            model.build(config["build_input_shape"])  # a subclassed model is traced for its saved input shape
        if config["compile"] and compile:
            _restore_compile(model, config["compile"])
            model._ensure_store()
        weights = {name: value for name, value in tensors.items() if not name.startswith(OPTIMIZER_PREFIX)}
        model.set_weights(_match(model, weights, path))
        for index, layer in enumerate(model.leaf_layers()):
            if str(index) in config.get("assets", {}):
                layer.set_assets(config["assets"][str(index)])
        if config["compile"] and compile:
            _restore_optimizer_state(model, tensors, config["compile"]["optimizer"]["iterations"], path)
    except WeightsFileError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        # Files with digests get here only when hand-edited (damage is refused on reading); older files also
        # when damaged. Either way the configuration, not nnkit, is at fault: say so, naming the file.
        raise WeightsFileError(f"'{path}' holds a configuration nnkit cannot rebuild the model from "
                               f"({type(error).__name__}: {error}): the file was damaged or edited, or a custom "
                               f"layer's from_config failed on it.") from error
    finally:
        backend.set_floatx(previous_floatx)
    return model


def _restore_compile(model, compile_config):
    optimizer = compile_config["optimizer"]
    cls = getattr(optimizers, optimizer["class_name"], None)
    if not isinstance(cls, type):
        raise WeightsFileError(f"The saved model uses the optimizer class '{optimizer['class_name']}', which "
                               f"nnkit.optimizers does not have.")
    try:
        model.compile(optimizer=cls(**optimizer["config"]),
                      loss=deserialize_compiled(compile_config["loss"], "loss"),
                      loss_weights=compile_config.get("loss_weights"),
                      metrics=deserialize_compiled(compile_config["metrics"], "metric"),
                      weighted_metrics=deserialize_compiled(compile_config.get("weighted_metrics"), "metric"))
    except ValueError as error:  # (a TypeError becomes load_model's "configuration nnkit cannot rebuild")
        raise WeightsFileError(str(error)) from None


def _restore_optimizer_state(model, tensors, iterations, path):
    optimizer, store = model.optimizer, model.store
    layout = store_layout(model, store)
    expected = {f"{OPTIMIZER_PREFIX}{slot}/{name}": shape for slot in optimizer.slot_names for name, _, shape in layout}
    found = {name: tuple(value.shape) for name, value in tensors.items() if name.startswith(OPTIMIZER_PREFIX)}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        reshaped = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
        raise WeightsFileError(f"The optimizer state in '{path}' does not fit its {type(optimizer).__name__}: "
                               f"missing {missing}, unexpected {unexpected}, other shapes {reshaped}.")
    slots = {}
    for slot in optimizer.slot_names:
        flat = numpy.zeros(store.values.size, dtype=numpy.dtype(store.values.dtype))
        for name, start, shape in layout:
            flat[start:start + math.prod(shape)] = tensors[f"{OPTIMIZER_PREFIX}{slot}/{name}"].reshape(-1)
        slots[slot] = flat
    try:
        optimizer.load_state(slots, iterations)  # checked before anything is written
    except ValueError as error:
        raise WeightsFileError(f"The optimizer state in '{path}' is damaged: {error}") from None
