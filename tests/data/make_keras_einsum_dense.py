"""Writes the Keras-made fixtures for tests/test_einsum_dense.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_einsum_dense.py

* ``keras_einsum_dense.npz``: for each case of ``CASES`` (EinsumDense with the equations of MultiHeadAttention's
  projections, ellipses on either side, biases on several axes, an input letter summed away) a fixed input
  ``<case>__x``, the layer's weights ``<case>__w<i>`` (Keras' order: kernel, bias) and Keras' output
  ``<case>__y``; ``configs`` holds the JSON ``{case: kwargs}``.
* ``keras_einsum_dense_sgd.npz``: for each case of ``STEP_MODELS``, a tiny model ``Input -> EinsumDense(s) ->
  Flatten -> Dense(2)``: its starting weights ``<case>__start<i>``, one ``train_on_batch`` with SGD(0.1) and
  mean squared error on ``<case>__x``, ``<case>__y``, the loss ``<case>__loss`` and the weights after the step
  ``<case>__after<i>``; ``configs`` holds ``{case: [kwargs of each EinsumDense]}``.

nnkit does not depend on Keras; only these files are committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# case: (EinsumDense kwargs, input shape with the batch axis)
CASES = {
    "dense": (dict(equation="ab,bc->ac", output_shape=5, bias_axes="c", activation="relu"), (3, 4)),
    "mha_projection": (dict(equation="abc,cde->abde", output_shape=[None, 2, 3], bias_axes="de"), (2, 4, 6)),
    "mha_output": (dict(equation="abcd,cde->abe", output_shape=[None, 5], bias_axes="e"), (2, 4, 2, 3)),
    "left_ellipsis": (dict(equation="...b,bc->...c", output_shape=4, bias_axes="c", activation="tanh"),
                      (2, 3, 2, 5)),
    "right_ellipsis": (dict(equation="ab...,bc->ac...", output_shape=3, bias_axes="c"), (2, 4, 2, 3)),
    "bias_on_sequence": (dict(equation="abc,cd->abd", output_shape=[3, 4], bias_axes="b", activation="sigmoid"),
                         (2, 3, 5)),
    "letter_in_all": (dict(equation="abc,bcd->abd", output_shape=[3, 4], bias_axes="bd"), (2, 3, 5)),
    "summed_input_letter": (dict(equation="abc,cd->ad", output_shape=4, activation="softmax"), (2, 3, 5)),
    "softmax_two_bias_axes": (dict(equation="abc,cde->abde", output_shape=[3, 2, 4], bias_axes="de",
                                   activation="softmax"), (2, 3, 5)),
}

# case: (kwargs of each EinsumDense in the chain, input shape with the batch axis)
STEP_MODELS = {
    "mha_chain": ([dict(equation="abc,cde->abde", output_shape=[4, 2, 3], bias_axes="de", activation="tanh"),
                   dict(equation="abcd,cde->abe", output_shape=[4, 5], bias_axes="e")], (2, 4, 6)),
    "left_ellipsis": ([dict(equation="...b,bc->...c", output_shape=4, bias_axes="c", activation="tanh")],
                      (2, 3, 2, 5)),
    "bias_on_sequence": ([dict(equation="abc,cd->abd", output_shape=[3, 4], bias_axes="b",
                               activation="sigmoid")], (2, 3, 5)),
    "right_ellipsis": ([dict(equation="ab...,bc->ac...", output_shape=3, bias_axes="c", activation="relu")],
                       (2, 4, 2, 3)),
}


def randomize(layer_or_model, rng):
    """Weights of scale 0.3, biases included (so a bias in the wrong place shows)."""
    layer_or_model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                                for w in layer_or_model.get_weights()])


def write_outputs(rng):
    arrays = {}
    for case, (kwargs, shape) in CASES.items():
        layer = keras.layers.EinsumDense(**kwargs)
        layer.build(shape)
        randomize(layer, rng)
        x = rng.normal(size=shape).astype("float32")
        arrays[f"{case}__x"] = x
        arrays[f"{case}__y"] = keras.ops.convert_to_numpy(layer(x))
        arrays.update({f"{case}__w{i}": w for i, w in enumerate(layer.get_weights())})
    arrays["configs"] = numpy.array(json.dumps({case: kwargs for case, (kwargs, _) in CASES.items()}))
    numpy.savez_compressed(os.path.join(HERE, "keras_einsum_dense.npz"), **arrays)


def write_steps(rng):
    arrays = {}
    for case, (chain, shape) in STEP_MODELS.items():
        model = keras.Sequential([keras.Input(shape=shape[1:])] + [keras.layers.EinsumDense(**kw) for kw in chain]
                                 + [keras.layers.Flatten(), keras.layers.Dense(2)])
        randomize(model, rng)
        x = rng.normal(size=shape).astype("float32")
        y = rng.normal(size=(shape[0], 2)).astype("float32")
        arrays.update({f"{case}__start{i}": w for i, w in enumerate(model.get_weights())})
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        arrays[f"{case}__loss"] = numpy.asarray(float(model.train_on_batch(x, y)), dtype="float64")
        arrays.update({f"{case}__x": x, f"{case}__y": y})
        arrays.update({f"{case}__after{i}": w for i, w in enumerate(model.get_weights())})
    arrays["configs"] = numpy.array(json.dumps({case: chain for case, (chain, _) in STEP_MODELS.items()}))
    numpy.savez_compressed(os.path.join(HERE, "keras_einsum_dense_sgd.npz"), **arrays)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    generator = numpy.random.default_rng(0)
    write_outputs(generator)
    write_steps(generator)
    print(f"wrote keras_einsum_dense.npz and keras_einsum_dense_sgd.npz with Keras {keras.__version__} "
          f"({keras.backend.backend()})")
