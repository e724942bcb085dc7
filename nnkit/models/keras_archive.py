"""Keras 3's ``.keras`` archive, written and read: a zip of ``config.json`` (the model as Keras serializes it, with
its ``compile_config``), ``metadata.json`` and ``model.weights.h5`` (Keras 3's weights layout), as
``keras.saving.save_model`` writes it, so ``keras.saving.load_model`` loads what nnkit writes and the reverse.

The optimizer's state travels too (``keras_h5.write_optimizer``): Keras' ``optimizer/vars`` (``iteration``,
``learning_rate``, then the slots in Keras' order), for SGD, Adam, AdamW, RMSprop and Adagrad.

Where nnkit differs on purpose:
    * Layers that keep assets (an adapted ``TextVectorization`` vocabulary) are refused on writing: Keras keeps
      them in the archive's ``assets/`` folder in its own layout. Save those models as ``.nnkit``.
"""
import contextlib
import datetime
import io
import json
import zipfile

from .. import backend
from . import files, keras_config, keras_h5
from .files import WeightsFileError

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
#: The Keras release whose archive layout nnkit writes and was checked against (metadata's ``keras_version``).
KERAS_VERSION = "3.15.1"


def save_archive(model, path):
    """Write ``model`` (Sequential or functional, built) to ``path`` as a Keras 3 ``.keras`` archive, atomically."""
    with_assets = [layer.name for layer in model.leaf_layers() if layer.get_assets() is not None]
    if with_assets:
        raise ValueError(f"Model '{model.name}' has layers with learned assets ({', '.join(with_assets)}: adapted "
                         f"vocabularies), which nnkit does not write into a .keras archive. Save it as .nnkit.")
    config = keras_config.model_to_keras(model)
    if model.compiled is not None:
        config["compile_config"] = keras_config.compile_to_keras(model)
    from .saving import _version
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "nnkit_version": _version()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(METADATA_FILE, json.dumps(metadata))
        archive.writestr(CONFIG_FILE, json.dumps(config))
        archive.writestr(WEIGHTS_FILE, weights_bytes(model))
    files.atomic_write(path, buffer.getvalue())


def weights_bytes(model):
    """``model``'s weights as the bytes of a Keras 3 ``.weights.h5`` file."""
    buffer = io.BytesIO()
    with keras_h5.h5py_module().File(buffer, "w") as handle:
        keras_h5.write_weights(model, handle)
    return buffer.getvalue()


def _open(path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise WeightsFileError(f"'{path}' is not a readable zip archive (a Keras .keras file): {error}.") from None


def _member(archive, path, name):
    if name not in archive.namelist():
        raise WeightsFileError(f"'{path}' is a zip file but not a Keras .keras archive: it has no {name} "
                               f"(entries: {archive.namelist()}).")
    return archive.read(name)


@contextlib.contextmanager
def _weights_file(path):
    """The open h5py file of the ``model.weights.h5`` inside the archive at ``path``."""
    with _open(path) as archive:
        data = _member(archive, path, WEIGHTS_FILE)
    with keras_h5.h5py_module().File(io.BytesIO(data), "r") as handle:
        yield handle


def read_archive_weights(model, path):
    """The weights of ``model`` from the ``model.weights.h5`` inside the ``.keras`` archive at ``path``."""
    with _weights_file(path) as handle:
        return keras_h5.read_weights(model, f"{path}:{WEIGHTS_FILE}", handle)


def load_archive(path, custom_objects=None, compile=True):
    """The model in the Keras 3 ``.keras`` archive at ``path``, with its weights, compiled as its
    ``compile_config`` says (with the optimizer's state) when ``compile`` and the file has one."""
    with _open(path) as archive:
        try:
            config = json.loads(_member(archive, path, CONFIG_FILE))
        except ValueError as error:
            raise WeightsFileError(f"'{path}': its {CONFIG_FILE} is not valid JSON ({error}).") from None
    name = f"{path}:{WEIGHTS_FILE}"
    with _weights_file(path) as handle:
        return build_model(config, config.get("compile_config") if compile else None, path, custom_objects,
                           lambda model: keras_h5.read_weights(model, name, handle),
                           lambda model: keras_h5.read_optimizer(model, name, handle))


def build_model(config, compile_config, path, custom_objects, read_weights, read_optimizer=None):
    """A model from a Keras serialized ``config``, its weights from ``read_weights(model)``, compiled when
    ``compile_config`` is given (then ``read_optimizer(model)`` restores the optimizer); errors name the file."""
    dtype = _float_dtype(config)
    previous = backend.floatx()
    backend.set_floatx(dtype)
    try:
        try:
            model = keras_config.model_from_keras(config, custom_objects)
        except (keras_config.KerasConfigError, TypeError) as error:
            raise WeightsFileError(f"'{path}': {error}") from None
        model.set_weights(read_weights(model))
        if compile_config:
            try:
                keras_config.compile_from_keras(model, compile_config)
            except keras_config.KerasConfigError as error:
                raise WeightsFileError(f"'{path}': {error} Load it with compile=False to skip compiling.") from None
            if read_optimizer is not None:
                read_optimizer(model)
    finally:
        backend.set_floatx(previous)
    return model


def _float_dtype(config):
    """The model's float dtype (its DTypePolicy's), so the layers are made in it; float32 when none is given."""
    policy = config.get("config", {}).get("dtype")
    name = policy.get("config", {}).get("name") if isinstance(policy, dict) else policy
    return name if name in ("float32", "float64") else "float32"
