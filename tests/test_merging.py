"""Merge layers: forward against float64 formulas and hand-computed numbers, shape rules and errors (a declarative
table), broadcasting, gradients (float64 central differences), the Maximum/Minimum tie rule, masks, configs."""
import re

import numpy
import pytest

from nnkit import backend
from nnkit.layers import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                          concatenate, dot, maximum, minimum, multiply, subtract)
from nnkit.layers.base import Layer
from nnkit.utils import gradcheck

MERGES = {"Add": Add, "Subtract": Subtract, "Multiply": Multiply, "Average": Average, "Maximum": Maximum,
          "Minimum": Minimum}


def host(array):
    return backend.to_host(array)


def on_device(xp, *arrays, dtype=numpy.float64):
    return [xp.asarray(a, dtype=dtype) for a in arrays]


# ---- forward ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, rtol, atol", [(numpy.float64, 1e-12, 0), (numpy.float32, 1e-5, 1e-6)])
def test_element_wise_merges_broadcast_as_keras(xp, rng, dtype, rtol, atol):
    a, b, c = (rng.standard_normal(shape).astype(dtype).astype(numpy.float64)   # the reference in float64
               for shape in [(2, 3, 4), (2, 4), (2, 3, 1)])
    b_, c_ = numpy.broadcast_to(b[:, None, :], a.shape), numpy.broadcast_to(c, a.shape)  # Keras: new axes after batch
    expected = {
        "Add": a + b_ + c_,
        "Multiply": a * b_ * c_,
        "Average": (a + b_ + c_) / 3,
        "Maximum": numpy.where((a >= b_) & (a >= c_), a, numpy.where(b_ >= c_, b_, c_)),
        "Minimum": numpy.where((a <= b_) & (a <= c_), a, numpy.where(b_ <= c_, b_, c_)),
    }
    for name, want in expected.items():
        y = MERGES[name]().forward(on_device(xp, a, b, c, dtype=dtype))
        assert y.dtype == dtype and y.shape == (2, 3, 4), name
        numpy.testing.assert_allclose(host(y), want, rtol=rtol, atol=atol, err_msg=name)
    y = Subtract().forward(on_device(xp, a, c, dtype=dtype))
    numpy.testing.assert_allclose(host(y), a - c_, rtol=rtol, atol=atol)


def test_small_cases_by_hand(xp):
    a, b = on_device(xp, [[1.0, 5.0, -2.0]], [[4.0, 2.0, -2.0]])
    assert host(Add().forward([a, b])).tolist() == [[5.0, 7.0, -4.0]]
    assert host(Subtract().forward([a, b])).tolist() == [[-3.0, 3.0, 0.0]]
    assert host(Multiply().forward([a, b])).tolist() == [[4.0, 10.0, 4.0]]
    assert host(Average().forward([a, b])).tolist() == [[2.5, 3.5, -2.0]]
    assert host(Maximum().forward([a, b])).tolist() == [[4.0, 5.0, -2.0]]
    assert host(Minimum().forward([a, b])).tolist() == [[1.0, 2.0, -2.0]]
    x = xp.asarray(numpy.arange(6.0).reshape(1, 2, 3))
    y = xp.asarray(numpy.arange(10.0, 14.0).reshape(1, 2, 2))
    assert host(Concatenate().forward([x, y])).tolist() == [[[0, 1, 2, 10, 11], [3, 4, 5, 12, 13]]]
    assert host(Concatenate(axis=1).forward([x, x])).tolist() == [[[0, 1, 2], [3, 4, 5], [0, 1, 2], [3, 4, 5]]]


def test_dot_of_keras_docstring_example_by_hand(xp):
    x = xp.asarray(numpy.arange(10.0).reshape(1, 5, 2))
    y = xp.asarray(numpy.arange(10.0, 20.0).reshape(1, 2, 5))
    # out[0, i, j] = sum_k x[0, k, i] * y[0, j, k]; e.g. out[0, 0, 0] = 0*10 + 2*11 + 4*12 + 6*13 + 8*14 = 260
    assert host(Dot(axes=(1, 2)).forward([x, y])).tolist() == [[[260, 360], [320, 445]]]


def test_dot_of_two_vectors_per_sample_is_batch_by_one(xp):
    a, b = on_device(xp, [[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]], [[4.0, 5.0, 6.0], [1.0, 1.0, 1.0]])
    y = Dot(axes=-1).forward([a, b])
    assert y.shape == (2, 1) and host(y).tolist() == [[32.0], [1.0]]
    cosine = Dot(axes=1, normalize=True).forward([a, b])
    numpy.testing.assert_allclose(host(cosine), [[32 / numpy.sqrt(14 * 77)], [1 / numpy.sqrt(5 * 3)]], rtol=1e-12)


def dot_by_loops(x, y, a1, a2):
    """Keras' batch_dot, one scalar product at a time:
    out[n, i..., j...] = sum_k x[n, i... with k at a1] * y[n, j... with k at a2]."""
    rest1 = [d for i, d in enumerate(x.shape) if i not in (0, a1)]
    rest2 = [d for i, d in enumerate(y.shape) if i not in (0, a2)]
    out = numpy.zeros((x.shape[0], *rest1, *rest2))
    for n in range(x.shape[0]):
        for i in numpy.ndindex(*rest1):
            for j in numpy.ndindex(*rest2):
                total = 0.0
                for k in range(x.shape[a1]):
                    xi, yj = list(i), list(j)
                    xi.insert(a1 - 1, k)
                    yj.insert(a2 - 1, k)
                    total += x[(n, *xi)] * y[(n, *yj)]
                out[(n, *i, *j)] = total
    return out.reshape(out.shape + (1,)) if out.ndim == 1 else out


def l2_normalized(x, axis):
    return x / numpy.sqrt(numpy.maximum((x ** 2).sum(axis=axis, keepdims=True), 1e-12))


@pytest.mark.parametrize("shape1, shape2, axes, a1, a2", [
    ((2, 5), (2, 5), 1, 1, 1),
    ((2, 5), (2, 5, 3), 1, 1, 1),
    ((2, 3, 5), (2, 5), (2, 1), 2, 1),
    ((2, 3, 4), (2, 4, 5), (2, 1), 2, 1),
    ((2, 4, 3), (2, 5, 4), (1, 2), 1, 2),
    ((2, 3, 2, 4), (2, 4, 3, 2), (-1, 1), 3, 1),
    ((2, 3, 4), (2, 2, 4), -1, 2, 2),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_loops(xp, rng, shape1, shape2, axes, a1, a2, normalize):
    x, y = rng.standard_normal(shape1), rng.standard_normal(shape2)
    layer = Dot(axes=axes, normalize=normalize)
    out = layer.forward(on_device(xp, x, y))
    if normalize:
        x, y = l2_normalized(x, a1), l2_normalized(y, a2)
    expected = dot_by_loops(x, y, a1, a2)
    assert out.shape == expected.shape == layer.compute_output_shape([shape1, shape2])
    numpy.testing.assert_allclose(host(out), expected, rtol=1e-12, atol=1e-14)


def test_dot_normalize_leaves_a_zero_vector_at_zero(xp):
    a, b = on_device(xp, [[0.0, 0.0]], [[3.0, 4.0]])
    layer = Dot(axes=1, normalize=True)
    assert host(layer.forward([a, b])).tolist() == [[0.0]]
    da, db = layer.backward(xp.ones((1, 1)))
    numpy.testing.assert_allclose(host(da), [[0.6e6, 0.8e6]], rtol=1e-12)   # b / |b| over the 1e-6 floor of |a|
    assert host(db).tolist() == [[0.0, 0.0]]


# ---- shapes and errors: input shapes in, output shape or error out -------------------------------------------------

SHAPE_CASES = [
    (Add, [(None, 3), (None, 3)], (None, 3)),
    (Add, [(None, 3, 4), (None, 4)], (None, 3, 4)),
    (Add, [(None, 3, 1), (None, 1, 4)], (None, 3, 4)),
    (Add, [(None, 4), (None, 3, 4), (None, 2, 1, 1)], (None, 2, 3, 4)),
    (Add, [(None, None, 4), (None, 5, 4)], (None, None, 4)),
    (Add, [(None,), (None, 3)], (None, 3)),
    (Multiply, [(None, 2, 3), (None, 2, 3), (None, 3)], (None, 2, 3)),
    (Average, [(None, 3), (None, 1)], (None, 3)),
    (Maximum, [(None, 2, 3), (None, 2, 1)], (None, 2, 3)),
    (Minimum, [(None, 5), (None, 5)], (None, 5)),
    (Subtract, [(None, 4), (None, 4)], (None, 4)),
    (Add, [(None, 3)], "A merge layer should be called on a list of at least 2 inputs. Received: input_shape="),
    (Maximum, [], "A merge layer should be called on a list of at least 2 inputs."),
    (Add, (None, 3), "A merge layer should be called on a list of inputs. Received: input_shape=(None, 3) "
                     "(not a list of shapes)"),
    (Add, [(None, 3), (None, 4)], "Inputs have incompatible shapes. Received shapes (3,) and (4,)"),
    (Multiply, [(None, 2, 3), (None, 3, 3)], "Inputs have incompatible shapes."),
    (Add, [(2, 3), (4, 3)], "Cannot merge tensors with different batch sizes."),
    (Subtract, [(None, 3)] * 3, "A `Subtract` layer should be called on exactly 2 inputs. Received: input_shape="),
    (Subtract, [(None, 3)], "should be called on exactly 2 inputs"),
    (Concatenate, [(None, 2, 3), (None, 2, 5)], (None, 2, 8)),
    (lambda: Concatenate(axis=1), [(None, 2, 5), (None, 1, 5)], (None, 3, 5)),
    (lambda: Concatenate(axis=-2), [(None, 2, 5), (None, 1, 5), (None, 4, 5)], (None, 7, 5)),
    (lambda: Concatenate(axis=1), [(None, None, 5), (None, 1, 5)], (None, None, 5)),
    (Concatenate, [(None, None, 5), (None, 4, 2)], (None, None, 7)),
    (Concatenate, [(None, 4)], (None, 4)),
    (Concatenate, [(None, 2, 3), (None, 3, 5)], "A `Concatenate` layer requires inputs with matching shapes except "
                                                "for the concatenation axis. Received: input_shape="),
    (Concatenate, [(None, 2, 3), (None, 3)], "matching shapes except for the concatenation axis"),
    (lambda: Concatenate(axis=3), [(None, 2, 3), (None, 2, 3)], "axis=3 is out of range for inputs of rank 3"),
    (Concatenate, [], "A `Concatenate` layer should be called on a list of at least 1 input."),
    (lambda: Dot(axes=-1), [(None, 5), (None, 5)], (None, 1)),
    (lambda: Dot(axes=1), [(None, 5), (None, 5, 3)], (None, 3)),
    (lambda: Dot(axes=1), [(None, 3, 5), (None, 3)], (None, 5)),
    (lambda: Dot(axes=(1, 2)), [(None, 5, 2), (None, 2, 5)], (None, 2, 2)),
    (lambda: Dot(axes=(2, 1)), [(None, 3, 4), (None, 4, 6)], (None, 3, 6)),
    (lambda: Dot(axes=[-1, 1]), [(None, 2, 3, 4), (None, 4, 5, 6)], (None, 2, 3, 5, 6)),
    (lambda: Dot(axes=1), [(None, None), (None, 4)], (None, 1)),
    (lambda: Dot(axes=1), [(None, 5), (None, 4)], "Incompatible input shapes: axis values 5 (at axis 1) != 4 "
                                                  "(at axis 1). Full input shapes: (None, 5), (None, 4)"),
    (lambda: Dot(axes=(1, 2)), [(None, 5, 2), (None, 2, 3)], "axis values 5 (at axis 1) != 3 (at axis 2)"),
    (lambda: Dot(axes=0), [(None, 5), (None, 5)], "Cannot perform batch_dot over axis 0"),
    (lambda: Dot(axes=(1, -2)), [(None, 5), (None, 5)], "Cannot perform batch_dot over axis 0"),
    (lambda: Dot(axes=3), [(None, 5), (None, 5)], "axes=3 is out of range"),
    (lambda: Dot(axes=-1), [(None,), (None, 5)], "Cannot do batch_dot on inputs with rank < 2."),
    (lambda: Dot(axes=1), [(2, 5), (3, 5)], "Cannot do batch_dot on inputs with different batch sizes."),
    (lambda: Dot(axes=1), [(None, 5)], "A `Dot` layer should be called on a list of 2 inputs. Received: input_shape="),
    (lambda: Dot(axes=1), [(None, 5)] * 3, "A `Dot` layer should be called on a list of 2 inputs."),
]


def concrete(shape):
    return tuple(2 if d is None else d for d in shape)


@pytest.mark.parametrize("make, input_shape, expected", SHAPE_CASES,
                         ids=[f"case{i}" for i in range(len(SHAPE_CASES))])
def test_output_shapes_and_errors(xp, make, input_shape, expected):
    layer = make()
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)) as error:
            layer.build_for(input_shape)
        assert f"Layer '{layer.name}' ({type(layer).__name__})" in str(error.value)
        with pytest.raises(ValueError, match=re.escape(expected)):
            layer.compute_output_shape(input_shape)
        return
    assert layer.build_for(input_shape) == expected
    assert layer.compute_output_shape(list(input_shape)) == expected
    if all(d is not None for shape in input_shape for d in shape[1:]):   # run it: the same shape, batch 2
        inputs = [xp.ones(concrete(shape)) for shape in input_shape]
        assert layer.forward(inputs).shape == concrete(expected)
        assert [g.shape for g in layer.backward(xp.ones(concrete(expected)))] == [x.shape for x in inputs]


@pytest.mark.parametrize("make", [Add, Subtract, Concatenate, lambda: Dot(axes=1)])
def test_forward_checks_its_arrays(xp, make):
    layer = make()
    layer.build_for([(None, 3), (None, 3)])
    with pytest.raises(ValueError, match="should be called on a list of inputs. Received: inputs of shape "
                                         r"\(2, 3\) \(not a list of tensors\)"):
        layer.forward(xp.ones((2, 3)))
    with pytest.raises(ValueError, match="batch sizes|matching shapes"):
        layer.forward([xp.ones((2, 3)), xp.ones((4, 3))])
    too_few = [] if make is Concatenate else [xp.ones((2, 3))]
    with pytest.raises(ValueError, match="should be called on (a list of at least|exactly 2|a list of 2)"):
        layer.forward(too_few)


def test_dot_argument_errors():
    with pytest.raises(TypeError, match="it should be a list or an int. Received: axes='1'"):
        Dot(axes="1")
    with pytest.raises(ValueError, match=re.escape("it should contain two elements. Received: axes=(1, 2, 3)")):
        Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="list elements should be integers. Received: axes=\\[1, 2.0\\]"):
        Dot(axes=[1, 2.0])


# ---- gradients -----------------------------------------------------------------------------------------------------

GRADCHECK_CASES = [
    ("Add", Add, [(3, 2, 4), (3, 4), (3, 2, 1)]),
    ("Subtract", Subtract, [(3, 4), (3, 1)]),
    ("Multiply", Multiply, [(3, 2, 4), (3, 4), (3, 2, 1)]),
    ("Average", Average, [(3, 5), (3, 5), (3, 5)]),
    ("Maximum", Maximum, [(3, 2, 4), (3, 4), (3, 2, 1)]),
    ("Minimum", Minimum, [(3, 2, 4), (3, 2, 4)]),
    ("Concatenate", Concatenate, [(3, 2, 4), (3, 2, 1), (3, 2, 3)]),
    ("Concatenate axis 1", lambda: Concatenate(axis=1), [(3, 2, 4), (3, 5, 4)]),
    ("Dot vectors", lambda: Dot(axes=1), [(3, 5), (3, 5)]),
    ("Dot (1, 2)", lambda: Dot(axes=(1, 2)), [(3, 4, 2), (3, 5, 4)]),
    ("Dot (-1, 1) rank 4", lambda: Dot(axes=(-1, 1)), [(2, 3, 2, 4), (2, 4, 3)]),
    ("Dot normalize", lambda: Dot(axes=1, normalize=True), [(3, 5), (3, 5)]),
    ("Dot normalize (2, 1)", lambda: Dot(axes=(2, 1), normalize=True), [(2, 3, 4), (2, 4, 5)]),
]


@pytest.mark.parametrize("name, make, shapes", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck(backend_name, rng, name, make, shapes):
    result = gradcheck(make(), [rng.standard_normal(shape) for shape in shapes])
    assert set(result.errors) == {f"input {i}" for i in range(len(shapes))}
    assert result.max_relative_error < 1e-6, result


def test_broadcast_gradients_are_summed_back_to_each_input(xp):
    a, b = xp.ones((2, 3, 4)), xp.ones((2, 4))
    layer = Add()
    layer.forward([a, b])
    da, db = layer.backward(xp.asarray(numpy.arange(24.0).reshape(2, 3, 4)))
    assert da.shape == (2, 3, 4) and db.shape == (2, 4)
    numpy.testing.assert_array_equal(host(db), numpy.arange(24.0).reshape(2, 3, 4).sum(axis=1))


@pytest.mark.parametrize("layer_class, values", [
    (Maximum, ([[1.0, 7.0, 2.0]], [[1.0, 3.0, 2.0]], [[0.0, 7.0, 2.0]])),
    (Minimum, ([[1.0, 7.0, 2.0]], [[1.0, 9.0, 2.0]], [[3.0, 7.0, 2.0]])),
])
def test_maximum_and_minimum_send_a_tied_gradient_to_the_first_input(xp, layer_class, values):
    layer = layer_class()
    layer.forward(on_device(xp, *values))
    grads = [host(g) for g in layer.backward(xp.asarray([[10.0, 20.0, 30.0]]))]
    # column 0: inputs 0 and 1 tie; column 1: inputs 0 and 2 tie; column 2: all three tie -> input 0 each time
    assert [g.tolist() for g in grads] == [[[10.0, 20.0, 30.0]], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]]
    layer.forward(on_device(xp, values[1], values[0]))   # a strict winner takes it wherever it stands
    g0, g1 = (host(g) for g in layer.backward(xp.asarray([[10.0, 20.0, 30.0]])))
    assert g0.tolist() == [[10.0, 0.0, 30.0]] and g1.tolist() == [[0.0, 20.0, 0.0]]


# ---- masks ---------------------------------------------------------------------------------------------------------

M1 = numpy.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
M2 = numpy.array([[1, 0, 1], [1, 1, 0]], dtype=bool)


@pytest.mark.parametrize("layer_class", list(MERGES.values()))
def test_element_wise_merges_and_their_masks(xp, layer_class):
    x = [xp.ones((2, 3, 4)), xp.ones((2, 3, 4))]
    m1, m2 = xp.asarray(M1), xp.asarray(M2)
    assert layer_class().forward_masked(x, None)[1] is None
    assert layer_class().forward_masked(x, [None, None])[1] is None
    assert host(layer_class().forward_masked(x, [None, m2])[1]).tolist() == M2.tolist()
    y, mask = layer_class().forward_masked(x, [m1, m2])
    assert host(mask).tolist() == (M1 & M2).tolist()
    numpy.testing.assert_array_equal(host(y), host(layer_class().forward(x)))   # values are not masked
    with pytest.raises(ValueError, match="The lists `inputs` and `mask` should have the same length"):
        layer_class().forward_masked(x, [m1])


def test_concatenate_masks_follow_keras(xp):
    x1, x2 = xp.ones((2, 3, 4)), xp.ones((2, 3, 5))
    m1, m2 = xp.asarray(M1), xp.asarray(M2)
    assert Concatenate().forward_masked([x1, x2], [None, None])[1] is None
    # along the features: a step is kept where any input keeps it; an unmasked input keeps every step
    assert host(Concatenate().forward_masked([x1, x2], [m1, m2])[1]).tolist() == (M1 | M2).tolist()
    assert host(Concatenate().forward_masked([x1, x2], [m1, None])[1]).all()
    # along time: the masks are concatenated (a missing one counts as all steps kept)
    y, mask = Concatenate(axis=1).forward_masked([x1, x1], [m1, None])
    assert y.shape == (2, 6, 4)
    assert host(mask).tolist() == numpy.concatenate([M1, numpy.ones_like(M1)], axis=1).tolist()


def test_dot_has_no_output_mask(xp):
    x = xp.ones((2, 3, 4))
    y, mask = Dot(axes=2).forward_masked([x, x], [xp.asarray(M1), xp.asarray(M2)])
    assert y.shape == (2, 3, 3) and mask is None


# ---- configs and the functional forms ------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [Add(name="plus"), Subtract(), Multiply(), Average(), Maximum(), Minimum(),
                                   Concatenate(axis=1), Dot(axes=(1, 2), normalize=True), Dot(axes=-1)],
                         ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config and type(clone) is type(layer)
    assert not layer.weights and layer.count_params() == 0


def test_config_holds_the_arguments():
    assert Concatenate(axis=1).get_config()["axis"] == 1
    config = Dot(axes=(1, 2), normalize=True).get_config()
    assert config["axes"] == [1, 2] and config["normalize"] is True
    assert Dot.from_config(config).axes == (1, 2)
    assert Add(name="plus").get_config()["name"] == "plus"


@pytest.mark.parametrize("function, layer_class, kwargs", [
    (add, Add, {}), (subtract, Subtract, {}), (multiply, Multiply, {}), (average, Average, {}),
    (maximum, Maximum, {}), (minimum, Minimum, {}), (concatenate, Concatenate, {"axis": 1}),
    (dot, Dot, {"axes": (1, 2), "normalize": True}),
])
def test_functional_forms_make_and_call_the_layer(monkeypatch, function, layer_class, kwargs):
    monkeypatch.setattr(Layer, "__call__", lambda self, inputs, training=False: (self, inputs))
    inputs = [numpy.ones((1, 2, 2))] * 2
    layer, called_with = function(inputs, name="merged", **kwargs)
    assert type(layer) is layer_class and layer.name == "merged" and called_with is inputs
    assert {key: layer.get_config()[key] for key in kwargs} == {
        key: list(value) if isinstance(value, tuple) else value for key, value in kwargs.items()}
    if function is dot:
        assert dot(inputs)[0].axes == -1   # Keras' default for the functional form


def test_functional_form_end_to_end(rng):
    """Runs once Layer.__call__ takes a list of inputs."""
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    try:
        y = add([a, b])
    except ValueError as error:
        if "not a list of shapes" in str(error):
            pytest.skip("Layer.__call__ does not take a list of inputs yet")
        raise
    numpy.testing.assert_allclose(backend.to_host(y), a + b, rtol=1e-6)
