"""Translating models between nnkit's configs and Keras 3's serialized form: the ``config.json`` of a ``.keras``
archive and the ``model_config`` of a legacy ``.h5`` file (read ``keras/src/saving/serialization_lib.py``).

nnkit's layers take Keras' arguments under Keras' names, so most of a layer's config passes as it is. What
differs is the wrapping and a few tables below:

* Keras wraps every object as ``{"module", "class_name", "config", "registered_name"}`` (layers add a
  ``build_config``), writes the layer dtype as a ``DTypePolicy`` and initializers, regularizers and constraints
  as such objects; nnkit writes ``{"class_name", "config"}`` and a plain dtype name.
* A Keras functional node records a call as ``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__``
  entries (``keras_history``: layer name, call index, output index); reading one calls nnkit's layer with the
  same arguments, so each layer's own ``bind_call`` sorts them.
* Keras arguments nnkit does not have are dropped when they hold the value that changes nothing
  (``KERAS_ONLY_ARGUMENTS``); any other value is a KerasConfigError naming the layer, the argument and the value.
"""
import inspect

from .. import backend, optimizers
from .._registry import snake_case
from ..layers.base import LAYER_CLASSES, Layer
from ..layers.input_layer import InputLayer
from ..layers.serialization import custom_object_scope, layer_class
from ..layers.symbolic import flatten, map_structure
from ..trainer.compiled import deserialize as deserialize_compiled

#: Where Keras' deserializer finds a class (``module`` of the serialized object); layers are in keras.layers.
KERAS_MODULES = {"Sequential": "keras", "Functional": "keras.src.models.functional"}
#: The Keras module of the objects kept under config keys ending in these suffixes.
OBJECT_FAMILIES = {"_initializer": "keras.initializers", "_regularizer": "keras.regularizers",
                   "_constraint": "keras.constraints", "learning_rate": "keras.optimizers.schedules"}
#: Keras arguments nnkit's classes do not take, with the value at which they change nothing (None always does).
KERAS_ONLY_ARGUMENTS = {"data_format": "channels_last", "rms_scaling": False, "use_gate": False, "sparse": False,
                        "ragged": False, "optional": False, "synchronized": False, "renorm": False,
                        "renorm_momentum": 0.99, "use_ema": False, "ema_momentum": 0.99, "amsgrad": False,
                        "run_eagerly": False, "jit_compile": False, "steps_per_execution": 1, "seed": None,
                        "reduction": "sum_over_batch_size"}
#: Keras arguments nnkit's classes take under another name (Keras 2's InputLayer in legacy .h5 files).
RENAMED_ARGUMENTS = {("InputLayer", "batch_input_shape"): "batch_shape"}
#: Config keys nnkit writes that Keras' classes do not take: for every layer, and for some classes.
NNKIT_ONLY_ARGUMENTS = ("batch_input_shape",)
NNKIT_ONLY_CLASS_ARGUMENTS = {"SpatialDropout1D": ("trainable",), "SpatialDropout2D": ("trainable",),
                              "Discretization": ("trainable",), "CategoryEncoding": ("sparse",)}
#: Keras' losses that take ``from_logits``; nnkit's other losses carry it too (always False), Keras' do not.
KERAS_LOSSES_WITH_LOGITS = {"BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
                            "CategoricalFocalCrossentropy", "SparseCategoricalCrossentropy"}
#: Keras layers built when made (``_build_at_init``): Keras writes no build_config for them.
KERAS_BUILT_AT_INIT = {"Activation", "ActivityRegularization", "AlphaDropout", "Dropout", "ELU", "GaussianDropout",
                       "GaussianNoise", "Identity", "LeakyReLU", "Masking", "ReLU", "Softmax", "UnitNormalization",
                       "SpatialDropout1D", "SpatialDropout2D", "Reshape", "MaxPooling1D", "MaxPooling2D",
                       "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
                       "GlobalAveragePooling1D", "GlobalAveragePooling2D"}
#: Layers whose Keras ``call`` takes its named inputs as one list (``Attention()([query, value, key])``, masks as
#: ``mask=[query_mask, value_mask]``); nnkit's ``bind_call`` names them.
INPUT_LISTS = {"Attention": ("query", "value", "key"), "AdditiveAttention": ("query", "value", "key")}
KERAS_TENSOR = "__keras_tensor__"


class KerasConfigError(ValueError):
    """A Keras config that nnkit cannot rebuild (an unknown class, an argument nnkit does not have)."""


# ---- nnkit -> Keras ---------------------------------------------------------------------------------------
def model_to_keras(model):
    """The Keras 3 serialized form of ``model`` (a Sequential or functional model), as ``config.json`` holds it."""
    from .functional import Functional
    from .sequential import Sequential
    if isinstance(model, Sequential):
        layers = [_input_layer_entry(model.graph.flat_inputs[0])]
        layers += [layer_to_keras(layer, _build_shape(layer, model.graph)) for layer in model.layers]
        config = {"name": model.name, "trainable": model.trainable, "dtype": _dtype_policy(model),
                  "layers": layers, "build_input_shape": list(model.input_shape)}
        return {"module": KERAS_MODULES["Sequential"], "class_name": "Sequential", "config": config,
                "registered_name": None, "build_config": {"input_shape": list(model.input_shape)}}
    if isinstance(model, Functional):
        return {"module": KERAS_MODULES["Functional"], "class_name": "Functional",
                "config": _functional_to_keras(model), "registered_name": "Functional",
                "build_config": {"input_shape": None}}
    raise TypeError(f"Model '{model.name}' is a subclassed model ({type(model).__name__}), which Keras can only "
                    f"rebuild from its Python class. Save it as .nnkit, or its weights as .weights.h5.")


def layer_to_keras(layer, build_shape=None):
    """One layer as Keras serializes it; ``build_shape`` (its first call's input shape) becomes its build_config."""
    from .model import Model
    if isinstance(layer, Model):
        return model_to_keras(layer)  # with a model's own build_config
    dropped = NNKIT_ONLY_ARGUMENTS + NNKIT_ONLY_CLASS_ARGUMENTS.get(type(layer).__name__, ())
    config = {key: _value_to_keras(key, value) for key, value in layer.get_config().items() if key not in dropped}
    config["dtype"] = _dtype_policy(layer)
    entry = {"module": KERAS_MODULES.get(type(layer).__name__, "keras.layers"),
             "class_name": type(layer).__name__, "config": config, "registered_name": None}
    if build_shape is not None and type(layer).__name__ not in KERAS_BUILT_AT_INIT:
        entry["build_config"] = build_shape
    return entry


def _value_to_keras(key, value):
    if isinstance(value, dict) and "class_name" in value:
        if value["class_name"] in LAYER_CLASSES:
            return layer_to_keras(LAYER_CLASSES[value["class_name"]].from_config(dict(value["config"])))
        module = next((m for suffix, m in OBJECT_FAMILIES.items() if key.endswith(suffix)), None)
        if module is not None:
            return {"module": module, "class_name": value["class_name"], "config": value["config"],
                    "registered_name": None}
    return value


def _dtype_policy(layer):
    name = str(layer.dtype or backend.floatx())
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _input_layer_entry(tensor):
    layer = tensor.node.layer
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
            "config": {"batch_shape": list(tensor.shape), "dtype": str(layer.input_dtype), "sparse": False,
                       "ragged": False, "name": layer.name}}


def _build_shape(layer, graph):
    """Keras' build_config of ``layer``: the input shapes of its first call, keyed as Keras' ``get_build_config``
    keys them (``input_shape`` for a call of one tensor argument, else ``shapes_dict``), or None for a layer that
    is not called in ``graph``."""
    node = next((node for node in layer.inbound_nodes if node in graph.nodes), None)
    if node is None or isinstance(layer, InputLayer):
        return None
    positional, keywords = _keras_arguments(layer, node, lambda tensor: list(tensor.shape))
    named = {**dict(positional), **{key: value for key, value in keywords.items()
                                    if key != "mask" and not key.endswith("_mask")}}
    if len(named) == 1:
        return {"input_shape": next(iter(named.values()))}
    return {"shapes_dict": {f"{key}_shape": value for key, value in named.items()}}


def _keras_arguments(layer, node, convert):
    """A call's tensors as Keras' layer takes them: ``([(name, value)] positional, {name: value} keywords)``, each
    tensor through ``convert``. Named inputs (a dict) go positionally where ``bind_call`` has no default
    (``MultiHeadAttention(query, value, key=...)``), or as one list for the layers of ``INPUT_LISTS``."""
    inputs = node.inputs
    if not isinstance(inputs, dict):
        return [("inputs", map_structure(inputs, convert))], {}
    listed = INPUT_LISTS.get(type(layer).__name__)
    if listed:
        masks = [inputs.get(f"{name}_mask") for name in listed[:2]]
        keywords = {"mask": [None if m is None else convert(m) for m in masks]} if any(
            m is not None for m in masks) else {}
        return [("inputs", [convert(inputs[name]) for name in listed if name in inputs])], keywords
    parameters = inspect.signature(layer.bind_call).parameters
    required = [name for name, p in parameters.items() if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    positional = [(name, map_structure(inputs[name], convert)) for name in required if name in inputs]
    return positional, {name: map_structure(value, convert) for name, value in inputs.items()
                        if name not in required}


def _functional_to_keras(model):
    from .functional import tensor_reference
    graph = model.graph
    history = tensor_reference(graph)

    def keras_tensor(tensor):
        return {"class_name": KERAS_TENSOR,
                "config": {"shape": list(tensor.shape), "dtype": str(tensor.dtype), "keras_history": history(tensor)}}

    layers = []
    for layer in graph.layers:
        if isinstance(layer, InputLayer):
            entry = _input_layer_entry(layer.inbound_nodes[0].outputs[0])
        else:
            entry = layer_to_keras(layer, _build_shape(layer, graph))
        calls = [node for node in layer.inbound_nodes if node in graph.nodes]
        entry.update(name=layer.name, inbound_nodes=[_keras_call(layer, node, keras_tensor) for node in calls])
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(graph.inputs, history),
            "output_layers": map_structure(graph.outputs, history)}


def _keras_call(layer, node, keras_tensor):
    """One call of ``layer`` as Keras records it: positional ``args`` and ``kwargs`` (tensors as ``keras_tensor``
    entries, then the call's options and ``training``)."""
    positional, keywords = _keras_arguments(layer, node, keras_tensor)
    parameters = inspect.signature(layer.bind_call).parameters
    options = {key: value for key, value in (node.options or {}).items()
               if key not in parameters or parameters[key].default != value}  # Keras records what the call gave
    kwargs = {**keywords, **options}
    if node.training is not None:
        kwargs["training"] = node.training
    return {"args": [value for _, value in positional], "kwargs": kwargs}


def compile_to_keras(model):
    """Keras' ``compile_config`` of a compiled nnkit model (loss, metrics, optimizer with its arguments)."""
    compiled, optimizer = model.compiled.config(), model.optimizer
    optimizer_config = optimizer.get_config()
    if callable(optimizer_config["learning_rate"]):
        raise TypeError(f"Model '{model.name}' cannot be saved with its optimizer: its learning rate is a callable.")
    optimizer_config = {key: _value_to_keras(key, value) for key, value in optimizer_config.items()}
    return {"optimizer": {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
                          "config": optimizer_config, "registered_name": None},
            "loss": _objects_to_keras(compiled["loss"], "keras.losses"),
            "loss_weights": compiled.get("loss_weights"),
            "metrics": _objects_to_keras(compiled["metrics"], "keras.metrics"),
            "weighted_metrics": _objects_to_keras(compiled["weighted_metrics"], "keras.metrics"), "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _objects_to_keras(value, module):
    """Losses or metrics (one, a list, or a dict per output) as Keras serializes them."""
    if isinstance(value, dict) and "class_name" in value:
        config = dict(value["config"])
        if module == "keras.losses" and value["class_name"] not in KERAS_LOSSES_WITH_LOGITS:
            if config.pop("from_logits", False):
                raise TypeError(f"The loss {value['class_name']} has from_logits=True, which Keras' class does not "
                                f"take.")
        return {"module": module, "class_name": value["class_name"], "config": config, "registered_name": None}
    if isinstance(value, dict):
        return {key: _objects_to_keras(item, module) for key, item in value.items()}
    if isinstance(value, list):
        return [_objects_to_keras(item, module) for item in value]
    return value


# ---- Keras -> nnkit ---------------------------------------------------------------------------------------
def model_from_keras(entry, custom_objects=None):
    """The nnkit model (or layer) a Keras 3 serialized entry describes, built, with fresh weights."""
    with custom_object_scope(custom_objects):
        return _layer_from_keras(entry)


def _layer_from_keras(entry):
    class_name = entry.get("class_name")
    if class_name == "Sequential":
        return _sequential_from_keras(entry["config"])
    if class_name in ("Functional", "Model"):
        return _functional_from_keras(entry["config"])
    if _is_operation(entry):
        return _operation_from_keras(entry)
    cls = _layer_class(entry)
    name = entry["config"].get("name", class_name)
    config = _arguments_from_keras(cls, entry["config"], f"layer '{name}' ({class_name})")
    return cls.from_config(config)


def _layer_class(entry):
    class_name = entry["class_name"]
    cls = layer_class(class_name)
    if cls is None:
        raise KerasConfigError(f"The Keras model uses the layer class '{class_name}' "
                               f"(module {entry.get('module')!r}), which nnkit does not have. Pass your own as "
                               f"custom_objects={{'{class_name}': ...}}; nnkit's layers are "
                               f"{', '.join(sorted(LAYER_CLASSES))}.")
    return cls


def _is_operation(entry):
    """Whether ``entry`` is a Keras op used in a functional graph (``keras.ops.add``... recorded as an Operation
    of module ``keras.src.ops.*``), rather than a layer."""
    return str(entry.get("module") or "").startswith("keras.src.ops")


def _operation_from_keras(entry):
    """A Keras op node as the ``nnkit.ops`` function of the same name, with the op's arguments bound."""
    from .. import ops
    function = getattr(ops, snake_case(entry["class_name"]), None)
    if function is None:
        raise KerasConfigError(f"The Keras model calls the op '{entry['class_name']}' ({entry.get('name')}), which "
                               f"nnkit.ops does not have.")
    arguments = {key: value for key, value in entry["config"].items() if key != "name"}
    return lambda *args, **kwargs: function(*args, **arguments, **kwargs)


def _arguments_from_keras(cls, config, what):
    """``config`` with Keras' wrappers removed and the arguments ``cls`` does not take dropped (or refused)."""
    accepted = _accepted_arguments(cls)
    arguments = {}
    for key, value in config.items():
        key = RENAMED_ARGUMENTS.get((cls.__name__, key), key)
        if key == "dtype":
            value = _dtype_from_keras(value, what)
        elif isinstance(value, dict) and "class_name" in value:
            value = _object_from_keras(key, value)
        if key in accepted:
            arguments[key] = value
        elif value is not None and (key not in KERAS_ONLY_ARGUMENTS or value != KERAS_ONLY_ARGUMENTS[key]):
            raise KerasConfigError(f"The Keras {what} has {key}={value!r}, which nnkit's {cls.__name__} does not "
                                   f"support.")
    return arguments


def _accepted_arguments(cls):
    """The keyword arguments ``cls`` takes: its ``__init__``'s and, where that passes ``**kwargs`` on, its bases'."""
    names = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if klass is Layer or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    names.discard("self")
    return names


def _dtype_from_keras(value, what):
    if isinstance(value, dict):
        value = value.get("config", {}).get("name")
    if value is not None and value not in ("float16", "float32", "float64", "int32", "int64", "bool", "string",
                                           "uint8"):
        raise KerasConfigError(f"The Keras {what} uses the dtype policy {value!r}; nnkit runs one dtype per layer "
                               f"(float32 or float64), not mixed precision.")
    return value


def _object_from_keras(key, value):
    """A nested object: a layer (wrapped by Bidirectional, TimeDistributed) becomes nnkit's ``{"class_name",
    "config"}`` of it; an initializer or regularizer loses Keras' wrapper and its arguments that are None or a
    seed (the weights are read from the file, so the seed of their initial draw changes nothing)."""
    if value["class_name"] in LAYER_CLASSES and key != "dtype":
        layer = _layer_from_keras(value)
        return {"class_name": type(layer).__name__, "config": layer.get_config()}
    config = {k: v for k, v in (value.get("config") or {}).items() if v is not None and k != "seed"}
    return {"class_name": value["class_name"], "config": config}


def _sequential_from_keras(config):
    from .sequential import Sequential
    model = Sequential(name=config.get("name"), trainable=config.get("trainable", True))
    entries = list(config["layers"])
    if entries and entries[0]["class_name"] == "InputLayer":
        model.add(_layer_from_keras(entries.pop(0)))
    elif config.get("build_input_shape") is not None:
        model.build(config["build_input_shape"])
    for entry in entries:
        model.add(_layer_from_keras(entry))
    return model


def _functional_from_keras(config):
    """Rebuild a Keras functional graph: each layer is made, then called on the tensors its recorded calls name, in
    an order where those exist. Only the calls the outputs depend on are made: Keras 3 records the masks it passes
    (``mask=``) as op nodes (``NotEqual``, ``Any``), while nnkit carries masks with the tensors (``Embedding
    (mask_zero=True)``, ``Masking``), so a ``mask`` argument computed by ops (or one the layer does not take) is
    dropped, and the nodes that only computed it are never made. A recorded ``training`` argument is dropped too:
    Keras 3 replaces it with the flag the model is called with (``predict``: False)."""
    from .functional import Functional
    entries = {entry["name"]: entry for entry in config["layers"]}
    calls = {(entry["name"], index): _keras_node(call)
             for entry in config["layers"] for index, call in enumerate(entry["inbound_nodes"])}
    for (name, _), call in calls.items():
        call["kwargs"].pop("training", None)  # Keras 3 overrides it with the model call's own flag
        mask = call["kwargs"].get("mask")
        if mask is not None and (not _takes_mask(entries[name]) or all(
                _is_operation(entries[h[0]]) for h in _histories(mask))):
            del call["kwargs"]["mask"]
    needed = _needed_calls(entries, calls, _histories([config["input_layers"], config["output_layers"]]))
    made, outputs = {}, {}  # layer name -> layer (or op); (layer name, call index) -> that call's output tensors
    for name in dict.fromkeys(name for name, _ in needed):
        made[name] = _layer_from_keras(entries[name])
        if isinstance(made[name], InputLayer):
            outputs[(name, 0)] = made[name].inbound_nodes[0].outputs

    def tensor(history):
        return outputs[(history[0], history[1])][history[2]]
    pending = [key for key in needed if key not in outputs]
    while pending:
        ready = [key for key in pending if all((h[0], h[1]) in outputs for h in _histories(calls[key]))]
        if not ready:
            raise KerasConfigError(f"The Keras graph cannot be rebuilt: the inputs of layers "
                                   f"{sorted({name for name, _ in pending})} are never made.")
        for key in ready:
            pending.remove(key)
            args = [_resolve(arg, tensor) for arg in calls[key]["args"]]
            kwargs = {k: _resolve(v, tensor) for k, v in calls[key]["kwargs"].items() if v is not None}
            outputs[key] = flatten(made[key[0]](*args, **kwargs))
    model_outputs = _resolve_references(config["output_layers"], tensor)
    if isinstance(model_outputs, list) and len(model_outputs) == 1:
        model_outputs = model_outputs[0]  # Keras 3 predicts one array for a one-element output list
    return Functional(_resolve_references(config["input_layers"], tensor), model_outputs,
                      name=config.get("name"), trainable=config.get("trainable", True))


def _keras_node(call):
    """A recorded call as ``{"args", "kwargs"}``: Keras 3's form, or Keras 2's list of ``[layer, call, output,
    kwargs]`` entries (a file of ``tf.keras``)."""
    if isinstance(call, dict):
        return {"args": list(call.get("args", [])), "kwargs": dict(call.get("kwargs") or {})}
    tensors = [entry[:3] for entry in call]
    kwargs = next((entry[3] for entry in call if len(entry) > 3 and entry[3]), {})
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": dict(kwargs)}


def _takes_mask(entry):
    if entry["class_name"] in ("Sequential", "Functional", "Model") or _is_operation(entry):
        return False
    return "mask" in inspect.signature(_layer_class(entry).bind_call).parameters


def _needed_calls(entries, calls, roots):
    """The ``(layer name, call index)`` of every call the ``roots`` (histories) depend on, inputs first."""
    needed, stack = {}, [(h[0], h[1]) for h in roots]
    while stack:
        key = stack.pop()
        if key in needed:
            continue
        if key[0] not in entries:
            raise KerasConfigError(f"The Keras graph refers to a layer '{key[0]}' it does not define.")
        needed[key] = None
        if key in calls:
            stack.extend((h[0], h[1]) for h in _histories(calls[key]))
    return list(needed)


def _resolve(value, tensor):
    """A call argument with its ``__keras_tensor__`` entries replaced by nnkit's tensors."""
    if isinstance(value, dict) and value.get("class_name") == KERAS_TENSOR:
        return tensor(value["config"]["keras_history"])
    if isinstance(value, dict):
        return {key: _resolve(item, tensor) for key, item in value.items()}
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return tensor(value)  # the [layer, call, output] lists of older Keras files
    if isinstance(value, list):
        return [_resolve(item, tensor) for item in value]
    return value


def _histories(value):
    if isinstance(value, dict) and value.get("class_name") == KERAS_TENSOR:
        return [value["config"]["keras_history"]]
    if isinstance(value, dict):
        return [h for item in value.values() for h in _histories(item)]
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value]
    if isinstance(value, list):
        return [h for item in value for h in _histories(item)]
    return []


def _resolve_references(structure, reference):
    """``input_layers`` / ``output_layers``: one ``[layer, call, output]`` list, a list of them, or a dict."""
    if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
        return reference(structure)
    if isinstance(structure, dict):
        return {key: _resolve_references(value, reference) for key, value in structure.items()}
    return [_resolve_references(value, reference) for value in structure]


def compile_from_keras(model, config):
    """Compile ``model`` as Keras' ``compile_config`` says; a loss, metric or optimizer nnkit lacks is a
    KerasConfigError naming it."""
    optimizer = config["optimizer"]
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    cls = getattr(optimizers, optimizer["class_name"], None)
    if not isinstance(cls, type):
        raise KerasConfigError(f"The Keras model was compiled with the optimizer '{optimizer['class_name']}', "
                               f"which nnkit.optimizers does not have.")
    arguments = _arguments_from_keras(cls, optimizer.get("config") or {}, f"optimizer {optimizer['class_name']}")
    try:
        model.compile(optimizer=cls(**arguments),
                      loss=deserialize_compiled(_strip_objects(config.get("loss")), "loss"),
                      loss_weights=config.get("loss_weights"),
                      metrics=deserialize_compiled(_strip_objects(config.get("metrics")), "metric"),
                      weighted_metrics=deserialize_compiled(_strip_objects(config.get("weighted_metrics")), "metric"))
    except (TypeError, ValueError) as error:
        raise KerasConfigError(f"The Keras model's compile config cannot be restored: {error}") from None


def _strip_objects(value):
    """Keras' serialized losses and metrics as nnkit's ``{"class_name", "config"}`` (arguments that are None or
    at a Keras-only default dropped)."""
    if isinstance(value, dict) and "class_name" in value:
        config = {k: v for k, v in (value.get("config") or {}).items()
                  if v is not None and k != "dtype" and KERAS_ONLY_ARGUMENTS.get(k, object()) != v}
        return {"class_name": value["class_name"], "config": config}
    if isinstance(value, dict):
        return {key: _strip_objects(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip_objects(item) for item in value]
    return value
