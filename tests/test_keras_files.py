"""Keras' file formats both ways: ``.keras`` archives and legacy ``.h5`` files written by Keras 3 load in nnkit and
predict what Keras predicted; what nnkit writes has Keras' layout and loads back in nnkit.

The Keras-made files in tests/data/keras_files were written by tests/data/make_keras_files.py (Keras 3 on its
PyTorch backend), gzip-compressed; the models are in tests/data/keras_file_models.py. That Keras itself loads
nnkit's files is checked by tests/data/check_keras_loads_nnkit_files.py, which needs Keras and is not run here.
"""
import gzip
import io
import json
import os
import re
import shutil
import zipfile

import numpy
import pytest

import nnkit
from data import keras_file_models as models
from nnkit._registry import snake_case
from nnkit.models import WeightsFileError, load_model

h5py = pytest.importorskip("h5py")
FILES = os.path.join(os.path.dirname(__file__), "data", "keras_files")
LEGACY = ["dense_stack", "merges"]
TOLERANCE = dict(rtol=1e-5, atol=1e-6)


def keras_file(name, suffix, directory):
    """The Keras-written ``<name><suffix>`` unpacked into ``directory``; its path."""
    path = os.path.join(directory, name + suffix)
    with gzip.open(os.path.join(FILES, name + suffix + ".gz")) as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)
    return path


def keras_io(name):
    """``(inputs, Keras' predictions)`` stored beside the model's files."""
    stored = numpy.load(os.path.join(FILES, name + ".npz"))
    x = [stored[f"x_{i}"] for i in range(sum(key.startswith("x_") for key in stored.files))]
    y = [stored[f"y_{i}"] for i in range(sum(key.startswith("y_") for key in stored.files))]
    return (x if len(x) > 1 else x[0]), y


def predictions(model, x):
    return models.outputs(model.predict(x, verbose=0))


def assert_same(got, expected, **tolerance):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        numpy.testing.assert_allclose(g, e, **(tolerance or TOLERANCE))


def h5_tree(handle):
    """``{path: dataset shape, or None for a group}`` of an open HDF5 file."""
    tree = {}
    handle.visititems(lambda name, item: tree.__setitem__(name, tuple(item.shape) if hasattr(item, "shape") else None))
    return tree


def archive_weights_tree(path):
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as handle:
        return h5_tree(handle)


# ---- Keras -> nnkit ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(models.MODELS))
def test_a_keras_archive_loads_and_predicts_as_keras(name, tmp_path, backend_name):
    x, expected = keras_io(name)
    model = load_model(keras_file(name, ".keras", tmp_path))
    assert_same(predictions(model, x), expected)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_keras_weights_load_into_the_same_architecture_built_in_nnkit(name, tmp_path):
    x, expected = keras_io(name)
    archive = keras_file(name, ".keras", tmp_path)
    weights = tmp_path / f"{name}.weights.h5"  # the archive's weights are Keras' save_weights file, byte for byte
    with zipfile.ZipFile(archive) as opened:
        weights.write_bytes(opened.read("model.weights.h5"))
    for path in (weights, archive):
        model = models.MODELS[name](nnkit)
        model.load_weights(path)
        assert_same(predictions(model, x), expected)


@pytest.mark.parametrize("name", LEGACY)
def test_a_legacy_h5_model_file_loads_and_predicts_as_keras(name, tmp_path):
    x, expected = keras_io(name)
    path = keras_file(name, ".h5", tmp_path)
    assert_same(predictions(load_model(path), x), expected)
    twin = models.MODELS[name](nnkit)
    twin.load_weights(path)
    assert_same(predictions(twin, x), expected)


def write_keras2_file(path, config, weights):
    """A legacy ``.h5`` model file as Keras 2 (``tf.keras``) writes it: ``model_config`` JSON, and per layer with
    weights a group listing them in ``weight_names`` (``"dense/kernel:0"``), the datasets at those paths."""
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.attrs["keras_version"] = "2.12.0"
        group = handle.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name in weights]
        for name, arrays in weights.items():
            layer = group.create_group(name)
            names = [f"{name}/{weight}:0" for weight in arrays]
            layer.attrs["weight_names"] = [n.encode() for n in names] if names else numpy.zeros(0)
            for weight_name, array in zip(names, arrays.values()):
                layer[weight_name] = array


def keras2_dense(name, units, activation):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation,
        "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}}


def test_a_keras_2_legacy_sequential_file_loads(tmp_path, rng):
    w1, b1 = rng.normal(size=(4, 3)), rng.normal(size=3)
    w2, b2 = rng.normal(size=(3, 2)), rng.normal(size=2)
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "dense_input"}},
        keras2_dense("dense", 3, "relu"), keras2_dense("dense_1", 2, "linear")]}}
    path = tmp_path / "keras2.h5"
    write_keras2_file(path, config, {"dense": {"kernel": w1, "bias": b1}, "dense_1": {"kernel": w2, "bias": b2}})
    x = rng.normal(size=(5, 4))
    expected = numpy.maximum(x @ w1 + b1, 0) @ w2 + b2
    model = load_model(path)
    numpy.testing.assert_allclose(model.predict(x.astype("float32"), verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_a_keras_2_legacy_functional_file_loads(tmp_path, rng):
    w, b = rng.normal(size=(4, 1)), rng.normal(size=1)
    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "a"}},
        {"class_name": "InputLayer", "name": "b", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "b"}},
        {"class_name": "Add", "name": "add", "config": {"name": "add", "trainable": True, "dtype": "float32"},
         "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]},
        {**keras2_dense("out", 1, "linear"), "name": "out", "inbound_nodes": [[["add", 0, 0, {}]]]}],
        "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["out", 0, 0]]}}
    path = tmp_path / "keras2_functional.h5"
    write_keras2_file(path, config, {"a": {}, "b": {}, "add": {}, "out": {"kernel": w, "bias": b}})
    xa, xb = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    model = load_model(path)
    got = model.predict([xa.astype("float32"), xb.astype("float32")], verbose=0)
    numpy.testing.assert_allclose(got, (xa + xb) @ w + b, rtol=1e-5, atol=1e-5)


def test_the_compile_config_of_a_keras_archive_is_restored(tmp_path):
    model = load_model(keras_file("dense_stack", ".keras", tmp_path))
    assert isinstance(model.optimizer, nnkit.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.compiled.config()["loss"] == "sparse_categorical_crossentropy"
    assert model.compiled.config()["metrics"] == ["accuracy"]

    merges = load_model(keras_file("merges", ".keras", tmp_path))
    assert isinstance(merges.optimizer, nnkit.optimizers.SGD)
    assert (merges.optimizer.learning_rate, merges.optimizer.momentum) == (pytest.approx(0.1), pytest.approx(0.9))
    config = merges.compiled.config()
    assert config["loss"] == {"label": "sparse_categorical_crossentropy", "value": "mse"}
    assert config["loss_weights"] == {"label": 1.0, "value": 0.5}
    x, _ = keras_io("merges")
    logs = merges.evaluate(x, {"label": numpy.array([0, 2, 1]), "value": numpy.zeros((3, 1))}, verbose=0,
                           return_dict=True)
    assert {"loss", "label_loss", "value_loss", "label_accuracy"} <= set(logs)


def test_loss_and_metric_objects_of_a_keras_archive_are_restored(tmp_path):
    model = load_model(keras_file("regression", ".keras", tmp_path))
    config = model.compiled.config()
    assert config["loss"]["class_name"] == "MeanSquaredError"
    assert [metric["class_name"] for metric in config["metrics"]] == ["MeanAbsoluteError"]
    x, _ = keras_io("regression")
    logs = model.evaluate(x, numpy.zeros((len(x), 1)), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mean_absolute_error"}


def test_a_legacy_h5_file_restores_its_training_config(tmp_path):
    model = load_model(keras_file("dense_stack", ".h5", tmp_path))
    assert isinstance(model.optimizer, nnkit.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    assert load_model(keras_file("dense_stack", ".h5", tmp_path), compile=False).compiled is None


def test_compile_false_loads_the_architecture_and_weights_only(tmp_path):
    model = load_model(keras_file("dense_stack", ".keras", tmp_path), compile=False)
    assert model.compiled is None
    x, expected = keras_io("dense_stack")
    assert_same(predictions(model, x), expected)


def test_keras_layer_names_and_structure_are_kept(tmp_path):
    model = load_model(keras_file("merges", ".keras", tmp_path))
    assert model.name == "merges"
    assert model.input_names == ["a", "b"]
    assert sorted(model.output_names) == ["label", "value"]
    assert model.get_layer("shared") is not None and isinstance(model.get_layer("encoder"), nnkit.Sequential)


# ---- nnkit -> Keras' formats -> nnkit ----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(models.MODELS))
def test_an_nnkit_model_round_trips_through_keras_formats(name, tmp_path, rng):
    model = models.MODELS[name](nnkit)
    model.set_weights(models.perturbed(model.get_weights(), rng))
    x, _ = keras_io(name)
    expected = predictions(model, x)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    assert zipfile.is_zipfile(tmp_path / "m.keras") and h5py.is_hdf5(tmp_path / "m.weights.h5")
    restored = load_model(tmp_path / "m.keras")
    assert_same(predictions(restored, x), expected, rtol=1e-6, atol=0)
    assert (restored.compiled is None) == (model.compiled is None)
    twin = models.MODELS[name](nnkit)
    twin.load_weights(tmp_path / "m.weights.h5")
    assert_same(predictions(twin, x), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_nnkit_writes_the_weights_layout_keras_writes(name, tmp_path):
    """Every dataset Keras writes for the model, at the same path with the same shape; no other dataset."""
    keras_tree = archive_weights_tree(keras_file(name, ".keras", tmp_path))
    model = models.MODELS[name](nnkit)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as handle:
        weights_tree = h5_tree(handle)
        assert handle["vars"].attrs["name"] == model.name
    for tree in (archive_weights_tree(tmp_path / "m.keras"), weights_tree):
        datasets = {path: shape for path, shape in tree.items() if shape is not None and not path.startswith("optimizer")}
        assert datasets == {path: shape for path, shape in keras_tree.items()
                            if shape is not None and not path.startswith("optimizer")}
        layer_groups = {path for path in keras_tree if path.endswith("/vars") and "/_" not in path}
        assert layer_groups <= set(tree)


@pytest.mark.parametrize("name", models.TRAINED)
def test_a_trained_keras_archive_resumes_training_as_keras(name, tmp_path):
    """The optimizer's state comes back: one more step gives the loss and weights Keras' next step gave."""
    stored = numpy.load(os.path.join(FILES, f"{name}_trained.npz"))
    x = [stored[key] for key in sorted(k for k in stored.files if k.startswith("x_"))]
    y = {key[len("target_"):]: stored[key] for key in stored.files if key.startswith("target_")}
    model = load_model(keras_file(f"{name}_trained", ".keras", tmp_path))
    assert model.optimizer.iterations == 1
    loss = model.train_on_batch(x if len(x) > 1 else x[0], y if "0" not in y else y["0"])
    assert float(numpy.ravel(loss)[0]) == pytest.approx(float(stored["next_loss"]), rel=1e-5)
    expected = [stored[f"next_weights_{i}"] for i in range(len(model.get_weights()))]
    assert_same(model.get_weights(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", models.TRAINED)
def test_nnkit_writes_the_optimizer_state_as_keras_does(name, tmp_path):
    """A Keras archive with a stepped optimizer, loaded and saved again by nnkit: the same optimizer variables at
    the same paths, with the same values."""
    source = keras_file(f"{name}_trained", ".keras", tmp_path)
    load_model(source).save(tmp_path / "again.keras")
    trees = []
    for path in (source, tmp_path / "again.keras"):
        with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as handle:
            assert handle["optimizer/vars"].attrs["name"] == ("adam" if name == "regression" else "sgd")
            trees.append({key: handle["optimizer/vars"][key][()] for key in handle["optimizer/vars"]})
    keras_values, nnkit_values = trees
    assert sorted(nnkit_values) == sorted(keras_values) and len(keras_values) > 2
    for key, value in keras_values.items():
        numpy.testing.assert_allclose(nnkit_values[key], value, rtol=1e-7, err_msg=key)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_nnkit_writes_config_json_as_keras_serializes_it(name, tmp_path):
    """Each layer entry has Keras' wrapper keys, module, class, build_config and dtype policy, its config no key
    Keras' config of that layer lacks, and a functional model's calls are recorded as Keras records them."""
    with zipfile.ZipFile(keras_file(name, ".keras", tmp_path)) as archive:
        keras_config = json.loads(archive.read("config.json"))
    model = models.MODELS[name](nnkit)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
        assert json.loads(archive.read("metadata.json"))["keras_version"].startswith("3.")
    assert (config["module"], config["class_name"]) == (keras_config["module"], keras_config["class_name"])
    assert ("compile_config" in config) == bool(keras_config.get("compile_config"))
    keras_layers = _layers_without_ops(keras_config)
    layers = config["config"]["layers"]
    assert sorted(entry["class_name"] for entry in layers) == sorted(entry["class_name"] for entry in keras_layers)
    pairs = _paired(layers, keras_layers)
    renamed = {ours["config"]["name"]: theirs["config"]["name"] for ours, theirs in pairs}
    for ours, theirs in pairs:
        assert set(ours) == set(theirs) - {"compile_config"}
        assert (ours["module"], ours.get("build_config")) == (theirs["module"], theirs.get("build_config"))
        assert set(ours["config"]) <= set(theirs["config"])
        if isinstance(theirs["config"].get("dtype"), dict):
            assert _without_ids(ours["config"]["dtype"]) == _without_ids(theirs["config"]["dtype"])
        if "inbound_nodes" in ours:
            assert _renamed(ours["inbound_nodes"], renamed) == _without_masks(theirs["inbound_nodes"])


def _paired(ours, theirs):
    """nnkit's layer entries with Keras': by name where the model names a layer, else in order within a class
    (auto-names count differently per process)."""
    names = {entry["config"]["name"] for entry in theirs}
    pairs = [(o, t) for o in ours for t in theirs if o["config"]["name"] == t["config"]["name"]
             and o["config"]["name"] in names and not _auto_named(o)]
    paired = {id(entry) for pair in pairs for entry in pair}
    for class_name in dict.fromkeys(entry["class_name"] for entry in ours):
        pairs += zip([o for o in ours if o["class_name"] == class_name and id(o) not in paired],
                     [t for t in theirs if t["class_name"] == class_name and id(t) not in paired])
    return pairs


def _auto_named(entry):
    return re.fullmatch(snake_case(entry["class_name"]) + r"(_\d+)?", entry["config"]["name"]) is not None


def _layers_without_ops(config):
    """Keras' layer entries without the op nodes that compute masks (nnkit carries masks with the tensors)."""
    return [entry for entry in config["config"]["layers"] if not entry.get("module", "").startswith("keras.src.ops")]


def _without_ids(value):
    return {key: item for key, item in value.items() if key != "shared_object_id"}


def _without_masks(nodes):
    """Keras' recorded calls without the ``mask`` (computed by op nodes) and ``training`` arguments Keras adds
    (and without tensor dtypes, see ``_renamed``)."""
    return _renamed([{"args": node["args"], "kwargs": {key: value for key, value in node["kwargs"].items()
                                                       if key not in ("mask", "training")}} for node in nodes])


def _renamed(value, names=None):
    """Recorded calls with nnkit's layer names replaced by Keras' (``names``; auto-names count differently per
    process) and without tensor dtypes: nnkit's symbolic tensors are all floatx, and Keras does not read the dtype
    back (it finds each tensor by its ``keras_history``)."""
    if isinstance(value, dict) and "keras_history" in value:
        history = value["keras_history"]
        name = history[0] if names is None else names[history[0]]
        return {**value, "keras_history": [name] + history[1:], "dtype": None}
    if isinstance(value, dict):
        return {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


# ---- file names choose the format ---------------------------------------------------------------------------
def small_model():
    return nnkit.Sequential([nnkit.Input(shape=(3,)), nnkit.layers.Dense(2)])


@pytest.mark.parametrize("filename", ["m.h5", "m.hdf5", "m.weights.h5", "m.safetensors", "m", "m.bin"])
def test_save_refuses_a_name_of_no_model_format_and_writes_nothing(filename, tmp_path):
    with pytest.raises(ValueError, match=r"must end in one of: '\.keras' \(Keras 3 archive\), '\.nnkit'"):
        small_model().save(tmp_path / filename)
    assert os.listdir(tmp_path) == []


def test_save_to_h5_says_the_legacy_format_is_read_but_not_written(tmp_path):
    with pytest.raises(ValueError, match=r"reads legacy Keras \.h5 model files but does not write them"):
        small_model().save(tmp_path / "m.h5")


@pytest.mark.parametrize("filename", ["w.h5", "w.bin", "w.keras", "w.nnkit", "weights"])
def test_save_weights_refuses_a_name_of_no_weights_format_and_writes_nothing(filename, tmp_path):
    with pytest.raises(ValueError, match=r"'\.weights\.h5' \(Keras 3 weights \(HDF5\)\), '\.safetensors'"):
        small_model().save_weights(tmp_path / filename)
    assert os.listdir(tmp_path) == []


def test_the_suffix_chooses_the_format_written(tmp_path):
    model = small_model()
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.nnkit")
    model.save_weights(tmp_path / "w.weights.h5")
    model.save_weights(tmp_path / "w.weights.safetensors")
    assert zipfile.is_zipfile(tmp_path / "m.keras")
    assert h5py.is_hdf5(tmp_path / "w.weights.h5")
    for path in ("m.nnkit", "w.weights.safetensors"):
        assert (tmp_path / path).read_bytes()[8:9] == b"{"  # a safetensors header


# ---- what cannot be written or read -------------------------------------------------------------------------
def rewritten_archive(tmp_path, name, edit):
    """The Keras archive of ``name`` with its config.json changed by ``edit(config)``."""
    source = keras_file(name, ".keras", tmp_path)
    target = tmp_path / f"edited_{name}.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.namelist():
            data = old.read(item)
            if item == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            new.writestr(item, data)
    return target


def test_a_keras_layer_nnkit_lacks_is_named(tmp_path):
    def rename(config):
        config["config"]["layers"][1]["class_name"] = "SuperDense"
    with pytest.raises(WeightsFileError, match="layer class 'SuperDense'.*custom_objects"):
        load_model(rewritten_archive(tmp_path, "dense_stack", rename))


def test_a_keras_argument_nnkit_does_not_support_is_named(tmp_path):
    def constrain(config):
        config["config"]["layers"][1]["config"]["kernel_constraint"] = {
            "module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 2}, "registered_name": None}
    with pytest.raises(WeightsFileError, match=r"layer 'dense' \(Dense\) has kernel_constraint=.*MaxNorm.*"
                                               r"which nnkit's Dense does not support"):
        load_model(rewritten_archive(tmp_path, "dense_stack", constrain))


def test_a_mixed_precision_policy_is_refused(tmp_path):
    def mixed(config):
        config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "mixed_float16"
    with pytest.raises(WeightsFileError, match="dtype policy 'mixed_float16'"):
        load_model(rewritten_archive(tmp_path, "dense_stack", mixed))


def test_an_archive_without_weights_or_config_is_named(tmp_path):
    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "nothing here")
    with pytest.raises(WeightsFileError, match="not a Keras .keras archive: it has no config.json"):
        load_model(path)
    with pytest.raises(WeightsFileError, match="it has no model.weights.h5"):
        small_model().load_weights(path)


def test_keras_weights_of_another_architecture_change_nothing(tmp_path):
    model = models.dense_stack(nnkit)
    model.pop()
    model.pop()
    before = model.get_weights()
    with pytest.raises(WeightsFileError, match="the file has weights for layers the model lacks: dense_3"):
        model.load_weights(keras_file("dense_stack", ".keras", tmp_path))
    for old, new in zip(before, model.get_weights()):
        numpy.testing.assert_array_equal(old, new)


def test_a_legacy_file_of_another_architecture_is_refused(tmp_path):
    with pytest.raises(WeightsFileError, match=r"holds the weights of 7 layers \(dense, batch_normalization, .*\), but model .* has 1 layers with weights \(dense\)"):
        small_model().load_weights(keras_file("dense_stack", ".h5", tmp_path))


def test_a_subclassed_model_is_refused_as_a_keras_archive(tmp_path):
    class Scaled(nnkit.Model):
        def __init__(self):
            super().__init__()
            self.dense = nnkit.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs) * 2.0

    model = Scaled()
    model.build((None, 3))
    with pytest.raises(TypeError, match="subclassed model.*Save it as .nnkit"):
        model.save(tmp_path / "m.keras")
    assert not os.path.exists(tmp_path / "m.keras")


def test_a_model_with_an_adapted_vocabulary_is_refused_as_a_keras_archive(tmp_path):
    lookup = nnkit.layers.StringLookup()
    lookup.adapt(numpy.array(["a", "b", "a"]))
    model = nnkit.Sequential([nnkit.Input(shape=(1,), dtype="string"), lookup])
    with pytest.raises(ValueError, match="learned assets.*Save it as .nnkit"):
        model.save(tmp_path / "m.keras")
