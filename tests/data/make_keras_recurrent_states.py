"""Writes the Keras-made fixtures for tests/test_recurrent_states.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_recurrent_states.py

It writes ``keras_recurrent_states.npz`` (a few KB):

* for every case of ``LAYER_CASES`` (a class name and its keyword arguments; ``Bidirectional`` wraps an LSTM or
  GRU given as ``[class name, keyword arguments]`` under ``layer``), kept in the file as JSON under ``cases``: the
  input ``layer<i>_x``, the initial states ``layer<i>_s<k>`` (Keras' ``initial_state`` order), the weights
  ``layer<i>_w<j>`` (random, biases non-zero), the explicit mask ``layer<i>_mask`` where the case has one, and
  Keras' outputs ``layer<i>_y<k>`` (``[output, *states]`` with ``return_state``, else the output);
* for every case of ``STATEFUL_CASES`` (the layer made ``stateful=True``): two consecutive batches
  ``stateful<i>_x1``, ``stateful<i>_x2``, the weights ``stateful<i>_w<j>``, the outputs of the two calls
  ``stateful<i>_y1``, ``stateful<i>_y2``, and the output of a third call on ``x2`` after ``reset_state()``,
  ``stateful<i>_y3``;
* for each model of ``MODELS`` (``seq2seq``: an LSTM encoder whose final ``[h, c]`` start an LSTM decoder;
  ``gru_rnn``: a GRU encoder whose final ``h`` starts a SimpleRNN decoder; ``stateful``: a Sequential with a
  stateful LSTM trained on two consecutive batches): the inputs ``<model>_x<k>`` (per batch ``<model>_b<n>_x<k>``
  for ``stateful``), the labels ``<model>_labels`` (``<model>_b<n>_labels``), the starting weights
  ``<model>_start_<i>``, Keras' predictions ``<model>_y``, the losses of ``train_on_batch`` with
  SGD(learning_rate=0.1) and sparse categorical cross-entropy ``<model>_loss`` (one per batch), and the weights
  after training ``<model>_after_<i>`` (``get_weights`` order). For ``stateful`` the predictions are those of a
  third batch after training, which starts from the states the two training batches left.

nnkit does not depend on Keras; only this file's output is committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N, T, D, U = 2, 5, 4, 3

# (class name, keyword arguments, whether the call gets an explicit mask).
LAYER_CASES = [
    ("LSTM", {"units": U, "return_sequences": True, "return_state": True}, False),
    ("LSTM", {"units": U, "go_backwards": True}, True),
    ("GRU", {"units": U, "return_sequences": True}, False),
    ("GRU", {"units": U, "reset_after": False, "return_state": True}, True),
    ("SimpleRNN", {"units": U, "return_sequences": True, "go_backwards": True}, False),
    ("SimpleRNN", {"units": U, "return_state": True}, True),
    ("Bidirectional", {"layer": ["LSTM", {"units": U, "return_sequences": True, "return_state": True}],
                       "merge_mode": "concat"}, False),
    ("Bidirectional", {"layer": ["GRU", {"units": U}], "merge_mode": "sum"}, True),
]
MASK = [[1, 1, 0, 1, 1], [1, 1, 1, 0, 0]]

STATEFUL_CASES = [
    ("LSTM", {"units": U, "return_sequences": True}),
    ("GRU", {"units": U}),
    ("SimpleRNN", {"units": U, "return_sequences": True, "go_backwards": True}),
    ("Bidirectional", {"layer": ["GRU", {"units": U, "return_sequences": True}]}),
]


def make_layer(name, kwargs, **extra):
    if name == "Bidirectional":
        kwargs = dict(kwargs)
        inner_name, inner_kwargs = kwargs.pop("layer")
        return keras.layers.Bidirectional(make_layer(inner_name, inner_kwargs, **extra), **kwargs)
    return getattr(keras.layers, name)(**kwargs, **extra)


def state_count(name, kwargs):
    if name == "Bidirectional":
        return 2 * state_count(*kwargs["layer"])
    return 2 if name == "LSTM" else 1


def perturbed(weights, rng):
    """Non-zero biases, so a bias in the wrong place shows."""
    return [w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in weights]


def numpy_outputs(outputs):
    return [keras.ops.convert_to_numpy(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def write_layers(arrays, rng):
    arrays["cases"] = json.dumps([[name, kwargs, masked] for name, kwargs, masked in LAYER_CASES])
    for i, (name, kwargs, masked) in enumerate(LAYER_CASES):
        layer = make_layer(name, kwargs)
        x = rng.normal(size=(N, T, D)).astype("float32")
        states = [rng.normal(size=(N, U)).astype("float32") for _ in range(state_count(name, kwargs))]
        layer.build((None, T, D))
        layer.set_weights(perturbed(layer.get_weights(), rng))
        arrays[f"layer{i}_x"] = x
        arrays.update({f"layer{i}_s{k}": s for k, s in enumerate(states)})
        arrays.update({f"layer{i}_w{j}": w for j, w in enumerate(layer.get_weights())})
        call = {"initial_state": states}
        if masked:
            arrays[f"layer{i}_mask"] = numpy.array(MASK, dtype=bool)
            call["mask"] = keras.ops.convert_to_tensor(arrays[f"layer{i}_mask"])
        arrays.update({f"layer{i}_y{k}": y for k, y in enumerate(numpy_outputs(layer(x, **call)))})


def write_stateful(arrays, rng):
    arrays["stateful_cases"] = json.dumps([[name, kwargs] for name, kwargs in STATEFUL_CASES])
    for i, (name, kwargs) in enumerate(STATEFUL_CASES):
        layer = make_layer(name, kwargs, stateful=True)
        x1, x2 = (rng.normal(size=(N, 4, D)).astype("float32") for _ in range(2))
        layer.build((N, 4, D))
        layer.set_weights(perturbed(layer.get_weights(), rng))
        arrays.update({f"stateful{i}_w{j}": w for j, w in enumerate(layer.get_weights())})
        arrays[f"stateful{i}_x1"], arrays[f"stateful{i}_x2"] = x1, x2
        arrays[f"stateful{i}_y1"] = numpy_outputs(layer(x1))[0]
        arrays[f"stateful{i}_y2"] = numpy_outputs(layer(x2))[0]
        layer.reset_state()
        arrays[f"stateful{i}_y3"] = numpy_outputs(layer(x2))[0]


def seq2seq():
    layers = keras.layers
    encoder, decoder = keras.Input(shape=(6, 4)), keras.Input(shape=(5, 3))
    _, h, c = layers.LSTM(5, return_state=True)(encoder)
    sequence = layers.LSTM(5, return_sequences=True)(decoder, initial_state=[h, c])
    return keras.Model([encoder, decoder], layers.Dense(3, activation="softmax")(sequence))


def gru_rnn():
    layers = keras.layers
    encoder, decoder = keras.Input(shape=(6, 4)), keras.Input(shape=(5, 3))
    _, h = layers.GRU(4, return_state=True)(encoder)
    last = layers.SimpleRNN(4)(decoder, initial_state=h)
    return keras.Model([encoder, decoder], layers.Dense(3, activation="softmax")(last))


def stateful():
    # use_cudnn=False: Keras 3.15's fused torch path writes the new states in place before the backward (a torch
    # error); the generic path computes the same function.
    layers = keras.layers
    return keras.Sequential([keras.Input(batch_shape=(2, 4, 3)), layers.LSTM(5, stateful=True, use_cudnn=False),
                             layers.Dense(3, activation="softmax")])


def compiled(model):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return model


def write_models(arrays, rng):
    for key, make, label_shape in (("seq2seq", seq2seq, (4, 5)), ("gru_rnn", gru_rnn, (4,))):
        model = make()
        model.set_weights(perturbed(model.get_weights(), rng))
        xs = [rng.normal(size=(4,) + tuple(i.shape[1:])).astype("float32") for i in model.inputs]
        labels = rng.integers(0, 3, size=label_shape)
        arrays.update({f"{key}_x{k}": x for k, x in enumerate(xs)})
        arrays[f"{key}_labels"] = labels
        arrays.update({f"{key}_start_{i}": w for i, w in enumerate(model.get_weights())})
        arrays[f"{key}_y"] = numpy_outputs(model(xs, training=False))[0]
        arrays[f"{key}_loss"] = numpy.float32(compiled(model).train_on_batch(xs, labels))
        arrays.update({f"{key}_after_{i}": w for i, w in enumerate(model.get_weights())})

    model = stateful()
    model.set_weights(perturbed(model.get_weights(), rng))
    arrays.update({f"stateful_start_{i}": w for i, w in enumerate(model.get_weights())})
    compiled(model)
    losses = []
    for n in range(2):
        x, labels = rng.normal(size=(2, 4, 3)).astype("float32"), rng.integers(0, 3, size=2)
        arrays[f"stateful_b{n}_x0"], arrays[f"stateful_b{n}_labels"] = x, labels
        losses.append(model.train_on_batch(x, labels))
    arrays["stateful_loss"] = numpy.array(losses, dtype="float32")
    arrays.update({f"stateful_after_{i}": w for i, w in enumerate(model.get_weights())})
    arrays["stateful_x0"] = rng.normal(size=(2, 4, 3)).astype("float32")
    arrays["stateful_y"] = model.predict(arrays["stateful_x0"], batch_size=2, verbose=0)


if __name__ == "__main__":
    keras.utils.set_random_seed(21)
    rng = numpy.random.default_rng(21)
    arrays = {}
    write_layers(arrays, rng)
    write_stateful(arrays, rng)
    write_models(arrays, rng)
    numpy.savez_compressed(os.path.join(HERE, "keras_recurrent_states.npz"), **arrays)
    print(f"wrote keras_recurrent_states.npz with Keras {keras.__version__} ({keras.backend.backend()})")
