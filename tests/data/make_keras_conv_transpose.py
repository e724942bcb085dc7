"""Writes the Keras-made fixtures for tests/test_conv_transpose.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_conv_transpose.py

* ``keras_conv_transpose.npz``: for each case of ``CASES`` (Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
  with various geometries) a fixed input ``<case>__x``, the layer's weights ``<case>__w<i>`` (in Keras'
  order) and Keras' output ``<case>__y``; ``configs`` holds the JSON ``{case: [class name, kwargs]}``.
* ``keras_conv_transpose_sgd.npz``: for each layer class, a tiny model ``Input -> layer -> Flatten ->
  Dense(2)`` (``STEP_MODELS``): its starting weights ``<case>__start<i>``, one ``train_on_batch`` with
  SGD(0.1) and mean squared error on ``<case>__x``, ``<case>__y``, the loss ``<case>__loss`` and the weights
  after the step ``<case>__after<i>``; ``configs`` as above, for the middle layer.

nnkit does not depend on Keras; only these files are committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# case: (class name, kwargs, input shape with the batch axis)
CASES = {
    "ct_s1_valid": ("Conv2DTranspose", dict(filters=3, kernel_size=3), (2, 4, 5, 2)),
    "ct_s2_same": ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (1, 3, 4, 2)),
    "ct_s2_valid_op": ("Conv2DTranspose", dict(filters=2, kernel_size=(3, 2), strides=2, output_padding=1),
                       (1, 3, 3, 3)),
    "ct_s2_same_op": ("Conv2DTranspose", dict(filters=2, kernel_size=4, strides=2, padding="same",
                                              output_padding=(1, 0)), (1, 3, 4, 2)),
    "ct_s2_same_op0": ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same",
                                               output_padding=0), (1, 3, 3, 2)),
    "ct_s23_same_k4": ("Conv2DTranspose", dict(filters=2, kernel_size=(4, 5), strides=(2, 3), padding="same"),
                       (1, 3, 2, 2)),
    "ct_s3_k2_valid": ("Conv2DTranspose", dict(filters=2, kernel_size=2, strides=3, use_bias=False), (1, 3, 2, 1)),
    "ct_dilation_same": ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same",
                                                 activation="relu"), (1, 5, 6, 2)),
    "ct_dilation_valid": ("Conv2DTranspose", dict(filters=2, kernel_size=(2, 3), dilation_rate=(2, 1),
                                                  activation="tanh"), (1, 3, 4, 3)),
    "dw_m2_s2_same": ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2),
                      (1, 5, 6, 3)),
    "dw_dilation_valid": ("DepthwiseConv2D", dict(kernel_size=(2, 3), dilation_rate=2, activation="relu"),
                          (1, 6, 7, 2)),
    "dw_many_channels": ("DepthwiseConv2D", dict(kernel_size=3, padding="same", use_bias=False), (1, 3, 4, 17)),
    "sep_s2_same": ("SeparableConv2D", dict(filters=4, kernel_size=3, strides=2, padding="same",
                                            depth_multiplier=2), (1, 5, 5, 3)),
    "sep_valid": ("SeparableConv2D", dict(filters=3, kernel_size=(2, 3), activation="relu"), (1, 4, 5, 2)),
}

STEP_MODELS = {
    "ct_step": ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same", activation="tanh"),
                (2, 3, 3, 2)),
    "dw_step": ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2,
                                        activation="tanh"), (2, 5, 5, 2)),
    "sep_step": ("SeparableConv2D", dict(filters=3, kernel_size=3, padding="same", depth_multiplier=2,
                                         activation="tanh"), (2, 4, 4, 2)),
}


def randomize(layer_or_model, rng):
    """Weights of scale 0.3, biases included (so a bias in the wrong place shows)."""
    layer_or_model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                                for w in layer_or_model.get_weights()])


def write_outputs(rng):
    arrays = {}
    for case, (kind, kwargs, shape) in CASES.items():
        layer = getattr(keras.layers, kind)(**kwargs)
        layer.build(shape)
        randomize(layer, rng)
        x = rng.normal(size=shape).astype("float32")
        arrays[f"{case}__x"] = x
        arrays[f"{case}__y"] = keras.ops.convert_to_numpy(layer(x))
        arrays.update({f"{case}__w{i}": w for i, w in enumerate(layer.get_weights())})
    arrays["configs"] = numpy.array(json.dumps({case: [kind, kwargs] for case, (kind, kwargs, _) in CASES.items()}))
    numpy.savez_compressed(os.path.join(HERE, "keras_conv_transpose.npz"), **arrays)


def write_steps(rng):
    arrays = {}
    for case, (kind, kwargs, shape) in STEP_MODELS.items():
        model = keras.Sequential([keras.Input(shape=shape[1:]), getattr(keras.layers, kind)(**kwargs),
                                  keras.layers.Flatten(), keras.layers.Dense(2)])
        randomize(model, rng)
        x = rng.normal(size=shape).astype("float32")
        y = rng.normal(size=(shape[0], 2)).astype("float32")
        arrays.update({f"{case}__start{i}": w for i, w in enumerate(model.get_weights())})
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        arrays[f"{case}__loss"] = numpy.asarray(float(model.train_on_batch(x, y)), dtype="float64")
        arrays.update({f"{case}__x": x, f"{case}__y": y})
        arrays.update({f"{case}__after{i}": w for i, w in enumerate(model.get_weights())})
    arrays["configs"] = numpy.array(json.dumps({case: [kind, kwargs]
                                                for case, (kind, kwargs, _) in STEP_MODELS.items()}))
    numpy.savez_compressed(os.path.join(HERE, "keras_conv_transpose_sgd.npz"), **arrays)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    generator = numpy.random.default_rng(0)
    write_outputs(generator)
    write_steps(generator)
    print(f"wrote keras_conv_transpose.npz and keras_conv_transpose_sgd.npz with Keras {keras.__version__} "
          f"({keras.backend.backend()})")
