"""SimpleRNN, LSTM, GRU: forward against hand-written loops of the published equations, backward against
numerical gradients, masking, go_backwards, return_state, dropout, configs."""

import numpy
import pytest

from nnkit import backend
from nnkit.layers import GRU, LSTM, SimpleRNN
from nnkit.utils import gradcheck

LAYERS = {
    "simple_rnn": lambda **kw: SimpleRNN(3, **kw),
    "lstm": lambda **kw: LSTM(3, **kw),
    "gru": lambda **kw: GRU(3, **kw),
    "gru_reset_before": lambda **kw: GRU(3, reset_after=False, **kw),
}
# Row 0 is padded at the end, row 1 in the middle, row 2 not at all.
MASK = numpy.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)


@pytest.fixture(autouse=True)
def _cpu():
    """These tests compare with NumPy loops; tests/test_recurrent_gpu.py covers the GPU."""
    with backend.use("cpu"):
        yield


def sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def with_fixed_mask(layer, mask):
    """Make ``layer.forward`` apply ``mask``, so gradcheck (which calls forward) sees the masked layer."""
    layer.forward = lambda x, training=False: type(layer).forward_masked(layer, x, mask, training)[0]
    return layer


def inputs(shape=(3, 5, 4), seed=0):
    return numpy.random.default_rng(seed).standard_normal(shape)


# ---- backward: numerical gradients ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(kind, return_sequences, go_backwards, masked):
    layer = LAYERS[kind](return_sequences=return_sequences, go_backwards=go_backwards)
    if masked:
        with_fixed_mask(layer, MASK)
    result = gradcheck(layer, inputs())
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradcheck_return_state_with_mask(kind, return_sequences):
    layer = with_fixed_mask(LAYERS[kind](return_sequences=return_sequences, return_state=True), MASK)
    result = gradcheck(layer, inputs())  # gradcheck weighs every output of [output, *states]
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_gradcheck_dropout_and_zero_output_for_mask(kind):
    layer = with_fixed_mask(LAYERS[kind](return_sequences=True, dropout=0.3, recurrent_dropout=0.4,
                                         zero_output_for_mask=True), MASK)
    result = gradcheck(layer, inputs(), training=True)
    assert result.max_relative_error < 1e-6, result


def test_gradcheck_other_activations():
    layer = LSTM(3, activation="elu", recurrent_activation="softplus", return_sequences=True)
    assert gradcheck(layer, inputs()).max_relative_error < 1e-6
    layer = GRU(3, activation="relu", recurrent_activation="sigmoid", use_bias=False)
    assert gradcheck(layer, inputs()).max_relative_error < 1e-6


# ---- forward: the published equations, written out per gate -------------------------------------------
def lstm_reference(x, W, U, b):
    """Hochreiter & Schmidhuber (1997) with the forget gate of Gers et al. (2000); dicts keyed by gate."""
    N, T, _ = x.shape
    h = numpy.zeros((N, U["i"].shape[0]))
    c = numpy.zeros_like(h)
    hs = []
    for t in range(T):
        i = sigmoid(x[:, t] @ W["i"] + h @ U["i"] + b["i"])
        f = sigmoid(x[:, t] @ W["f"] + h @ U["f"] + b["f"])
        o = sigmoid(x[:, t] @ W["o"] + h @ U["o"] + b["o"])
        c_tilde = numpy.tanh(x[:, t] @ W["c"] + h @ U["c"] + b["c"])
        c = f * c + i * c_tilde
        h = o * numpy.tanh(c)
        hs.append(h)
    return numpy.stack(hs, axis=1), h, c


def gru_reference(x, W, U, b_in, b_rec, reset_after):
    """Cho et al. (2014), with Keras' convention h = z * h_prev + (1 - z) * candidate."""
    N, T, _ = x.shape
    h = numpy.zeros((N, U["z"].shape[0]))
    hs = []
    for t in range(T):
        z = sigmoid(x[:, t] @ W["z"] + b_in["z"] + h @ U["z"] + b_rec["z"])
        r = sigmoid(x[:, t] @ W["r"] + b_in["r"] + h @ U["r"] + b_rec["r"])
        if reset_after:
            candidate = numpy.tanh(x[:, t] @ W["h"] + b_in["h"] + r * (h @ U["h"] + b_rec["h"]))
        else:
            candidate = numpy.tanh(x[:, t] @ W["h"] + b_in["h"] + (r * h) @ U["h"])
        h = z * h + (1 - z) * candidate
        hs.append(h)
    return numpy.stack(hs, axis=1), h


def random_gates(names, D, U, rng):
    W = {g: rng.standard_normal((D, U)) * 0.5 for g in names}
    R = {g: rng.standard_normal((U, U)) * 0.5 for g in names}
    b = {g: rng.standard_normal(U) * 0.5 for g in names}
    return W, R, b


def float64_layer(layer, x):
    backend.set_floatx("float64")
    layer.build_for((None,) + x.shape[1:])
    return layer


def test_lstm_matches_published_equations_with_keras_weight_layout(rng):
    x = rng.standard_normal((4, 6, 5))
    W, R, b = random_gates("ifco", 5, 3, rng)
    layer = float64_layer(LSTM(3, return_sequences=True, return_state=True), x)
    # Keras' layout: the gates side by side in the order i, f, c, o.
    layer.set_weights([numpy.hstack([W[g] for g in "ifco"]), numpy.hstack([R[g] for g in "ifco"]),
                       numpy.concatenate([b[g] for g in "ifco"])])
    outputs, h, c = layer(x)
    expected_outputs, expected_h, expected_c = lstm_reference(x, W, R, b)
    numpy.testing.assert_allclose(outputs, expected_outputs, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(h, expected_h, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(c, expected_c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_published_equations_with_keras_weight_layout(rng, reset_after):
    x = rng.standard_normal((4, 6, 5))
    W, R, b_in = random_gates("zrh", 5, 3, rng)
    b_rec = {g: rng.standard_normal(3) * 0.5 for g in "zrh"} if reset_after else {g: 0.0 for g in "zrh"}
    layer = float64_layer(GRU(3, return_sequences=True, reset_after=reset_after), x)
    bias = numpy.concatenate([b_in[g] for g in "zrh"])
    if reset_after:
        bias = numpy.stack([bias, numpy.concatenate([b_rec[g] for g in "zrh"])])
    assert layer.bias.shape == bias.shape
    layer.set_weights([numpy.hstack([W[g] for g in "zrh"]), numpy.hstack([R[g] for g in "zrh"]), bias])
    expected, _ = gru_reference(x, W, R, b_in, b_rec, reset_after)
    numpy.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_simple_rnn_matches_elman_equations(rng):
    x = rng.standard_normal((4, 6, 5))
    layer = float64_layer(SimpleRNN(3, return_sequences=True), x)
    W, R, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    layer.set_weights([W, R, b])
    h = numpy.zeros((4, 3))
    for t in range(6):
        h = numpy.tanh(x[:, t] @ W + h @ R + b)
        numpy.testing.assert_allclose(layer(x)[:, t], h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_go_backwards_reads_the_reversed_sequence(kind, rng):
    x = rng.standard_normal((2, 5, 4))
    forwards = float64_layer(LAYERS[kind](return_sequences=True), x)
    backwards = float64_layer(LAYERS[kind](return_sequences=True, go_backwards=True), x)
    backwards.set_weights(forwards.get_weights())
    numpy.testing.assert_allclose(backwards(x), forwards(x[:, ::-1]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_masked_steps_carry_the_state(kind, rng):
    """A sequence padded (masked) anywhere gives what the sequence without those steps gives."""
    x = rng.standard_normal((3, 5, 4))
    layer = float64_layer(LAYERS[kind](return_sequences=True), x)
    outputs, _ = layer.forward_masked(x, MASK)
    last = layer.forward_masked(x, MASK)[0][:, -1]
    for n in range(3):
        kept = x[n:n + 1, MASK[n]]
        unpadded = layer(kept)
        numpy.testing.assert_allclose(last[n], unpadded[0, -1], rtol=1e-12, atol=1e-12)
        # Keras: a padded step outputs the carried state (the previous output).
        for t in range(5):
            real_steps = MASK[n, :t + 1].sum()
            numpy.testing.assert_allclose(outputs[n, t], unpadded[0, real_steps - 1], rtol=1e-12, atol=1e-12)
    layer.return_sequences = False
    final, mask_out = layer.forward_masked(x, MASK)
    assert mask_out is None  # consumed
    numpy.testing.assert_allclose(final, last, rtol=1e-12, atol=1e-12)


def test_unit_forget_bias_and_weight_shapes():
    layer = LSTM(4)
    layer.build_for((None, 7, 3))
    assert [w.shape for w in layer.get_weights()] == [(3, 16), (4, 16), (16,)]
    numpy.testing.assert_array_equal(layer.bias, numpy.r_[numpy.zeros(4), numpy.ones(4), numpy.zeros(8)])
    recurrent = layer.recurrent_kernel
    numpy.testing.assert_allclose(recurrent @ recurrent.T, numpy.eye(4), atol=1e-5)   # orthogonal rows
    gru = GRU(4)
    gru.build_for((None, 7, 3))
    assert [w.shape for w in gru.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    before = GRU(4, reset_after=False)
    before.build_for((None, 7, 3))
    assert before.bias.shape == (12,)
    no_bias = SimpleRNN(4, use_bias=False)
    no_bias.build_for((None, 7, 3))
    assert [w.shape for w in no_bias.get_weights()] == [(3, 4), (4, 4)]


@pytest.mark.parametrize("layer", [SimpleRNN(2, return_sequences=True, dropout=0.1),
                                   LSTM(5, unit_forget_bias=False, go_backwards=True, recurrent_regularizer="l2"),
                                   GRU(3, reset_after=False, activation="relu", return_state=True)])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_output_shapes_and_bad_input():
    assert LSTM(4, return_sequences=True).compute_output_shape((None, 7, 3)) == (None, 7, 4)
    assert GRU(4).compute_output_shape((None, 7, 3)) == (None, 4)
    with pytest.raises(ValueError, match="rank 3"):
        LSTM(4).build_for((None, 3))
    layer = LSTM(4)
    layer(numpy.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"\(batch, timesteps, 3\).*\(2, 5, 6\)"):
        layer(numpy.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match="units=0"):
        GRU(0)
    with pytest.raises(ValueError, match="dropout"):
        SimpleRNN(2, dropout=1.5)
    with pytest.raises(TypeError, match="recurrent_activation"):
        SimpleRNN(2, recurrent_activation="sigmoid")


def test_float32_matches_float64(rng):
    x = rng.standard_normal((4, 6, 5))
    layer64 = float64_layer(LSTM(3, return_sequences=True), x)
    backend.set_floatx("float32")
    layer32 = LSTM(3, return_sequences=True)
    layer32.build_for((None, 6, 5))
    layer32.set_weights(layer64.get_weights())
    numpy.testing.assert_allclose(layer32(x.astype("float32")), layer64(x), rtol=1e-5, atol=1e-6)
