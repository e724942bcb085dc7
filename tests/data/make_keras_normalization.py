"""Writes the Keras-made fixtures for tests/test_layer_normalization.py and tests/test_noise_layers.py. Run it
where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_normalization.py

* ``keras_normalization.npz``: for each case of ``CASES`` (LayerNormalization over the last axis, a list of
  axes, non-adjacent axes, without center/scale; GroupNormalization; UnitNormalization), a fixed input
  ``<case>_x``, the layer's weights after a random perturbation ``<case>_w<i>`` (get_weights order) and Keras'
  output ``<case>_y``.
* ``keras_normalization_sgd.npz``: for each model of ``MODELS``, the input ``<model>_x`` and target ``<model>_t``
  of one ``train_on_batch`` with SGD(learning_rate=0.1) and mean squared error, the weights before
  (``<model>_start_<i>``) and after (``<model>_after_<i>``) it, and its loss (``<model>_loss``).

nnkit does not depend on Keras; only these files are committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers

#: name -> (layer factory, input shape); the tests build the same layers from the same arguments.
CASES = {
    "ln_last": (lambda: L.LayerNormalization(), (4, 3, 6)),
    "ln_axes": (lambda: L.LayerNormalization(axis=[1, 2]), (4, 3, 6)),
    "ln_apart": (lambda: L.LayerNormalization(axis=[1, 3], epsilon=1e-5), (3, 2, 4, 5)),
    "ln_plain": (lambda: L.LayerNormalization(center=False, scale=False), (4, 6)),
    "ln_scale_only": (lambda: L.LayerNormalization(axis=[2, 1], center=False), (3, 5, 2)),
    "gn": (lambda: L.GroupNormalization(groups=3), (3, 4, 5, 6)),
    "gn_axis1": (lambda: L.GroupNormalization(groups=2, axis=1), (3, 4, 5)),
    "gn_instance": (lambda: L.GroupNormalization(groups=-1, center=False), (3, 5, 4)),
    "un": (lambda: L.UnitNormalization(), (4, 6)),
    "un_axes": (lambda: L.UnitNormalization(axis=[1, 2]), (3, 4, 5)),
}

MODELS = {
    "ln": (lambda: keras.Sequential([keras.Input(shape=(5,)), L.Dense(6), L.LayerNormalization(), L.Dense(3)]),
           (4, 5), (4, 3)),
    "norms": (lambda: keras.Sequential([keras.Input(shape=(4, 6)), L.Dense(6), L.LayerNormalization(axis=[1, 2]),
                                        L.GroupNormalization(groups=3), L.UnitNormalization(), L.Flatten(),
                                        L.Dense(2)]),
              (5, 4, 6), (5, 2)),
}


def perturbed(weights, rng):
    return [w + rng.normal(scale=0.3, size=w.shape).astype(w.dtype) for w in weights]


def write_cases(rng):
    arrays = {}
    for name, (make, shape) in CASES.items():
        layer = make()
        x = (rng.normal(size=shape) * 2 + 1).astype("float32")
        if name == "un":
            x[1] = 0  # a zero vector stays zero
        layer(x)
        layer.set_weights(perturbed(layer.get_weights(), rng))
        arrays[f"{name}_x"] = x
        arrays[f"{name}_y"] = keras.ops.convert_to_numpy(layer(x))
        arrays.update({f"{name}_w{i}": w for i, w in enumerate(layer.get_weights())})
    numpy.savez_compressed(os.path.join(HERE, "keras_normalization.npz"), **arrays)


def write_models(rng):
    arrays = {}
    for name, (make, x_shape, t_shape) in MODELS.items():
        model = make()
        model.set_weights(perturbed(model.get_weights(), rng))
        arrays[f"{name}_x"] = x = rng.normal(size=x_shape).astype("float32")
        arrays[f"{name}_t"] = t = rng.normal(size=t_shape).astype("float32")
        arrays.update({f"{name}_start_{i}": w for i, w in enumerate(model.get_weights())})
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        arrays[f"{name}_loss"] = numpy.asarray(float(model.train_on_batch(x, t)))
        arrays.update({f"{name}_after_{i}": w for i, w in enumerate(model.get_weights())})
    numpy.savez_compressed(os.path.join(HERE, "keras_normalization_sgd.npz"), **arrays)


if __name__ == "__main__":
    keras.utils.set_random_seed(11)
    write_cases(numpy.random.default_rng(11))
    write_models(numpy.random.default_rng(12))
    print(f"wrote keras_normalization.npz and keras_normalization_sgd.npz with Keras {keras.__version__} "
          f"({keras.backend.backend()})")
