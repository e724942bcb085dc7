"""``set_weights`` and ``Optimizer.load_state`` check everything before they write anything: None where arrays
belong, non-finite values (also those a float64 array gets when cast to the weights' float32), the wrong shapes,
negative accumulated squares and bad step counts are refused, and the layer, model or optimizer is left as it
was."""
import numpy
import pytest

import nnkit
from nnkit import backend, layers, optimizers

NAN, INF = numpy.nan, numpy.inf


def _dense(rng):
    layer = layers.Dense(2, name="head")
    layer.build((None, 3))
    layer.set_weights([rng.standard_normal((3, 2)), rng.standard_normal(2)])
    return layer


def _unchanged(before, after):
    return all(numpy.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("weights, kind, message", [
    (None, TypeError, r"Layer 'head': set_weights expects a list of 2 arrays \(kernel, bias\). Received: None"),
    (numpy.zeros((3, 2)), TypeError, r"expects a list of 2 arrays .* Received: ndarray of shape \(3, 2\)"),
    ([numpy.zeros((3, 2)), None], TypeError, r"Layer 'head' weight 'bias': expected an array, received None"),
    ([numpy.full((3, 2), NAN), numpy.zeros(2)], ValueError, r"weight 'kernel' would hold 6 non-finite value"),
    ([numpy.zeros((3, 2)), numpy.array([0.0, INF])], ValueError, r"weight 'bias' would hold 1 non-finite value"),
    ([numpy.zeros((3, 2)), numpy.array([0.0, -1e300])], ValueError, r"bias' .* beyond float32's range"),
    ([numpy.zeros((3, 2))], ValueError, r"expects 2 weight arrays"),
])
def test_layer_set_weights_refuses_and_changes_nothing(weights, kind, message, backend_name, rng):
    layer = _dense(rng)
    before = layer.get_weights()
    with pytest.raises(kind, match=message):
        layer.set_weights(weights)
    assert _unchanged(before, layer.get_weights())


def test_finite_extremes_and_integers_are_accepted(backend_name, rng):
    layer = _dense(rng)
    biggest = float(numpy.finfo(numpy.float32).max)
    layer.set_weights([numpy.full((3, 2), -biggest, dtype=numpy.float64), numpy.array([1, 2])])
    kernel, bias = layer.get_weights()
    assert (kernel == -biggest).all() and bias.tolist() == [1.0, 2.0]


def test_model_set_weights_writes_nothing_when_a_later_layer_is_bad(backend_name, rng):
    model = nnkit.Sequential([nnkit.Input((3,)), layers.Dense(4), layers.Dense(2)])
    before = model.get_weights()
    bad = [w + 1 for w in before]
    bad[3] = numpy.array([0.0, NAN])  # the second Dense's bias
    with pytest.raises(ValueError, match=r"weight 'bias' would hold 1 non-finite value"):
        model.set_weights(bad)
    assert _unchanged(before, model.get_weights())


# ---- optimizer state ------------------------------------------------------------------------------------------
def _trained(optimizer, rng):
    """A small model after one step of ``optimizer`` (so the optimizer is built for its parameters)."""
    model = nnkit.Sequential([nnkit.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), epochs=1, verbose=0)
    return model.optimizer


def _state(optimizer):
    return {name: backend.to_host(slot).copy() for name, slot in optimizer.slots.items()}


@pytest.mark.parametrize("make", [lambda: optimizers.Adam(), lambda: optimizers.SGD(momentum=0.9),
                                  lambda: optimizers.RMSprop(centered=True, momentum=0.5),
                                  lambda: optimizers.Adagrad()])
def test_load_state_writes_a_good_state(make, backend_name, rng):
    optimizer = _trained(make(), rng)
    wanted = {name: rng.uniform(0, 1, slot.shape) for name, slot in _state(optimizer).items()}
    optimizer.load_state(wanted, 7)
    assert optimizer.iterations == 7
    for name, slot in _state(optimizer).items():
        numpy.testing.assert_allclose(slot, wanted[name], rtol=1e-7)


@pytest.mark.parametrize("change, message", [
    (lambda state: state.pop("v"), r"expected the slots \['m', 'v'\]. Received: \['m'\]"),
    (lambda state: state.update(extra=state["m"]), r"expected the slots \['m', 'v'\]"),
    (lambda state: state.update(m=state["m"][:-1]), r"slot 'm': expected a flat array of 8 real numbers"),
    (lambda state: state.update(m=state["m"].reshape(2, 4)), r"slot 'm': expected a flat array of 8 real numbers"),
    (lambda state: state["m"].__setitem__(3, NAN), r"Adam slot 'm' would hold 1 non-finite value"),
    (lambda state: state["v"].__setitem__(0, 1e300), r"Adam slot 'v' would hold 1 non-finite value"),
    (lambda state: state["v"].__setitem__(slice(0, 2), -1e-3), r"slot 'v' accumulates squared gradients, so it "
                                                                r"cannot be negative; .* 2 negative value"),
])
def test_load_state_refuses_a_bad_state_and_changes_nothing(change, message, backend_name, rng):
    optimizer = _trained(optimizers.Adam(), rng)
    before, steps = _state(optimizer), optimizer.iterations
    state = {name: value.astype(numpy.float64) for name, value in before.items()}
    change(state)
    with pytest.raises(ValueError, match=message):
        optimizer.load_state(state, 5)
    assert optimizer.iterations == steps and _unchanged(list(before.values()), list(_state(optimizer).values()))


@pytest.mark.parametrize("iterations", [-1, 2.5, "3", None, True])
def test_load_state_refuses_a_bad_step_count(iterations, rng):
    optimizer = _trained(optimizers.SGD(momentum=0.9), rng)
    with pytest.raises(ValueError, match=r"SGD: expected a non-negative integer for `iterations`"):
        optimizer.load_state(_state(optimizer), iterations)
    assert optimizer.iterations == 1


def test_load_state_needs_a_built_optimizer():
    with pytest.raises(ValueError, match=r"Adam.load_state: the optimizer has no slots yet"):
        optimizers.Adam().load_state({"m": numpy.zeros(3), "v": numpy.zeros(3)}, 1)
