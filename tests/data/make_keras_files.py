"""Writes the Keras-made files of tests/test_keras_files.py into tests/data/keras_files/. Run it where Keras 3 is
installed (nnkit does not depend on Keras; only the files are committed):

    pip install keras torch h5py
    KERAS_BACKEND=torch python tests/data/make_keras_files.py [model names]

For every model of keras_file_models.py (each seeded on its own, so writing one leaves the others' files as they
were) Keras builds it, shifts its weights (``perturbed``) and writes:

* ``<name>.keras.gz``: ``model.save("<name>.keras")`` (a Keras 3 archive; compiled models keep their compile
  config; its ``model.weights.h5`` is what ``model.save_weights`` writes), gzip-compressed: HDF5 files are mostly
  padding, and the compressed copies are a few KB each;
* ``<name>.h5.gz``: ``model.save("<name>.h5")``, the legacy HDF5 model format, for ``dense_stack`` and ``merges``;
* ``<name>.npz``: the inputs ``x_0``, ``x_1``... and Keras' predictions ``y_0``, ``y_1``... (dict outputs in
  sorted key order), with ``keras_version``.

For the compiled models of ``TRAINED`` it also writes ``<name>_trained.keras.gz``, saved after one
``train_on_batch`` step (so the archive holds the optimizer's state), and ``<name>_trained.npz`` with the
batch (``x_<i>``, ``target_<key>``), the loss of the next step (``next_loss``) and the weights after it
(``next_weights_<i>``, in ``get_weights`` order): loading the archive and taking that step must give them.
"""
import gzip
import os
import shutil
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import keras  # noqa: E402
import numpy  # noqa: E402

import keras_file_models as models  # noqa: E402

OUT = os.path.join(HERE, "keras_files")
LEGACY = ("dense_stack", "merges")


def write(name, seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = numpy.random.default_rng(seed)
    model = models.MODELS[name](keras)
    model.set_weights(models.perturbed(model.get_weights(), rng))
    x = models.inputs(name, rng)
    y = models.outputs(model.predict(x, verbose=0))
    files = [f"{name}.keras"] + ([f"{name}.h5"] if name in LEGACY else [])
    for file in files:
        save_compressed(model, file)
    arrays = {f"x_{i}": value for i, value in enumerate(x if isinstance(x, list) else [x])}
    arrays.update({f"y_{i}": value for i, value in enumerate(y)})
    numpy.savez(os.path.join(OUT, name + ".npz"), keras_version=keras.__version__, **arrays)
    print(f"wrote {name}: {', '.join(f + '.gz' for f in files)} and {name}.npz with Keras "
          f"{keras.__version__} ({keras.backend.backend()})")


def save_compressed(model, file):
    with tempfile.TemporaryDirectory() as directory:
        model.save(os.path.join(directory, file))
        with open(os.path.join(directory, file), "rb") as source, \
                gzip.GzipFile(os.path.join(OUT, file + ".gz"), "wb", mtime=0) as target:
            shutil.copyfileobj(source, target)


def write_trained(name, seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = numpy.random.default_rng(seed)
    model = models.MODELS[name](keras)
    model.set_weights(models.perturbed(model.get_weights(), rng))
    x, y = models.inputs(name, rng), models.targets(name, rng)
    model.train_on_batch(x, y)
    save_compressed(model, f"{name}_trained.keras")
    logs = model.train_on_batch(x, y, return_dict=True)
    arrays = {f"x_{i}": value for i, value in enumerate(x if isinstance(x, list) else [x])}
    arrays.update({f"target_{key}": value for key, value in (y.items() if isinstance(y, dict) else [("0", y)])})
    arrays.update({f"next_weights_{i}": w for i, w in enumerate(model.get_weights())})
    numpy.savez(os.path.join(OUT, f"{name}_trained.npz"), keras_version=keras.__version__,
                next_loss=numpy.float64(logs["loss"]), **arrays)
    print(f"wrote {name}_trained.keras.gz and {name}_trained.npz with Keras {keras.__version__}")


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(models.MODELS)
    unknown = [c for c in chosen if c not in models.MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; choose from {list(models.MODELS)}")
    os.makedirs(OUT, exist_ok=True)
    for name in chosen:
        write(name, seed=list(models.MODELS).index(name))
        if name in models.TRAINED:
            write_trained(name, seed=100 + list(models.MODELS).index(name))
