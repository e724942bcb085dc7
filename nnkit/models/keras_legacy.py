"""The legacy Keras ``.h5`` model file (Keras 2's ``model.save("m.h5")``, which Keras 3 still writes), read: the
architecture in the file's ``model_config`` attribute, the compile arguments in ``training_config``, the weights
in the ``model_weights`` group (``keras_h5.read_legacy_weights``). nnkit does not write this format: Keras 3
calls it legacy and recommends ``.keras``, which nnkit writes."""
import json

from . import keras_h5
from .files import WeightsFileError
from .keras_archive import build_model


def load_legacy_model(path, custom_objects=None, compile=True):
    """The model in the legacy Keras ``.h5`` file at ``path``, with its weights, compiled as its
    ``training_config`` says when ``compile`` (and the file has one)."""
    with keras_h5.h5py_module().File(path, "r") as handle:
        if "model_config" not in handle.attrs:
            raise WeightsFileError(f"'{path}' is an HDF5 file without a 'model_config' attribute, so it holds weights "
                                   f"only, not a model. Build the model in code, then call model.load_weights('{path}').")
        config = json.loads(keras_h5.text(handle.attrs["model_config"]))
        training = json.loads(keras_h5.text(handle.attrs["training_config"])) if "training_config" in handle.attrs else None
        compile_config = None
        if compile and training:
            compile_config = {**training, "optimizer": training.get("optimizer_config")}
        return build_model(config, compile_config, path, custom_objects,
                           lambda model: keras_h5.read_legacy_weights(model, path, handle))

