"""Recurrent layers' states: ``initial_state=`` (and an explicit ``mask=``) in a call, ``stateful=True`` with
``reset_states()``, and ``unroll``. Outputs, encoder-decoder models and stateful training against Keras
(tests/data/make_keras_recurrent_states.py); the gradients reaching the initial states against numerical ones on
both backends; configs and errors."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers.gru import GRU
from nnkit.layers.lstm import LSTM
from nnkit.layers.simple_rnn import SimpleRNN
from nnkit.layers.core import Dense
from nnkit.layers.wrappers import Bidirectional
from nnkit.utils import gradcheck

from test_recurrent import LAYERS  # the four recurrent layer configurations

DATA = os.path.join(os.path.dirname(__file__), "data")
KERAS = numpy.load(os.path.join(DATA, "keras_recurrent_states.npz"))
CLASSES = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}
# Row 0 is padded in the middle and at the end, row 1 not at all, row 2 at the end.
MASK = numpy.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)


@pytest.fixture(autouse=True)
def _cpu_unless_both_backends(request):
    """Tests that do not take ``backend_name`` hand NumPy arrays to the layers: they run on NumPy."""
    if "backend_name" in request.fixturenames:
        yield
        return
    with backend.use("cpu"):
        yield


def host(a):
    return backend.to_host(a)


def make(name, kwargs, **extra):
    """A layer of a case of the golden script: ``Bidirectional`` wraps ``[class name, kwargs]``."""
    if name == "Bidirectional":
        kwargs = dict(kwargs)
        inner_name, inner_kwargs = kwargs.pop("layer")
        return Bidirectional(make(inner_name, inner_kwargs, **extra), **kwargs)
    return CLASSES[name](**kwargs, **extra)


def state_count(layer):
    if isinstance(layer, Bidirectional):
        return 2 * layer.forward_layer.state_count
    return layer.state_count


def as_list(outputs):
    return outputs if isinstance(outputs, list) else [outputs]


# ---- Keras: layers called with initial states (and an explicit mask) -------------------------------------------
CASES = json.loads(str(KERAS["cases"]))


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{n}-{kw}-mask={m}" for n, kw, m in CASES])
def test_keras_outputs_with_initial_states(case, backend_name):
    name, kwargs, masked = CASES[case]
    layer = make(name, kwargs)
    x = KERAS[f"layer{case}_x"]
    layer.build_for((None,) + x.shape[1:])
    layer.set_weights([KERAS[f"layer{case}_w{j}"] for j in range(len(layer.weights))])
    states = [KERAS[f"layer{case}_s{k}"] for k in range(state_count(layer))]
    outputs = as_list(layer(x, initial_state=states, mask=KERAS[f"layer{case}_mask"] if masked else None))
    expected = [KERAS[f"layer{case}_y{k}"] for k in range(len(outputs))]
    assert f"layer{case}_y{len(outputs)}" not in KERAS.files
    for output, golden in zip(outputs, expected):
        numpy.testing.assert_allclose(host(output), golden, rtol=1e-5, atol=1e-6)


# ---- Keras: stateful layers over consecutive batches -------------------------------------------------------------
STATEFUL = json.loads(str(KERAS["stateful_cases"]))


@pytest.mark.parametrize("case", range(len(STATEFUL)), ids=[f"{n}-{kw}" for n, kw in STATEFUL])
def test_keras_stateful_batches_and_reset(case, backend_name):
    name, kwargs = STATEFUL[case]
    layer = make(name, kwargs, stateful=True)
    assert layer.states is None
    layer.build_for((None, 4, KERAS[f"stateful{case}_x1"].shape[-1]))
    layer.set_weights([KERAS[f"stateful{case}_w{j}"] for j in range(len(layer.weights))])
    for call in ("y1", "y2"):
        x = KERAS[f"stateful{case}_x{call[1]}"]
        numpy.testing.assert_allclose(host(layer(x)), KERAS[f"stateful{case}_{call}"], rtol=1e-5, atol=1e-6)
    (layer.reset_state if case % 2 else layer.reset_states)()   # Keras 3's name and Keras 2's
    assert all(not host(state).any() for state in layer.states)
    y3 = host(layer(KERAS[f"stateful{case}_x2"]))
    numpy.testing.assert_allclose(y3, KERAS[f"stateful{case}_y3"], rtol=1e-5, atol=1e-6)


# ---- Keras: encoder-decoder models and a stateful model, one (two) SGD step(s) ------------------------------------
def seq2seq():
    """``seq2seq`` of the golden script: the encoder's final [h, c] start the decoder."""
    encoder, decoder = nnkit.Input(shape=(6, 4)), nnkit.Input(shape=(5, 3))
    _, h, c = LSTM(5, return_state=True)(encoder)
    sequence = LSTM(5, return_sequences=True)(decoder, initial_state=[h, c])
    return nnkit.Model([encoder, decoder], Dense(3, activation="softmax")(sequence))


def gru_rnn():
    """``gru_rnn`` of the golden script: a GRU encoder's final h (one tensor, not a list) starts a SimpleRNN."""
    encoder, decoder = nnkit.Input(shape=(6, 4)), nnkit.Input(shape=(5, 3))
    _, h = GRU(4, return_state=True)(encoder)
    last = SimpleRNN(4)(decoder, initial_state=h)
    return nnkit.Model([encoder, decoder], Dense(3, activation="softmax")(last))


def stateful_model():
    return nnkit.Sequential([nnkit.Input(batch_shape=(2, 4, 3)), LSTM(5, stateful=True),
                             Dense(3, activation="softmax")])


def keras_start(model, key):
    model.set_weights([KERAS[f"{key}_start_{i}"] for i in range(len(model.get_weights()))])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return model


def assert_keras_weights_after(model, key):
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, KERAS[f"{key}_after_{i}"], rtol=1e-4, atol=1e-6, err_msg=f"weight {i}")


@pytest.mark.parametrize("key, make_model", [("seq2seq", seq2seq), ("gru_rnn", gru_rnn)])
def test_keras_encoder_decoder_one_sgd_step(key, make_model, backend_name):
    model = keras_start(make_model(), key)
    xs = [KERAS[f"{key}_x0"], KERAS[f"{key}_x1"]]
    numpy.testing.assert_allclose(model.predict(xs, verbose=0), KERAS[f"{key}_y"], rtol=1e-5, atol=1e-6)
    loss = model.train_on_batch(xs, KERAS[f"{key}_labels"])
    assert float(numpy.ravel(loss)[0]) == pytest.approx(float(KERAS[f"{key}_loss"]), rel=1e-5)
    assert_keras_weights_after(model, key)   # the encoder's too: the gradient reaches it through [h, c]


def test_keras_stateful_model_trains_on_consecutive_batches(backend_name):
    """Truncated back-propagation through time: the second batch starts from the first's final states, and no
    gradient flows back into the first batch."""
    model = keras_start(stateful_model(), "stateful")
    for n in range(2):
        loss = model.train_on_batch(KERAS[f"stateful_b{n}_x0"], KERAS[f"stateful_b{n}_labels"])
        assert float(numpy.ravel(loss)[0]) == pytest.approx(float(KERAS["stateful_loss"][n]), rel=1e-5)
    assert_keras_weights_after(model, "stateful")
    y = model.predict(KERAS["stateful_x0"], batch_size=2, verbose=0)
    numpy.testing.assert_allclose(y, KERAS["stateful_y"], rtol=1e-5, atol=1e-6)
    assert len(model.get_weights()) == 5   # the states are not weights: saving and loading leave them out


# ---- gradients with respect to the initial states: central differences, both backends ----------------------------
def random(shape, seed):
    return numpy.random.default_rng(seed).standard_normal(shape)


def fixed_mask(layer, mask):
    """``forward`` with ``mask`` as a mask arriving from the layer below (the graph's way)."""
    layer.forward = lambda inputs, training=False: type(layer).forward_masked(layer, inputs, mask, training)[0]
    return layer


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences, go_backwards, masked, return_state",
                         [(False, False, False, False), (True, True, False, False), (True, False, True, False),
                          (False, True, True, True)])
def test_gradcheck_initial_states(kind, return_sequences, go_backwards, masked, return_state, backend_name):
    layer = LAYERS[kind](return_sequences=return_sequences, go_backwards=go_backwards, return_state=return_state)
    if masked:
        fixed_mask(layer, backend.to_device(MASK))
    states = [random((3, 3), seed) for seed in range(1, 1 + layer.state_count)]
    result = gradcheck(layer, [random((3, 5, 4), 0)] + states)
    assert set(result.errors) >= {f"input {k}" for k in range(1 + layer.state_count)}
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_explicit_mask_and_training(kind, backend_name):
    """``forward([x, *states, mask], explicit_mask=True)`` in training (dropout on both paths): the mask gets no
    gradient (None), the sequence and the states do."""
    layer = LAYERS[kind](return_sequences=True, dropout=0.3, recurrent_dropout=0.4)
    backend.set_floatx("float64")
    layer.build_for((None, 5, 4))
    mask = backend.to_device(MASK)

    def fn(x, *states):
        backend.seed(3)
        y = layer.forward([x, *states, mask], training=True, explicit_mask=True)

        def backward(dy):
            grads = layer.backward(dy)
            assert grads[-1] is None and len(grads) == 2 + len(states)
            return grads[:-1]
        return y, backward
    states = [random((3, 3), seed) for seed in range(1, 1 + layer.state_count)]
    assert gradcheck(fn, [random((3, 5, 4), 0)] + states).max_relative_error < 1e-6


@pytest.mark.parametrize("inner", [lambda: LSTM(3, return_sequences=True), lambda: GRU(2, go_backwards=True)])
def test_gradcheck_bidirectional_initial_states(inner, backend_name):
    layer = Bidirectional(inner())
    count = 2 * layer.forward_layer.state_count
    units = layer.forward_layer.units
    inputs = [random((3, 5, 4), 0)] + [random((3, units), seed) for seed in range(1, 1 + count)]
    assert gradcheck(layer, inputs).max_relative_error < 1e-6


# ---- stateful: the states carried between calls -------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_stateful_calls_continue_the_sequence(kind, rng):
    """Two stateful calls on the halves of a sequence (masked anywhere) give what one call on the whole gives."""
    backend.set_floatx("float64")
    x = rng.standard_normal((3, 5, 4))
    whole = LAYERS[kind](return_sequences=True, return_state=True)
    halves = LAYERS[kind](return_sequences=True, stateful=True)
    whole.build_for((None, 5, 4))
    halves.build_for((None, 5, 4))
    halves.set_weights(whole.get_weights())
    y, *states = whole.forward_masked(x, MASK)[0]
    first, _ = halves.forward_masked(x[:, :2], MASK[:, :2])
    second, _ = halves.forward_masked(x[:, 2:], MASK[:, 2:])
    numpy.testing.assert_allclose(numpy.concatenate([first, second], axis=1), y, rtol=1e-12, atol=1e-12)
    for carried, final in zip(halves.states, states):
        numpy.testing.assert_allclose(carried, final, rtol=1e-12, atol=1e-12)


def test_stateful_truncates_backpropagation_between_calls(rng):
    """The second call's gradients are those of a call that starts from the carried states as constants."""
    backend.set_floatx("float64")
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    stateful = LSTM(3, stateful=True)
    stateful(x1)
    h, c = (host(s).copy() for s in stateful.states)
    dy = rng.standard_normal((2, 3))
    stateful(x2)
    dx = stateful.backward(dy)
    assert not isinstance(dx, list)   # no gradient for states that were not inputs
    grads = {name: host(g).copy() for name, g in stateful.grads.items()}
    plain = LSTM(3)
    plain.build_for((None, 3, 4))
    plain.set_weights(stateful.get_weights())
    plain(x2, initial_state=[h, c])
    dx_plain, _, _ = plain.backward(dy)
    numpy.testing.assert_allclose(dx, dx_plain, rtol=1e-12, atol=1e-12)
    for name, grad in grads.items():
        numpy.testing.assert_allclose(grad, plain.grads[name], rtol=1e-12, atol=1e-12)


def test_stateful_layer_shared_in_a_graph_keeps_the_last_calls_states(rng):
    """A stateful layer called twice in one model: the second call starts from the first's states, and the states
    it leaves survive the backward (which puts each call's saved attributes back)."""
    backend.set_floatx("float64")
    a, b = nnkit.Input(batch_shape=(2, 4, 3)), nnkit.Input(batch_shape=(2, 4, 3))
    shared = GRU(3, stateful=True)
    model = nnkit.Model([a, b], Dense(1)(nnkit.layers.concatenate([shared(a), shared(b)])))
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    xa, xb = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    model.train_on_batch([xa, xb], rng.standard_normal((2, 1)))
    eager = GRU(3, stateful=True)
    eager.build_for((None, 4, 3))
    eager.set_weights(shared.get_weights())
    eager(xa)
    eager(xb)
    numpy.testing.assert_allclose(host(shared.states[0]), host(eager.states[0]), rtol=1e-12, atol=1e-12)


def test_stateful_states_stay_out_of_saved_weights(tmp_path, rng):
    model = stateful_model()
    x = rng.standard_normal((2, 4, 3)).astype("float32")
    model.predict(x, batch_size=2, verbose=0)
    layer = model.layers[0] if isinstance(model.layers[0], LSTM) else model.layers[1]
    carried = [host(s).copy() for s in layer.states]
    assert any(s.any() for s in carried)
    model.save_weights(tmp_path / "m.weights.h5")
    model.load_weights(tmp_path / "m.weights.h5")
    assert len(model.get_weights()) == 5
    for state, before in zip(layer.states, carried):
        numpy.testing.assert_array_equal(host(state), before)   # loading weights leaves the states alone
    layer.reset_states()
    fresh = stateful_model()
    fresh.set_weights(model.get_weights())
    numpy.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), fresh.predict(x, batch_size=2, verbose=0),
                                  rtol=1e-6, atol=1e-7)


# ---- configs ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [LSTM(4, stateful=True, unroll=True), GRU(3, unroll=True, return_state=True),
                                   SimpleRNN(2, stateful=True, go_backwards=True),
                                   Bidirectional(LSTM(3, stateful=True, return_sequences=True))])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    inner = clone.forward_layer if isinstance(clone, Bidirectional) else clone
    assert inner.get_config()["stateful"] == getattr(layer, "stateful", False)
    assert "unroll" in inner.get_config()


def test_defaults_match_keras():
    config = LSTM(2).get_config()
    assert config["stateful"] is False and config["unroll"] is False
    assert LSTM(2).states is None
    LSTM(2).reset_states()   # a layer that is not stateful has nothing to reset (as in Keras)


def test_functional_model_with_initial_states_and_an_explicit_mask_saves_and_loads(tmp_path, rng):
    sequences, mask, h0 = nnkit.Input(shape=(5, 4)), nnkit.Input(shape=(5,)), nnkit.Input(shape=(3,))
    y = GRU(3, return_sequences=True)(sequences, initial_state=[h0], mask=mask)
    model = nnkit.Model([sequences, mask, h0], y)
    xs = [rng.standard_normal((3, 5, 4)).astype("float32"), MASK.astype("float32"),
          rng.standard_normal((3, 3)).astype("float32")]
    expected = model.predict(xs, verbose=0)
    layer = model.layers[-1]
    eager = host(layer(xs[0], initial_state=xs[2], mask=MASK))
    numpy.testing.assert_allclose(expected, eager, rtol=1e-6, atol=1e-7)
    # padded steps carry the state: row 2's last two outputs repeat its third
    numpy.testing.assert_array_equal(expected[2, 3], expected[2, 2])
    model.save(tmp_path / "model.nnkit")
    restored = nnkit.models.load_model(tmp_path / "model.nnkit")
    numpy.testing.assert_allclose(restored.predict(xs, verbose=0), expected, rtol=1e-6, atol=1e-7)


# ---- errors -----------------------------------------------------------------------------------------------------
def test_wrong_initial_states_name_the_layer():
    x = numpy.zeros((2, 5, 4))
    with pytest.raises(ValueError, match=r"Layer 'enc' \(LSTM\) expects `initial_state` to hold 2 state.*\[h, c\].*"
                                         r"received 1"):
        LSTM(3, name="enc")(x, initial_state=[numpy.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"Layer 'dec' \(GRU\) expects the initial state h to have shape .*\(2, 3\); "
                                         r"received shape \(2, 4\)"):
        GRU(3, name="dec")(x, initial_state=numpy.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"SimpleRNN.*received shape \(3, 3\)"):
        SimpleRNN(3)(x, initial_state=[numpy.zeros((3, 3))])
    with pytest.raises(ValueError, match=r"Bidirectional.*4 states \[h_f, c_f, h_b, c_b\].*received 2"):
        Bidirectional(LSTM(3))(x, initial_state=[numpy.zeros((2, 3))] * 2)
    with pytest.raises(ValueError, match="initial_state=.*list of 3"):
        LSTM(3)([x, numpy.zeros((2, 3)), numpy.zeros((2, 3))])
    with pytest.raises(TypeError, match="initial_state"):
        LSTM(3)(x, initial_states=[])


def test_wrong_initial_states_in_a_functional_model():
    sequences = nnkit.Input(shape=(5, 4))
    _, h = GRU(6, return_state=True)(sequences)
    with pytest.raises(ValueError, match=r"Layer 'decoder' \(GRU\) expects the initial state h .*\(None, 3\).*"
                                         r"\(None, 6\)"):
        GRU(3, name="decoder")(sequences, initial_state=[h])
    with pytest.raises(ValueError, match=r"'decoder_lstm' \(LSTM\).*2 state.*received 1"):
        LSTM(6, name="decoder_lstm")(sequences, initial_state=h)


def test_stateful_batch_size_cannot_change(rng):
    layer = LSTM(3, stateful=True, name="carry")
    layer(rng.standard_normal((4, 5, 2)))
    before = [host(s).copy() for s in layer.states]
    with pytest.raises(ValueError, match=r"'carry' \(LSTM\) is stateful.*Expected batch size: 4.*received batch "
                                         r"size: 3"):
        layer(rng.standard_normal((3, 5, 2)))
    for state, previous in zip(layer.states, before):
        numpy.testing.assert_array_equal(host(state), previous)   # the failed call changed nothing
    layer.reset_states()
    with pytest.raises(ValueError, match="Expected batch size: 4"):
        layer(rng.standard_normal((3, 5, 2)))   # as in Keras, resetting keeps the batch size
    fixed = GRU(3, stateful=True)
    fixed(nnkit.Input(batch_shape=(8, 5, 2)))    # a fixed batch size in the Input fixes it at build
    with pytest.raises(ValueError, match="Expected batch size: 8"):
        fixed(rng.standard_normal((4, 5, 2)))


def test_bidirectional_checks_its_directions_and_reset():
    with pytest.raises(ValueError, match="same `stateful`"):
        Bidirectional(LSTM(3, stateful=True), backward_layer=LSTM(3, go_backwards=True))
    with pytest.raises(AttributeError, match="not stateful"):
        Bidirectional(LSTM(3)).reset_states()


def test_model_reset_states_zeroes_every_stateful_layer_inside(rng):
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    inner = nnkit.Sequential([nnkit.Input((4, 3), batch_size=2), LSTM(5, stateful=True, return_sequences=True)])
    model = nnkit.Sequential([nnkit.Input((4, 3), batch_size=2), inner, GRU(3, stateful=True)])
    first = backend.to_host(model(x))
    assert not numpy.allclose(backend.to_host(model(x)), first)  # the states carried over
    model.reset_states()
    numpy.testing.assert_allclose(backend.to_host(model(x)), first, rtol=1e-6)
