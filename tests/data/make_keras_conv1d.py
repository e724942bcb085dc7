"""Writes the Keras-made fixtures for tests/test_conv1d.py and tests/test_spatial_layers.py. Run it where Keras 3 is
installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_conv1d.py

It writes two files (a few KB each):

* ``keras_conv1d_layers.npz``: for every case of ``LAYER_CASES`` (a class name and its keyword arguments, kept in
  the file as JSON under ``cases``), a fixed input ``<i>_x``, the weights ``<i>_w<j>`` (random, biases non-zero)
  for layers that have them, the mask ``<i>_mask`` where the case has one, and Keras' output ``<i>_y``.
* ``keras_conv1d_models.npz``: for each model of ``MODELS`` (``temporal``: Conv1D with groups, causal and dilated,
  the 1-D pooling, padding, cropping and upsampling layers; ``images``: grouped Conv2D, bilinear UpSampling2D,
  Cropping2D, ZeroPadding2D, GlobalMaxPooling2D), the input ``<model>_x``, the labels ``<model>_labels``, the
  starting weights ``<model>_start_<i>``, Keras' predictions ``<model>_y``, the loss of one ``train_on_batch``
  with SGD(learning_rate=0.1) and sparse categorical cross-entropy ``<model>_loss``, and the weights after that
  step ``<model>_after_<i>`` (``get_weights`` order).

nnkit does not depend on Keras; only these files are committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# (class name, keyword arguments, input shape without the batch axis, mask over the steps or None).
# Average pooling with 'same' padding is written where the padding is the same at both ends: where it is not,
# Keras' torch backend pads by repeating the edge step, which then counts in the mean, whereas TensorFlow and JAX
# (and nnkit) average over the steps inside the input only. tests/test_spatial_layers.py checks that case by loops.
LAYER_CASES = [
    ("Conv1D", {"filters": 3, "kernel_size": 3}, (9, 4), None),
    ("Conv1D", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, (9, 4), None),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "activation": "tanh"},
     (9, 4), None),
    ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (9, 4), None),
    ("Conv1D", {"filters": 3, "kernel_size": 2, "strides": 2, "padding": "causal", "activation": "relu"},
     (9, 4), None),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "strides": 3, "groups": 2}, (10, 4), None),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "groups": 4, "use_bias": False}, (7, 4), None),
    ("Conv2D", {"filters": 6, "kernel_size": (3, 2), "padding": "same", "groups": 3}, (5, 4, 6), None),
    ("MaxPooling1D", {"pool_size": 2}, (9, 3), None),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (8, 3), None),
    ("AveragePooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (7, 3), None),   # symmetric: see below
    ("AveragePooling1D", {"pool_size": 2, "strides": 1}, (7, 3), None),
    ("GlobalMaxPooling1D", {}, (6, 3), None),
    ("GlobalMaxPooling1D", {"keepdims": True}, (6, 3), None),
    ("GlobalAveragePooling1D", {}, (6, 3), None),
    ("GlobalAveragePooling1D", {"keepdims": True}, (6, 3), [[1, 1, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1]]),
    ("GlobalMaxPooling2D", {}, (4, 5, 3), None),
    ("GlobalMaxPooling2D", {"keepdims": True}, (4, 5, 3), None),
    ("UpSampling1D", {"size": 3}, (4, 2), None),
    ("UpSampling2D", {"size": (2, 3)}, (3, 4, 2), None),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (3, 4, 2), None),
    ("UpSampling2D", {"size": 4, "interpolation": "bilinear"}, (2, 3, 1), None),
    ("ZeroPadding1D", {"padding": (1, 2)}, (4, 2), None),
    ("ZeroPadding2D", {"padding": ((1, 2), (0, 3))}, (3, 4, 2), None),
    ("ZeroPadding2D", {"padding": 2}, (2, 2, 1), None),
    ("Cropping1D", {"cropping": (1, 2)}, (6, 2), None),
    ("Cropping2D", {"cropping": ((1, 0), (1, 2))}, (4, 5, 2), None),
    ("Cropping2D", {"cropping": 1}, (4, 5, 2), None),
]


def temporal():
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(12, 4)),
        layers.ZeroPadding1D((2, 1)),
        layers.Conv1D(4, 3, groups=2, activation="tanh"),
        layers.UpSampling1D(2),
        layers.Cropping1D((1, 2)),
        layers.MaxPooling1D(2),
        layers.AveragePooling1D(2, strides=1, padding="same"),
        layers.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="tanh"),
        layers.Conv1D(5, 2, strides=2, padding="same"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(3, activation="softmax"),
    ])


def images():
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(5, 5, 2)),
        layers.Conv2D(4, 3, padding="same", groups=2, activation="tanh"),
        layers.UpSampling2D((2, 2), interpolation="bilinear"),
        layers.Cropping2D(((1, 0), (0, 1))),
        layers.ZeroPadding2D(((0, 1), (2, 0))),
        layers.Conv2D(3, 2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(2, activation="softmax"),
    ])


MODELS = {"temporal": (temporal, 3), "images": (images, 2)}


def perturbed(weights, rng):
    """Non-zero biases, so a bias in the wrong place shows."""
    return [w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in weights]


def write_layers(rng):
    arrays = {"cases": json.dumps([[name, kwargs] for name, kwargs, _, _ in LAYER_CASES])}
    for i, (name, kwargs, shape, mask) in enumerate(LAYER_CASES):
        layer = getattr(keras.layers, name)(**kwargs)
        x = rng.normal(size=(2,) + shape).astype("float32")
        layer.build((None,) + shape)
        if layer.weights:
            layer.set_weights(perturbed(layer.get_weights(), rng))
            for j, w in enumerate(layer.get_weights()):
                arrays[f"{i}_w{j}"] = w
        arrays[f"{i}_x"] = x
        if mask is None:
            y = layer(x)
        else:
            arrays[f"{i}_mask"] = numpy.array(mask, dtype=bool)
            y = layer(x, mask=keras.ops.convert_to_tensor(arrays[f"{i}_mask"]))
        arrays[f"{i}_y"] = keras.ops.convert_to_numpy(y)
    numpy.savez_compressed(os.path.join(HERE, "keras_conv1d_layers.npz"), **arrays)


def write_models(rng):
    arrays = {}
    for key, (make, classes) in MODELS.items():
        model = make()
        model.set_weights(perturbed(model.get_weights(), rng))
        x = rng.normal(size=(6,) + model.input_shape[1:]).astype("float32")
        labels = rng.integers(0, classes, size=6)
        arrays[f"{key}_x"], arrays[f"{key}_labels"] = x, labels
        for i, w in enumerate(model.get_weights()):
            arrays[f"{key}_start_{i}"] = w
        arrays[f"{key}_y"] = keras.ops.convert_to_numpy(model(x, training=False))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
        arrays[f"{key}_loss"] = numpy.float32(model.train_on_batch(x, labels))
        for i, w in enumerate(model.get_weights()):
            arrays[f"{key}_after_{i}"] = w
    numpy.savez_compressed(os.path.join(HERE, "keras_conv1d_models.npz"), **arrays)


if __name__ == "__main__":
    keras.utils.set_random_seed(11)
    write_layers(numpy.random.default_rng(11))
    write_models(numpy.random.default_rng(12))
    print(f"wrote keras_conv1d_layers.npz and keras_conv1d_models.npz with Keras {keras.__version__} "
          f"({keras.backend.backend()})")
