"""Rescaling, Normalization, Resizing, CenterCrop: Keras goldens (tests/data/make_keras_preprocessing.py), float64
formulas, gradients (float64 central differences), shape and error tables, configs, and use inside models."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense
from nnkit.layers.preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from nnkit.utils import gradcheck

from data.preprocessing_cases import CENTER_CROPS, RESIZES

GOLDEN = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_preprocessing.npz"))


def host(array):
    return backend.to_host(array)


def run(layer, x, xp, training=False):
    return host(layer(xp.asarray(x), training=training))


# ---- Keras goldens ------------------------------------------------------------------------------------------
def test_rescaling_matches_keras(xp):
    x = GOLDEN["rescaling_x"]
    numpy.testing.assert_allclose(run(Rescaling(1 / 127.5, offset=-1), x, xp), GOLDEN["rescaling_y"], rtol=1e-6,
                                  atol=1e-6)
    numpy.testing.assert_allclose(run(Rescaling([1.0, 0.5, 0.25], offset=0.1), x, xp), GOLDEN["rescaling_channels_y"],
                                  rtol=1e-6)


@pytest.mark.parametrize("case, kwargs", [("last", {}), ("none", {"axis": None}), ("two_axes", {"axis": (1, 3)}),
                                          ("invert", {"invert": True})])
def test_adapted_normalization_matches_keras_outputs_and_weights(xp, case, kwargs):
    layer = Normalization(**kwargs)
    layer.adapt(GOLDEN["norm_adapt"])
    numpy.testing.assert_allclose(run(layer, GOLDEN["norm_x"], xp), GOLDEN[f"norm_{case}_y"], rtol=1e-5, atol=1e-5)
    weights = layer.get_weights()
    assert len(weights) == 3
    for i, weight in enumerate(weights):
        expected = GOLDEN[f"norm_{case}_w{i}"]
        assert weight.shape == expected.shape and weight.dtype == expected.dtype
        numpy.testing.assert_allclose(weight, expected, rtol=1e-5)


def test_normalization_with_given_statistics_matches_keras(xp):
    layer = Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0])
    numpy.testing.assert_allclose(run(layer, GOLDEN["norm_given_x"], xp), GOLDEN["norm_given_y"], rtol=1e-6)
    assert layer.get_weights() == []


@pytest.mark.parametrize("case", RESIZES)
def test_resizing_matches_keras(xp, case):
    height, width, interpolation, crop, pad = RESIZES[case]
    layer = Resizing(height, width, interpolation=interpolation, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad,
                     fill_value=0.25)
    numpy.testing.assert_allclose(run(layer, GOLDEN["resize_x"], xp), GOLDEN[f"resize_{case}_y"], atol=1e-6)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_halving_matches_keras_where_the_nearest_pixel_is_a_tie(xp, interpolation):
    y = run(Resizing(4, 3, interpolation=interpolation), GOLDEN["resize_half_x"], xp)
    numpy.testing.assert_allclose(y, GOLDEN[f"resize_half_{interpolation}_y"], atol=1e-6)


@pytest.mark.parametrize("case", CENTER_CROPS)
def test_center_crop_matches_keras(xp, case):
    y = run(CenterCrop(*CENTER_CROPS[case]), GOLDEN["center_crop_x"], xp)
    numpy.testing.assert_allclose(y, GOLDEN[f"center_crop_{case}_y"], atol=1e-6)


# ---- float64 formulas ---------------------------------------------------------------------------------------
def test_normalization_by_the_formula_in_float64(xp, rng):
    backend.set_floatx("float64")
    data = rng.normal(2, 3, (50, 4, 3))
    layer = Normalization(axis=(1, -1))
    layer.adapt(data)
    mean, variance = data.mean(axis=0), data.var(axis=0)
    x = rng.normal(size=(6, 4, 3))
    numpy.testing.assert_allclose(run(layer, x, xp), (x - mean) / numpy.sqrt(variance), rtol=1e-12)
    inverse = Normalization(axis=(1, -1), invert=True)
    inverse.adapt(data)
    numpy.testing.assert_allclose(run(inverse, x, xp), mean + x * numpy.sqrt(variance), rtol=1e-12)


def test_normalization_floors_the_standard_deviation(xp):
    layer = Normalization(mean=[1.0], variance=[0.0])
    numpy.testing.assert_allclose(run(layer, numpy.array([[1.5]]), xp), [[0.5 / 1e-7]], rtol=1e-6)


def test_normalization_given_a_scalar_broadcasts_it_over_the_kept_axis(xp):
    y = run(Normalization(mean=3.0, variance=2.0), numpy.array([[1.0], [2.0], [3.0]]), xp)
    numpy.testing.assert_allclose(y, [[-2 / numpy.sqrt(2)], [-1 / numpy.sqrt(2)], [0.0]], rtol=1e-6)


def test_bilinear_resize_samples_a_ramp_at_half_pixel_centres_clamped_at_the_edges(xp):
    """Bilinear interpolation is exact on a ramp: output pixel o reads input coordinate (o + 0.5) * H / OH - 0.5,
    clamped to [0, H - 1]."""
    backend.set_floatx("float64")
    H, W, OH, OW = 5, 7, 8, 3
    rows, cols = numpy.meshgrid(numpy.arange(H), numpy.arange(W), indexing="ij")
    x = (3.0 * rows - 2.0 * cols)[None, :, :, None]
    r = numpy.clip((numpy.arange(OH) + 0.5) * H / OH - 0.5, 0, H - 1)
    c = numpy.clip((numpy.arange(OW) + 0.5) * W / OW - 0.5, 0, W - 1)
    expected = (3.0 * r[:, None] - 2.0 * c[None, :])[None, :, :, None]
    numpy.testing.assert_allclose(run(Resizing(OH, OW), x, xp), expected, rtol=1e-12, atol=1e-12)


def test_nearest_resize_picks_floor_of_the_scaled_centre(xp):
    x = numpy.arange(10.0).reshape(1, 10, 1, 1)
    y = run(Resizing(3, 1, interpolation="nearest"), x, xp)
    assert y.ravel().tolist() == [numpy.floor((o + 0.5) * 10 / 3) for o in range(3)] == [1.0, 5.0, 8.0]


def test_center_crop_takes_the_middle_window_by_hand(xp):
    x = numpy.arange(30.0).reshape(1, 5, 6, 1)
    y = run(CenterCrop(3, 2), x, xp)  # rows 1..3, columns 2..3
    assert y[0, :, :, 0].tolist() == [[8, 9], [14, 15], [20, 21]]


def test_integer_images_come_out_as_floats(xp):
    x = numpy.arange(48, dtype=numpy.uint8).reshape(1, 4, 4, 3)
    for layer in (Rescaling(1 / 255), Resizing(2, 2), CenterCrop(2, 2)):
        assert run(layer, x, xp).dtype == numpy.float32


# ---- gradients ----------------------------------------------------------------------------------------------
def adapted(layer, shape, rng):
    layer.adapt(rng.normal(1, 2, shape))
    return layer


@pytest.mark.parametrize("make, shape", [
    (lambda rng: Rescaling([2.0, -0.5], offset=1.0), (2, 3, 4, 2)),
    (lambda rng: adapted(Normalization(), (10, 3, 4), rng), (2, 3, 4)),
    (lambda rng: adapted(Normalization(axis=None, invert=True), (10, 5), rng), (2, 5)),
    (lambda rng: Normalization(mean=[1.0, 2.0], variance=[0.5, 3.0]), (3, 2)),
    (lambda rng: Resizing(7, 3), (2, 5, 6, 2)),
    (lambda rng: Resizing(2, 9, interpolation="nearest"), (2, 5, 6, 2)),
    (lambda rng: Resizing(4, 4, crop_to_aspect_ratio=True), (2, 5, 8, 2)),
    (lambda rng: Resizing(3, 3, pad_to_aspect_ratio=True, fill_value=1.5), (2, 4, 7, 2)),
    (lambda rng: CenterCrop(3, 4), (2, 5, 7, 2)),
    (lambda rng: CenterCrop(6, 4), (2, 5, 7, 2)),
], ids=["rescaling", "normalization", "normalization_invert", "normalization_given", "resizing_bilinear",
        "resizing_nearest", "resizing_crop", "resizing_pad", "center_crop", "center_crop_resize"])
def test_gradients(backend_name, rng, make, shape):
    backend.set_floatx("float64")
    layer = make(rng)  # built in float64 (gradcheck refuses a layer with Normalization's int32 count)
    layer.build_for((None,) + shape[1:])
    result = gradcheck(lambda x: (layer.forward(x), lambda dy: [layer.backward(dy)]), rng.normal(size=shape),
                       max_checks=40)
    assert result.max_relative_error < 1e-7, result


# ---- shapes and errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, input_shape, output_shape", [
    (lambda: Rescaling(0.5), (None, 3, 4, 2), (None, 3, 4, 2)),
    (lambda: Rescaling(0.5), (None, 7), (None, 7)),
    (lambda: Normalization(), (None, 5, 3), (None, 5, 3)),
    (lambda: Resizing(10, 20), (None, 5, 6, 3), (None, 10, 20, 3)),
    (lambda: Resizing(2, 2, crop_to_aspect_ratio=True), (None, 5, 6, 3), (None, 2, 2, 3)),
    (lambda: CenterCrop(2, 3), (None, 5, 6, 1), (None, 2, 3, 1)),
    (lambda: CenterCrop(9, 9), (None, 5, 6, 1), (None, 9, 9, 1)),
])
def test_output_shapes(make, input_shape, output_shape, rng):
    layer = make()
    assert layer.compute_output_shape(input_shape) == output_shape
    model = nnkit.Sequential([nnkit.Input(input_shape[1:]), make()])
    assert model.output_shape == output_shape
    if isinstance(layer, Normalization):
        model.layers[0].adapt(rng.normal(size=(4,) + input_shape[1:]))
    assert model.predict(rng.normal(size=(2,) + input_shape[1:]), verbose=0).shape == (2,) + output_shape[1:]


@pytest.mark.parametrize("make, error, match", [
    (lambda: Rescaling("big"), ValueError, r"Rescaling: expected a finite number or a list of finite numbers for `scale`"),
    (lambda: Normalization(axis=1.5), ValueError, r"Normalization: expected an integer.*axis=1.5"),
    (lambda: Normalization(mean=[1.0]), ValueError, r"both `mean` and `variance`"),
    (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, r"same shape"),
    (lambda: Normalization(mean=[[1.0]], variance=[[1.0]]), ValueError, r"more axes \(2\) than `axis` keeps"),
    (lambda: Resizing(0, 4), ValueError, r"Resizing: expected a positive integer for `height`"),
    (lambda: Resizing(4, 4, interpolation="bicubic"), ValueError, r"'bilinear' or 'nearest'.*bicubic"),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError, r"only one of"),
    (lambda: Resizing(4, 4, fill_mode="reflect"), ValueError, r"fill_mode='constant'"),
    (lambda: Resizing(4, 4, antialias=True), ValueError, r"antialias=False"),
    (lambda: CenterCrop(3, -1), ValueError, r"CenterCrop: expected a positive integer for `width`"),
])
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("make, shape, match", [
    (lambda: Resizing(4, 4), (None, 8, 8), r"'resizing.*' \(Resizing\) expects images of rank 4"),
    (lambda: CenterCrop(2, 2), (None, 8), r"\(CenterCrop\) expects images of rank 4"),
    (lambda: Normalization(axis=3), (None, 4, 2), r"axis=\(3,\) is out of range"),
    (lambda: Normalization(axis=1), (None, None, 2), r"must have a known size"),
    (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0]), (None, 3), r"do not broadcast"),
])
def test_input_shape_errors(make, shape, match):
    with pytest.raises(ValueError, match=match):
        nnkit.Sequential([nnkit.Input(shape[1:]), make()])


def test_normalization_refuses_inputs_and_data_of_another_size(rng):
    layer = Normalization()
    layer.adapt(rng.normal(size=(8, 3)))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 3\), but received input of shape \(2, 4\)"):
        layer(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match=r"built for kept axes of sizes \(3,\), but adapt\(\) received"):
        layer.adapt(rng.normal(size=(8, 4)))
    with pytest.raises(ValueError, match=r"was given its mean and variance; it cannot adapt"):
        Normalization(mean=0.0, variance=1.0).adapt(rng.normal(size=(8, 4)))


# ---- configs, weights, models -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    Rescaling(1 / 255), Rescaling([1.0, 2.0], offset=[0.5, -0.5]), Normalization(axis=(1, 2), invert=True),
    Normalization(mean=[1.0], variance=[2.0]),
    Resizing(3, 4, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=0.5),
    CenterCrop(5, 6),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == layer.get_config()


def normalized_model(rng):
    model = nnkit.Sequential([nnkit.Input((3,)), Normalization(), Dense(2)])
    model.layers[0].adapt(rng.normal(5, 2, (40, 3)))
    return model


def test_normalization_weights_are_keras_and_fit_leaves_them(rng):
    model = normalized_model(rng)
    norm = model.layers[0]
    assert [w.dtype for w in norm.get_weights()] == [numpy.float32, numpy.float32, numpy.int32]
    assert [w.shape for w in norm.get_weights()] == [(3,), (3,), ()]
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 3 and norm.count_params() == 7
    model.compile(optimizer="sgd", loss="mse")
    before = norm.get_weights()
    model.fit(rng.normal(size=(16, 3)), rng.normal(size=(16, 2)), epochs=1, verbose=0)
    for a, b in zip(before, norm.get_weights()):
        numpy.testing.assert_array_equal(a, b)  # fit never touches the statistics


def test_adapted_normalization_is_saved_with_the_model(tmp_path, rng):
    model = normalized_model(rng)
    path = str(tmp_path / "model.weights.safetensors")
    model.save_weights(path)
    twin = nnkit.Sequential([nnkit.Input((3,)), Normalization(), Dense(2)])
    twin.load_weights(path)
    x = rng.normal(size=(4, 3))
    numpy.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_preprocessing_inside_a_model_passes_the_gradient_to_the_layers_before_it(rng):
    """Resizing and CenterCrop after a trainable layer: one SGD step equals the float64 numerical gradient."""
    backend.set_floatx("float64")
    model = nnkit.Sequential([nnkit.Input((5, 6, 2)), Rescaling(0.5), nnkit.layers.Conv2D(2, 1), Resizing(4, 4),
                              CenterCrop(3, 3), nnkit.layers.Flatten(), Dense(1)])
    x, y = rng.normal(size=(3, 5, 6, 2)), rng.normal(size=(3, 1))
    conv = model.layers[1]
    kernel = host(conv.kernel).copy()

    def loss(k):
        conv.kernel[...] = backend.to_device(k)
        return float(numpy.mean((host(model(x)) - y) ** 2))
    numeric = numpy.zeros_like(kernel)
    for index in numpy.ndindex(kernel.shape):
        step = numpy.zeros_like(kernel)
        step[index] = 1e-6
        numeric[index] = (loss(kernel + step) - loss(kernel - step)) / 2e-6
    conv.kernel[...] = backend.to_device(kernel)
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.train_on_batch(x, y)
    numpy.testing.assert_allclose(host(conv.kernel), kernel - 0.1 * numeric, rtol=1e-7, atol=1e-9)
