"""Writes the Keras-made fixtures for tests/test_keras_interop.py. Run it where Keras 3 is installed:

    pip install keras torch h5py
    KERAS_BACKEND=torch python tests/data/make_keras_weights.py [sequential] [functional] [nested]

With no argument it writes every fixture; name groups to write only those (each group is seeded on its
own, so writing one group leaves the others' files as they were):

* ``sequential``: ``keras_mlp`` and ``keras_cnn``. For each it saves ``<name>.weights.h5`` (Keras' own
  ``save_weights``) and ``<name>_io.npz`` holding a fixed input ``x`` and Keras' outputs ``y`` for it.
* ``functional``: ``keras_functional``, a two-input, two-output functional model with a shared layer, a
  Concatenate and a residual Add. ``keras_functional_io.npz`` holds the inputs ``xa``, ``xb``, the
  predictions ``y_cls``, ``y_reg``, the ``labels`` and ``targets`` of one ``train_on_batch`` step, its logs
  (``sgd_logs_<key>``, ``adam_logs_<key>``) and the weights after it (``sgd_weights_<i>``,
  ``adam_weights_<i>``, in ``get_weights`` order), and the starting weights (``start_weights_<i>``).
* ``nested``: ``keras_nested``, a functional model around a nested Sequential ``encoder``;
  ``keras_nested_io.npz`` holds ``x`` and ``y``.

For the functional fixtures ``<name>_info.json`` records the layer names and types, the weight shapes and
variable paths, the ``.weights.h5`` tree, the ``summary()`` text and the versions used.
nnkit does not depend on Keras; only these files are committed.
"""
import json
import os
import sys

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


def functional():
    layers = keras.layers
    a = keras.Input(shape=(6,), name="a")
    b = keras.Input(shape=(6,), name="b")
    shared = layers.Dense(8, activation="tanh", name="shared")
    h = layers.Concatenate(name="concat")([shared(a), shared(b)])
    r = layers.Dense(16, activation="relu", name="res")(h)
    h2 = layers.Add(name="add")([h, r])
    out1 = layers.Dense(3, activation="softmax", name="cls")(h2)
    out2 = layers.Dense(1, name="reg")(h2)
    return keras.Model(inputs=[a, b], outputs=[out1, out2], name="two_heads")


def nested():
    encoder = keras.Sequential([
        keras.Input(shape=(6,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(4),
    ], name="encoder")
    inp = keras.Input(shape=(6,))
    z = encoder(inp)
    out = keras.layers.Dense(2, activation="softmax")(z)
    return keras.Model(inp, out)


def perturb(model, rng):
    # Non-zero biases, so a bias loaded into the wrong place shows.
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in model.get_weights()])


def summary_text(model):
    # Keras sizes the table to the terminal (80 columns when there is none), cutting off "Connected to";
    # a wide COLUMNS gives its default widths (88 for a chain of layers, 108 with "Connected to").
    lines = []
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"
    try:
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "".join(lines)


def h5_tree(path):
    import h5py

    # [path, dataset shape or None for a group, the group's attributes]
    tree = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda key, obj: tree.append(
            [key, list(obj.shape), {}] if isinstance(obj, h5py.Dataset)
            else [key + "/", None, {k: str(v) for k, v in obj.attrs.items()}]))
    return tree


def info(model, weights_path):
    import torch

    return {
        "model_name": model.name,
        "layer_names": [layer.name for layer in model.layers],
        "layer_types": [type(layer).__name__ for layer in model.layers],
        "weight_shapes": [list(w.shape) for w in model.get_weights()],
        "weight_paths": [w.path for w in model.weights],
        "weights_h5_tree": h5_tree(weights_path),
        "summary": summary_text(model),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "torch_version": torch.__version__,
    }


def write_json(name, data):
    with open(os.path.join(HERE, f"{name}_info.json"), "w") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")


def compile_two_heads(model, optimizer):
    model.compile(
        optimizer=optimizer,
        loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.5},
        metrics={"cls": ["accuracy"]},
    )


def write_functional(name="keras_functional"):
    keras.backend.clear_session()  # auto-names (input_layer, functional, ...) as in a fresh process
    keras.utils.set_random_seed(1)
    rng = numpy.random.default_rng(1)
    model = functional()
    perturb(model, rng)
    start = model.get_weights()
    xa = rng.normal(size=(5, 6)).astype("float32")
    xb = rng.normal(size=(5, 6)).astype("float32")
    labels = numpy.array([0, 2, 1, 2, 0], dtype="int32")
    targets = rng.normal(size=(5, 1)).astype("float32")
    weights_path = os.path.join(HERE, f"{name}.weights.h5")
    model.save_weights(weights_path)
    y_cls, y_reg = (keras.ops.convert_to_numpy(y) for y in model([xa, xb], training=False))
    data = info(model, weights_path)  # before compile, so summary() has no optimizer line
    arrays = dict(xa=xa, xb=xb, y_cls=y_cls, y_reg=y_reg, labels=labels, targets=targets)
    arrays.update({f"start_weights_{i}": w for i, w in enumerate(start)})
    for tag, optimizer, m in (
        ("sgd", keras.optimizers.SGD(learning_rate=0.1), model),
        ("adam", keras.optimizers.Adam(learning_rate=0.01), functional()),
    ):
        m.set_weights(start)
        compile_two_heads(m, optimizer)
        logs = m.train_on_batch([xa, xb], {"cls": labels, "reg": targets}, return_dict=True)
        data[f"{tag}_log_keys"] = list(logs)
        arrays.update({f"{tag}_logs_{k}": numpy.asarray(float(v), dtype="float64") for k, v in logs.items()})
        arrays.update({f"{tag}_weights_{i}": w for i, w in enumerate(m.get_weights())})
    numpy.savez(os.path.join(HERE, f"{name}_io.npz"), **arrays)
    write_json(name, data)
    print(f"wrote {name}.weights.h5, {name}_io.npz and {name}_info.json with Keras {keras.__version__}")


def write_nested(name="keras_nested"):
    keras.backend.clear_session()
    keras.utils.set_random_seed(2)
    rng = numpy.random.default_rng(2)
    model = nested()
    perturb(model, rng)
    x = rng.normal(size=(5, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    weights_path = os.path.join(HERE, f"{name}.weights.h5")
    model.save_weights(weights_path)
    numpy.savez(os.path.join(HERE, f"{name}_io.npz"), x=x, y=y)
    data = info(model, weights_path)
    data["encoder_layer_names"] = [layer.name for layer in model.layers[1].layers]
    write_json(name, data)
    print(f"wrote {name}.weights.h5, {name}_io.npz and {name}_info.json with Keras {keras.__version__}")


def write_sequential():
    keras.utils.set_random_seed(0)
    generator = numpy.random.default_rng(0)
    write("keras_mlp", mlp(), (6,), generator)
    write("keras_cnn", cnn(), (8, 8, 2), generator)


GROUPS = {"sequential": write_sequential, "functional": write_functional, "nested": write_nested}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(GROUPS)
    unknown = [c for c in chosen if c not in GROUPS]
    if unknown:
        sys.exit(f"unknown fixture group(s) {unknown}; choose from {list(GROUPS)}")
    for group in chosen:
        GROUPS[group]()
