"""Shape layers (Reshape, Permute, RepeatVector, Masking, Identity) and Flatten: forward against index loops and
Keras' outputs (tests/data/keras_reshaping_shapes.npz, written by make_keras_reshaping.py), shape and argument
tables, gradients (float64 central differences), masks (Masking -> LSTM skips the padded steps), configs."""
import os
import re

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import LSTM, Flatten
from nnkit.layers.reshaping import Identity, Masking, Permute, RepeatVector, Reshape
from nnkit.layers.serialization import deserialize, serialize
from nnkit.utils import gradcheck

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


@pytest.fixture(scope="module")
def keras_shapes():
    return dict(numpy.load(os.path.join(DATA, "keras_reshaping_shapes.npz")))


# ---- forward: index loops and Keras -------------------------------------------------------------------------------

def test_permute_matches_loops(xp, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    y = host(Permute((3, 1, 2)).forward(xp.asarray(x)))
    assert y.shape == (2, 5, 3, 4)
    for n, i, j, k in numpy.ndindex(*x.shape):
        assert y[n, k, i, j] == x[n, i, j, k]


def test_repeat_vector_and_reshape_match_loops(xp, rng):
    x = rng.standard_normal((2, 4))
    y = host(RepeatVector(3).forward(xp.asarray(x)))
    for n, r, f in numpy.ndindex(2, 3, 4):
        assert y[n, r, f] == x[n, f]
    x = rng.standard_normal((2, 3, 4))
    y = host(Reshape((-1, 2)).forward(xp.asarray(x)))
    assert y.shape == (2, 6, 2)
    for n, i, j in numpy.ndindex(2, 3, 4):   # row-major order: sample entry i*4 + j
        flat = i * 4 + j
        assert y[n, flat // 2, flat % 2] == x[n, i, j]


def test_masking_matches_loops(xp):
    x = numpy.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]],
                     [[0.5, 0.5], [4.0, 0.5], [0.5, 0.5]]])
    for mask_value in (0.0, 0.5):
        y, mask = Masking(mask_value=mask_value).forward_masked(xp.asarray(x), None)
        for n, t in numpy.ndindex(2, 3):
            real = any(v != mask_value for v in x[n, t])
            assert bool(host(mask)[n, t]) == real
            assert host(y)[n, t].tolist() == (x[n, t].tolist() if real else [0.0, 0.0])


@pytest.mark.parametrize("key, layer", [
    ("reshape", lambda: Reshape((-1, 2))),
    ("reshape_flat", lambda: Reshape((12,))),
    ("permute", lambda: Permute((2, 1))),
    ("permute_rank4", lambda: Permute((3, 1, 2))),
    ("repeat_vector", lambda: RepeatVector(3)),
    ("flatten_rank5", lambda: Flatten()),
    ("identity", lambda: Identity()),
    ("masking", lambda: Masking()),
    ("masking_value", lambda: Masking(mask_value=0.5)),
])
def test_outputs_and_masks_match_keras(keras_shapes, xp, key, layer):
    x = xp.asarray(keras_shapes[f"in_{key}"])
    y, mask = layer().forward_masked(x, None)
    assert y.dtype == numpy.float32
    numpy.testing.assert_array_equal(host(y), keras_shapes[key])
    if f"mask_{key}" in keras_shapes:
        numpy.testing.assert_array_equal(host(mask), keras_shapes[f"mask_{key}"])


# ---- masks --------------------------------------------------------------------------------------------------------

def test_masking_then_lstm_matches_keras(keras_shapes, backend_name):
    model = nnkit.Sequential([nnkit.Input((5, 3)), Masking(), LSTM(4, return_sequences=True)])
    model.set_weights([keras_shapes[f"lstm_weight_{i}"] for i in range(3)])
    y = model.predict(keras_shapes["lstm_x"], verbose=0)
    numpy.testing.assert_allclose(y, keras_shapes["lstm_y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking_then_lstm_skips_the_masked_steps(backend_name, rng, return_sequences):
    """Each padded sequence gives what the same LSTM gives on the sequence without its masked steps."""
    T, F = 6, 3
    real_steps = [[0, 1, 2, 3, 4, 5], [0, 1, 2], [0, 2, 3, 5], [1, 4]]  # padding at the end, inside, in front
    x = numpy.zeros((len(real_steps), T, F))
    for row, steps in enumerate(real_steps):
        x[row, steps] = rng.standard_normal((len(steps), F))
    lstm = LSTM(5, return_sequences=return_sequences)
    model = nnkit.Sequential([nnkit.Input((T, F)), Masking(), lstm])
    y = model.predict(x, verbose=0)
    for row, steps in enumerate(real_steps):
        alone = host(lstm(x[row:row + 1, steps]))[0]
        if not return_sequences:
            numpy.testing.assert_allclose(y[row], alone, rtol=1e-5, atol=1e-6)
            continue
        for k, t in enumerate(steps):   # a real step outputs the unpadded run's output at that step
            numpy.testing.assert_allclose(y[row, t], alone[k], rtol=1e-5, atol=1e-6)


def test_masking_then_lstm_trains(backend_name, rng):
    x = rng.standard_normal((8, 5, 2))
    x[:4, 3:] = 0.0
    y = rng.standard_normal((8, 1))
    model = nnkit.Sequential([nnkit.Input((5, 2)), Masking(), LSTM(3), nnkit.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert numpy.isfinite(history.history["loss"]).all()


def test_masking_gradient_is_zero_on_masked_steps(xp):
    layer = Masking()
    x = xp.asarray([[[1.0, 2.0], [0.0, 0.0]]])
    layer.forward(x)
    assert host(layer.backward(xp.ones((1, 2, 2)))).tolist() == [[[1.0, 1.0], [0.0, 0.0]]]


@pytest.mark.parametrize("layer, shape", [(Reshape((2, 6)), (2, 3, 4)), (Permute((2, 1)), (2, 3, 4)),
                                          (RepeatVector(2), (2, 3)), (Identity(), (2, 3, 4))])
def test_incoming_masks(xp, layer, shape):
    """Reshape, Permute and RepeatVector drop a mask (Keras' layers without masking support); Identity keeps it."""
    mask = xp.asarray(numpy.ones(shape[:2], dtype=bool))
    _, out_mask = layer.forward_masked(xp.zeros(shape), mask)
    assert (out_mask is mask) if isinstance(layer, Identity) else out_mask is None


# ---- gradients ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, shape", [
    (lambda: Reshape((-1, 3)), (2, 3, 4)),
    (lambda: Reshape((4, 1, 3)), (2, 12)),
    (lambda: Permute((2, 1)), (2, 3, 4)),
    (lambda: Permute((3, 1, 2)), (2, 2, 3, 4)),
    (lambda: RepeatVector(3), (2, 4)),
    (lambda: Masking(), (2, 3, 4)),
    (lambda: Identity(), (2, 3)),
    (lambda: Flatten(), (2, 2, 3, 2)),
])
def test_gradients(backend_name, rng, layer, shape):
    # (Masking is discontinuous at a masked step, whose gradient is 0: test_masking_gradient_is_zero_on_masked_steps.)
    assert gradcheck(layer(), rng.standard_normal(shape)).max_relative_error < 1e-6


# ---- Flatten on any rank ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3,), (3, 4), (3, 2, 5), (3, 2, 1, 4), (3, 2, 2, 1, 3)])
def test_flatten_any_rank(xp, rng, shape):
    x = rng.standard_normal(shape)
    layer = Flatten()
    y = layer.forward(xp.asarray(x))
    numpy.testing.assert_array_equal(host(y), x.reshape(shape[0], -1))   # (batch,) becomes (batch, 1), as in Keras
    assert layer.compute_output_shape((None,) + shape[1:]) == (None, int(numpy.prod(shape[1:])))
    assert host(layer.backward(y)).shape == shape
    assert Flatten().compute_output_shape((None, None, 4)) == (None, None)


# ---- shapes and errors: input shape in, output shape or error out -------------------------------------------------

SHAPE_CASES = [
    (Reshape((3, 4)), (None, 12), (None, 3, 4)),
    (Reshape((-1, 2, 2)), (None, 12), (None, 3, 2, 2)),
    (Reshape((6, -1)), (None, 3, 4), (None, 6, 2)),
    (Reshape((-1,)), (None, 2, 3, 4), (None, 24)),
    (Reshape((-1, 4)), (None, None, 4), (None, None, 4)),
    (Reshape((3, 4)), (None, None), (None, 3, 4)),
    (Reshape((3, 5)), (None, 3, 4), "(Reshape): The total size of the tensor must be unchanged. "
                                    "Received: input_shape=(3, 4), target_shape=(3, 5)"),
    (Reshape((-1, 5)), (None, 3, 4), "the input size cannot be divided by the specified dimensions in "
                                     "target_shape. Received: input_shape=(3, 4), target_shape=(-1, 5)"),
    (Reshape((0, -1)), (None, 3, 4), "cannot be divided"),
    (Permute((2, 1)), (None, 3, 4), (None, 4, 3)),
    (Permute((1, 3, 2)), (None, 2, 3, None), (None, 2, None, 3)),
    (Permute((2, 1)), (None, 3, 4, 5), "(Permute) with dims=(2, 1) expects an input of rank 3, but received input "
                                       "of shape (None, 3, 4, 5)."),
    (RepeatVector(4), (None, 3), (None, 4, 3)),
    (RepeatVector(4), (None, 3, 2), "(RepeatVector) expects an input of rank 2 (batch, features), but received "
                                    "input of shape (None, 3, 2)."),
    (Masking(), (None, 5, 3), (None, 5, 3)),
    (Identity(), (None, 7), (None, 7)),
]


@pytest.mark.parametrize("layer, input_shape, expected", SHAPE_CASES, ids=[str(c[:2]) for c in SHAPE_CASES])
def test_shapes_and_errors(layer, input_shape, expected):
    if isinstance(expected, tuple):
        assert layer.build_for(input_shape) == expected
        return
    with pytest.raises(ValueError) as error:
        layer.build_for(input_shape)
    assert expected in str(error.value)


def test_reshape_checks_the_batch_at_run_time(xp):
    layer = Reshape((-1, 4))
    layer.build_for((None, None, 4))
    assert layer.forward(xp.zeros((2, 5, 4))).shape == (2, 5, 4)
    with pytest.raises(ValueError, match=r"input_shape=\(5, 3\), target_shape=\(-1, 4\)"):
        layer.forward(xp.zeros((2, 5, 3)))


ARGUMENT_ERRORS = [
    (lambda: Reshape((-1, -1)), ValueError, "Reshape: there must be at most one unknown dimension (-1) in "
                                            "`target_shape`. Received: target_shape=(-1, -1)"),
    (lambda: Reshape((-2, 3)), ValueError, "Reshape: each dimension in `target_shape` must be a non-negative "
                                           "integer, or `-1`"),
    (lambda: Reshape((2.5, 2)), ValueError, "Received: target_shape=(2.5, 2)"),
    (lambda: Permute((1, 1)), ValueError, "Permute: invalid permutation argument `dims`. The set of indices in "
                                          "`dims` must be consecutive and start from 1. Received dims=(1, 1)"),
    (lambda: Permute((0, 1)), ValueError, "Received dims=(0, 1)"),
    (lambda: Permute((2, 3)), ValueError, "Received dims=(2, 3)"),
    (lambda: RepeatVector(0), ValueError, "RepeatVector: expected a positive integer for `n`. Received: n=0"),
    (lambda: RepeatVector(2.0), TypeError, "RepeatVector: expected an integer value for `n`. Received: n=2.0"),
    (lambda: RepeatVector(True), TypeError, "Received: n=True"),
    (lambda: Masking(mask_value="pad"), ValueError, "Masking: expected a finite number for `mask_value`."),
    (lambda: Identity(units=3), TypeError, "Identity got unexpected keyword argument(s): units"),
]


@pytest.mark.parametrize("make, error, message", ARGUMENT_ERRORS, ids=[e[2][:40] for e in ARGUMENT_ERRORS])
def test_argument_errors(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


# ---- configs ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [Reshape((-1, 2), name="r"), Permute((3, 1, 2)), RepeatVector(5),
                                   Masking(mask_value=-1.0), Identity()])
def test_config_round_trips(layer):
    config = layer.get_config()
    twin = type(layer).from_config(config)
    assert twin.get_config() == config
    assert deserialize(serialize(layer)).get_config() == config


def test_keras_config_keys():
    assert Reshape((3, 4)).get_config()["target_shape"] == [3, 4]
    assert Permute((2, 1)).get_config()["dims"] == [2, 1]
    assert RepeatVector(3).get_config()["n"] == 3
    assert Masking().get_config()["mask_value"] == 0.0
    names = [layer.name for layer in (Reshape((1,)), Permute((1,)), RepeatVector(1), Masking(), Identity())]
    for name, keras_name in zip(names, ["reshape", "permute", "repeat_vector", "masking", "identity"]):
        assert re.fullmatch(keras_name + r"(_\d+)?", name), name


def test_model_with_shape_layers_saves_and_loads(tmp_path, rng):
    model = nnkit.Sequential([nnkit.Input((3, 4)), Masking(), Permute((2, 1)), Reshape((-1,)), RepeatVector(2),
                              Identity(), Flatten(), nnkit.layers.Dense(2)])
    x = rng.standard_normal((3, 3, 4)).astype("float32")
    model.save(tmp_path / "m.nnkit")
    restored = nnkit.models.load_model(tmp_path / "m.nnkit")
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
