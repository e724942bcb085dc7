"""Check that Keras 3 reads what nnkit writes: for every model of keras_file_models.py, nnkit saves a ``.keras``
archive and a ``.weights.h5`` file; Keras loads the archive with ``keras.saving.load_model`` and the weights into
its own twin of the model, and both must predict what nnkit predicts. For the compiled models of ``TRAINED``,
Keras also resumes training from an archive nnkit saved after a step, and must reach nnkit's next weights. Not run by pytest (the test suite never
imports Keras); run it where Keras 3, a backend and nnkit's dependencies are installed:

    pip install keras torch h5py safetensors
    KERAS_BACKEND=torch PYTHONPATH=. python tests/data/check_keras_loads_nnkit_files.py [model names]

It prints one line per model and check, and exits 1 when any fails.
"""
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy  # noqa: E402

import keras_file_models as models  # noqa: E402
import nnkit  # noqa: E402

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def keras_predict(model, x):
    return models.outputs(model.predict(x, verbose=0))


def check(name, directory):
    rng = numpy.random.default_rng(0)
    model = models.MODELS[name](nnkit)
    model.set_weights(models.perturbed(model.get_weights(), rng))
    x = models.inputs(name, rng)
    expected = models.outputs(model.predict(x, verbose=0))
    archive = os.path.join(directory, f"{name}.keras")
    weights = os.path.join(directory, f"{name}.weights.h5")
    model.save(archive)
    model.save_weights(weights)
    results = []

    loaded = keras.saving.load_model(archive)
    results.append(("keras.saving.load_model(.keras)", keras_predict(loaded, x)))
    if model.compiled is not None:
        results.append(("  compiled as saved", loaded.optimizer is not None and loaded.compiled))
    twin = models.MODELS[name](keras)
    twin.load_weights(weights)
    results.append(("twin.load_weights(.weights.h5)", keras_predict(twin, x)))

    failed = False
    for what, got in results:
        if isinstance(got, bool):
            ok, detail = got, ""
        else:
            ok = len(got) == len(expected) and all(
                g.shape == e.shape and numpy.allclose(g, e, **TOLERANCE) for g, e in zip(got, expected))
            detail = f"max |difference| {max(float(numpy.max(numpy.abs(g - e))) for g, e in zip(got, expected)):.2e}" \
                if ok else f"shapes {[g.shape for g in got]} vs {[e.shape for e in expected]}"
            if not ok and len(got) == len(expected) and all(g.shape == e.shape for g, e in zip(got, expected)):
                detail = f"max |difference| {max(float(numpy.max(numpy.abs(g - e))) for g, e in zip(got, expected)):.2e}"
        print(f"{'ok  ' if ok else 'FAIL'} {name:18s} {what} {detail}")
        failed |= not ok
    return not failed


def check_resume(name, directory):
    """nnkit takes a training step and saves; Keras loads the archive and takes the next step, which must give the
    weights nnkit's own next step gives (the optimizer's state moved over)."""
    rng = numpy.random.default_rng(1)
    model = models.MODELS[name](nnkit)
    model.set_weights(models.perturbed(model.get_weights(), rng))
    x, y = models.inputs(name, rng), models.targets(name, rng)
    model.train_on_batch(x, y)
    archive = os.path.join(directory, f"{name}_trained.keras")
    model.save(archive)
    model.train_on_batch(x, y)
    loaded = keras.saving.load_model(archive)
    loaded.train_on_batch(x, y)
    got, expected = [numpy.asarray(w) for w in loaded.get_weights()], model.get_weights()
    ok = all(numpy.allclose(g, e, **TOLERANCE) for g, e in zip(got, expected))
    difference = max(float(numpy.max(numpy.abs(g - e))) for g, e in zip(got, expected))
    print(f"{'ok  ' if ok else 'FAIL'} {name:18s} Keras resumes training from nnkit's .keras: weights after the next "
          f"step, max |difference| {difference:.2e}")
    return ok


def main(names):
    print(f"Keras {keras.__version__} ({keras.backend.backend()}), nnkit {nnkit.__version__}")
    passed = True
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            try:
                passed &= check(name, directory)
                if name in models.TRAINED:
                    passed &= check_resume(name, directory)
            except Exception as error:  # report every model, then fail
                print(f"FAIL {name:18s} {type(error).__name__}: {error}")
                passed = False
    print("all passed" if passed else "some checks FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(models.MODELS)))
