"""Writes the Keras-made fixtures for tests/test_reshaping_layers.py and tests/test_activation_layers.py. Run it
where Keras 3 is installed, on its PyTorch backend (the gradients come from torch's autograd):

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_reshaping.py

It writes three files, each holding fixed inputs and what Keras computed from them:

* ``keras_reshaping_shapes.npz`` (float32): Reshape, Permute, RepeatVector, Flatten, Masking (its output and
  ``mask_<key>``, the mask Keras attaches) and Identity, keyed ``<key>`` with the input ``in_<key>``; and
  ``lstm_*``: a Sequential Masking -> LSTM(return_sequences=True) on zero-padded sequences, its weights
  (``lstm_weight_<i>``) and outputs.
* ``keras_reshaping_activations.npz`` (float64): two inputs, ``x`` (3, 6) and ``x3`` (2, 3, 4), kept away from
  the kinks (0, the thresholds, +-3 and 6), with upstream gradients ``up_x``, ``up_x3``. For each input, the
  activation functions (``fn_<name>``) and layers run on it are listed in ``keys_<input>``; ``y_<input>`` stacks
  their outputs and ``grad_<input>`` the gradients of ``sum(output * up)`` with respect to the input. Softmax
  with a mask takes ``mask`` (``softmax_mask``) or ``mask_broadcast``. PReLU (``prelu``, ``prelu_shared`` with
  shared_axes=[1]) on ``x3`` with ``alpha_<key>`` set: ``<key>``, ``grad_<key>`` and ``grad_alpha_<key>``.
* ``keras_reshaping_prelu.npz`` (float32): a tiny Sequential (Dense -> PReLU(shared_axes=[1]) -> Flatten ->
  Dense -> Softmax) before (``start_weights_<i>``, ``y``) and after one ``train_on_batch`` with SGD(0.1) and
  sparse categorical cross-entropy on ``x``, ``labels`` (``sgd_weights_<i>``, ``sgd_loss``).

nnkit does not depend on Keras; only these files are committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
layers = keras.layers


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def away_from_kinks(x):
    """``x`` nudged at least 0.05 away from the kinks tested: 0, +-1, 2.5, +-3 and 6."""
    for kink in (0.0, 1.0, -1.0, 2.5, 3.0, -3.0, 6.0):
        x = numpy.where(numpy.abs(x - kink) < 0.05, x + 0.12, x)
    return x


def write_shapes(rng):
    keras.utils.set_random_seed(2)   # the LSTM's initial weights
    out = {}

    def record(key, layer, x):
        y = layer(x)
        out[f"in_{key}"], out[key] = x, to_numpy(y)
        mask = layer.compute_mask(keras.ops.convert_to_tensor(x), None)
        if mask is not None:
            out[f"mask_{key}"] = to_numpy(mask)

    x3 = rng.normal(size=(2, 3, 4)).astype("float32")
    record("reshape", layers.Reshape((-1, 2)), x3)
    record("reshape_flat", layers.Reshape((12,)), x3)
    record("permute", layers.Permute((2, 1)), x3)
    record("permute_rank4", layers.Permute((3, 1, 2)), rng.normal(size=(2, 2, 3, 4)).astype("float32"))
    record("repeat_vector", layers.RepeatVector(3), rng.normal(size=(2, 4)).astype("float32"))
    record("flatten_rank5", layers.Flatten(), rng.normal(size=(2, 2, 1, 3, 2)).astype("float32"))
    record("identity", layers.Identity(), x3)
    xm = rng.normal(size=(3, 4, 2)).astype("float32")
    xm[0, 1] = 0.0          # a masked step inside the sequence
    xm[1, 2:] = 0.0         # padding at the end
    xm[2, 0, 0] = 0.0       # one feature 0, the other not: a real step
    record("masking", layers.Masking(), xm)
    xv = xm.copy()
    xv[1, 0] = 0.5          # every feature equals mask_value=0.5
    record("masking_value", layers.Masking(mask_value=0.5), xv)

    lengths = [5, 3, 2, 4]
    sequences = rng.normal(size=(4, 5, 3)).astype("float32")
    for row, length in enumerate(lengths):
        sequences[row, length:] = 0.0
    model = keras.Sequential([keras.Input((5, 3)), layers.Masking(), layers.LSTM(4, return_sequences=True)])
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    out.update(lstm_x=sequences, lstm_lengths=numpy.array(lengths), lstm_y=to_numpy(model(sequences)))
    out.update({f"lstm_weight_{i}": w for i, w in enumerate(model.get_weights())})
    numpy.savez_compressed(os.path.join(HERE, "keras_reshaping_shapes.npz"), **out)


def write_activations(rng):
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")   # else the layers compute in float32
    x = away_from_kinks(numpy.linspace(-6.9, 6.9, 18).reshape(3, 6) + rng.uniform(-0.2, 0.2, (3, 6)))
    x3 = away_from_kinks(rng.uniform(-4, 4, (2, 3, 4)))
    out = dict(x=x, up_x=rng.normal(size=x.shape), x3=x3, up_x3=rng.normal(size=x3.shape))
    results = {"x": ([], [], []), "x3": ([], [], [])}  # keys, outputs, gradients, per input

    def run(fn, input_name, mask=None):
        xt = torch.tensor(out[input_name], requires_grad=True)
        y = fn(xt) if mask is None else fn(xt, mask=torch.tensor(mask))
        (y * torch.tensor(out[f"up_{input_name}"])).sum().backward()
        return y.detach().numpy(), xt.grad.numpy()

    def record(key, fn, input_name, mask=None):
        for bucket, value in zip(results[input_name], (key,) + run(fn, input_name, mask)):
            bucket.append(value)

    for name in ["selu", "silu", "swish", "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "relu6",
                 "mish", "softsign", "log_softmax"]:
        record(f"fn_{name}", keras.activations.get(name), "x")
    record("relu", layers.ReLU(), "x")
    record("relu_max6", layers.ReLU(max_value=6), "x")
    record("relu_all", layers.ReLU(max_value=2.5, negative_slope=0.5, threshold=1.0), "x")
    record("leaky_relu", layers.LeakyReLU(), "x")
    record("leaky_relu_01", layers.LeakyReLU(negative_slope=0.1), "x")
    record("elu", layers.ELU(), "x")
    record("elu_05", layers.ELU(alpha=0.5), "x")
    record("softmax", layers.Softmax(), "x3")
    record("softmax_axis1", layers.Softmax(axis=1), "x3")
    record("softmax_axes12", layers.Softmax(axis=[1, 2]), "x3")
    mask = rng.uniform(size=(2, 3, 4)) > 0.3
    mask[1, 2] = False      # a fully masked row: all zeros
    out["mask"], out["mask_broadcast"] = mask, numpy.array([[1.0, 0.0, 0.9, 0.2]])
    record("softmax_mask", layers.Softmax(), "x3", mask=mask)
    record("softmax_mask_broadcast", layers.Softmax(), "x3", mask=out["mask_broadcast"])
    for input_name, (keys, outputs, grads) in results.items():
        out.update({f"keys_{input_name}": numpy.array(keys), f"y_{input_name}": numpy.stack(outputs),
                    f"grad_{input_name}": numpy.stack(grads)})

    for key, shared_axes in (("prelu", None), ("prelu_shared", [1])):
        prelu = layers.PReLU(shared_axes=shared_axes)
        prelu.build((None, 3, 4))
        alpha = rng.uniform(0.05, 0.5, size=tuple(prelu.alpha.shape))
        prelu.set_weights([alpha])
        out[key], out[f"grad_{key}"] = run(prelu, "x3")
        out[f"alpha_{key}"], out[f"grad_alpha_{key}"] = alpha, prelu.alpha.value.grad.numpy()
    numpy.savez_compressed(os.path.join(HERE, "keras_reshaping_activations.npz"), **out)
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


def write_prelu_step(rng):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((3, 4)), layers.Dense(5), layers.PReLU(shared_axes=[1]), layers.Flatten(),
                              layers.Dense(3), layers.Softmax()])
    weights = model.get_weights()
    weights[1] = rng.uniform(0.1, 0.4, size=weights[1].shape).astype("float32")  # PReLU's alpha, not all zero
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in weights])
    start = model.get_weights()
    x = rng.normal(size=(6, 3, 4)).astype("float32")
    labels = numpy.array([0, 2, 1, 1, 0, 2], dtype="int32")
    y = to_numpy(model(x))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, labels)
    out = dict(x=x, labels=labels, y=y, sgd_loss=numpy.asarray(float(loss)))
    out.update({f"start_weights_{i}": w for i, w in enumerate(start)})
    out.update({f"sgd_weights_{i}": w for i, w in enumerate(model.get_weights())})
    numpy.savez_compressed(os.path.join(HERE, "keras_reshaping_prelu.npz"), **out)


if __name__ == "__main__":
    generator = numpy.random.default_rng(11)
    write_shapes(generator)
    write_activations(generator)
    write_prelu_step(generator)
    print(f"wrote keras_reshaping_{{shapes,activations,prelu}}.npz with Keras {keras.__version__} "
          f"({keras.backend.backend()}, torch {torch.__version__})")
