"""Writes the Keras-made fixtures for tests/test_keras_interop.py. Run it where Keras 3 is installed:

    pip install keras torch h5py
    KERAS_BACKEND=torch python tests/data/make_keras_weights.py

For each small model it saves ``<name>.weights.h5`` (Keras' own ``save_weights``) and ``<name>_io.npz``
holding a fixed input ``x`` and Keras' outputs ``y`` for it. nnkit does not depend on Keras; only these
files are committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp():
    return keras.Sequential([
        keras.Input(shape=(6,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(3, activation="softmax"),
    ])


def cnn():
    return keras.Sequential([
        keras.Input(shape=(8, 8, 2)),
        keras.layers.Conv2D(4, (3, 3), padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(5, (3, 3), strides=(1, 1), padding="valid"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def write(name, model, input_shape, rng):
    # Non-zero biases, so a bias loaded into the wrong place shows.
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.normal(size=(5,) + input_shape).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
    numpy.savez(os.path.join(HERE, f"{name}_io.npz"), x=x, y=y)
    print(f"wrote {name}.weights.h5 and {name}_io.npz with Keras {keras.__version__} ({keras.backend.backend()})")


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    generator = numpy.random.default_rng(0)
    write("keras_mlp", mlp(), (6,), generator)
    write("keras_cnn", cnn(), (8, 8, 2), generator)
