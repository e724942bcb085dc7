"""The augmentation layers and their shared sampler (nnkit.primitives.image): Keras goldens for fixed transforms
(tests/data/make_keras_preprocessing.py; the random draws differ between libraries), a brute-force sampler,
hand checks (flips, whole-pixel shifts, numpy.rot90), identity at inference, seeding, shape and error tables,
configs, and the keras-io pattern "augmentation inside the model" trained on the bundled digits."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D
from nnkit.layers.augmentation import (RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                                       RandomTranslation, RandomZoom)
from nnkit.layers.preprocessing import Rescaling
from nnkit.primitives import image

GOLDEN = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_preprocessing_affine.npz"))
RESIZE_GOLDEN = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_preprocessing.npz"))
FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def host(array):
    return backend.to_host(array)


def all_layers():
    return [RandomFlip(), RandomRotation(0.2), RandomZoom(0.3, 0.2), RandomTranslation(0.2, 0.3), RandomCrop(3, 4),
            RandomContrast(0.4), RandomBrightness(0.3)]


class FixedDraws:
    """Stands for the layer's NumPy generator: hands out given values, checking the range each was asked in."""

    def __init__(self, *draws):
        self.draws = list(draws)

    def uniform(self, low, high, size):
        values = numpy.asarray(self.draws.pop(0), dtype=numpy.float64).reshape(size)
        assert numpy.all((low <= values) & (values <= high)), (low, high, values)
        return values

    def random(self, size):
        return numpy.asarray(self.draws.pop(0), dtype=numpy.float64).reshape(size)


# ---- the sampler -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_affine_transform_matches_keras(xp, interpolation, fill_mode):
    x = xp.asarray(GOLDEN["affine_x"])
    y = image.affine_transform(x, GOLDEN["affine_transforms"], interpolation, fill_mode, fill_value=0.5)
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(host(y), GOLDEN[f"affine_{interpolation}_{fill_mode}"], atol=2e-6)


def extended_pixel(picture, i, j, fill_mode, fill_value):
    """``picture`` (H, W, C) read at any integer (i, j), the image extended as ``fill_mode`` says."""
    H, W = picture.shape[:2]
    if fill_mode == "constant":
        return picture[i, j] if 0 <= i < H and 0 <= j < W else numpy.full(picture.shape[2], fill_value)

    def fold(k, n):
        if fill_mode == "nearest":
            return min(max(k, 0), n - 1)
        if fill_mode == "wrap":
            return k % n
        while not 0 <= k < n:  # reflect about the edges: d c b a | a b c d | d c b a
            k = -k - 1 if k < 0 else 2 * n - 1 - k
        return k
    return picture[fold(i, H), fold(j, W)]


def brute_force_affine(x, transforms, interpolation, fill_mode, fill_value):
    out = numpy.zeros(x.shape)
    for n, (a0, a1, a2, b0, b1, b2, _, _) in enumerate(transforms):
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                xs, ys = a0 * j + a1 * i + a2, b0 * j + b1 * i + b2
                if interpolation == "nearest":
                    out[n, i, j] = extended_pixel(x[n], int(numpy.rint(ys)), int(numpy.rint(xs)), fill_mode, fill_value)
                    continue
                i0, j0 = int(numpy.floor(ys)), int(numpy.floor(xs))
                for di, wi in ((0, 1 - (ys - i0)), (1, ys - i0)):
                    for dj, wj in ((0, 1 - (xs - j0)), (1, xs - j0)):
                        out[n, i, j] += wi * wj * extended_pixel(x[n], i0 + di, j0 + dj, fill_mode, fill_value)
    return out


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_affine_transform_matches_loops_in_float64(xp, rng, interpolation, fill_mode):
    x = rng.normal(size=(3, 5, 6, 2))
    transforms = numpy.concatenate([image.rotation_transforms([37.0], 5, 6), image.zoom_transforms([2.7], [0.4], 5, 6),
                                    [[1.2, -0.7, 3.3, 0.4, -1.9, 9.1, 0, 0]]])
    y = image.affine_transform(xp.asarray(x), transforms, interpolation, fill_mode, fill_value=-1.5)
    expected = brute_force_affine(x, transforms, interpolation, fill_mode, -1.5)
    numpy.testing.assert_allclose(host(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, build", [
    ("rotation", lambda p, H, W: image.rotation_transforms(p, H, W)),
    ("zoom", lambda p, H, W: image.zoom_transforms(p[:, 0], p[:, 1], H, W)),
    ("translation", lambda p, H, W: image.translation_transforms(p[:, 0], p[:, 1])),
])
def test_transform_matrices_are_those_of_keras_layers(name, build):
    H, W = GOLDEN["affine_x"].shape[1:3]
    numpy.testing.assert_allclose(build(GOLDEN[f"{name}_params"], H, W), GOLDEN[f"{name}_matrix"], atol=1e-6)


@pytest.mark.parametrize("name, layer, draws", [
    ("rotation", RandomRotation(0.5), lambda p: [p]),
    ("zoom", RandomZoom(0.5, 0.5), lambda p: [p[:, 1] - 1, p[:, 0] - 1]),  # height draw first, as in Keras
    ("translation", RandomTranslation(1.0, 1.0), lambda p: [p[:, 1] / 6, p[:, 0] / 7]),
])
def test_geometric_layers_match_keras_for_given_draws(xp, name, layer, draws):
    x = xp.asarray(GOLDEN["affine_x"])
    y = layer.transform(x, FixedDraws(*draws(GOLDEN[f"{name}_params"].astype(numpy.float64))))
    numpy.testing.assert_allclose(host(y), GOLDEN[f"{name}_y"], atol=2e-5)


# ---- the other transforms, for given draws ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flips_match_keras(xp, mode):
    y = RandomFlip(mode).transform(xp.asarray(GOLDEN["color_x"]), FixedDraws([0.2, 0.7, 0.5]))  # <= 0.5 flips
    numpy.testing.assert_array_equal(host(y), GOLDEN[f"flip_{mode}_y"])


def test_contrast_and_brightness_match_keras(xp):
    x = xp.asarray(GOLDEN["color_x"])
    factors, deltas = GOLDEN["contrast_factors"].ravel(), GOLDEN["brightness_deltas"].ravel()
    y = RandomContrast(0.75).transform(x, FixedDraws(factors))
    numpy.testing.assert_allclose(host(y), GOLDEN["contrast_y"], rtol=1e-5, atol=1e-4)
    y = RandomBrightness(0.65).transform(x, FixedDraws(deltas))
    numpy.testing.assert_allclose(host(y), GOLDEN["brightness_y"], rtol=1e-5, atol=1e-4)


def test_contrast_and_brightness_by_the_formulas(xp, rng):
    backend.set_floatx("float64")
    x = rng.uniform(0, 1, (2, 3, 4, 2))
    y = RandomContrast((0.5, 0.2), value_range=(0, 1)).transform(xp.asarray(x), FixedDraws([0.85, 1.4]))
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = numpy.array([0.85, 1.4]).reshape(2, 1, 1, 1)
    numpy.testing.assert_allclose(host(y), numpy.clip((x - mean) * c + mean, 0, 1), rtol=1e-12)
    y = RandomBrightness(0.5, value_range=(0, 1)).transform(xp.asarray(x), FixedDraws([-0.25, 0.5]))
    numpy.testing.assert_allclose(host(y), numpy.clip(x + numpy.array([-0.25, 0.5]).reshape(2, 1, 1, 1), 0, 1))


def test_a_single_contrast_factor_draws_on_both_sides_of_one():
    """Keras documents ``[1 - f, 1 + f]`` for a number ``f`` (its code draws from ``[1, 1 + f]``)."""
    assert RandomContrast(0.3).factor == (0.3, 0.3)
    assert RandomContrast((0.4, 0.1)).factor == (0.1, 0.4)  # a pair is put in order, as Keras 3 does


# ---- hand checks --------------------------------------------------------------------------------------------
def test_random_flip_flips_by_hand(xp):
    x = xp.asarray(numpy.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).reshape(1, 2, 3, 1))
    y = host(RandomFlip("horizontal").transform(x, FixedDraws([0.0])))
    assert y[0, :, :, 0].tolist() == [[3, 2, 1], [6, 5, 4]]
    y = host(RandomFlip("vertical").transform(x, FixedDraws([0.0])))
    assert y[0, :, :, 0].tolist() == [[4, 5, 6], [1, 2, 3]]
    y = host(RandomFlip().transform(x, FixedDraws([0.0])))
    assert y[0, :, :, 0].tolist() == [[6, 5, 4], [3, 2, 1]]
    y = host(RandomFlip().transform(x, FixedDraws([0.9])))
    assert y[0, :, :, 0].tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("quarter_turns", [1, 2, 3, -1])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_quarter_turns_is_rot90(xp, rng, quarter_turns, interpolation):
    x = rng.normal(size=(3, 5, 5, 2)).astype(numpy.float32)
    factor = quarter_turns / 4
    layer = RandomRotation((factor, factor), interpolation=interpolation, fill_mode="constant", fill_value=9.0)
    y = host(layer(xp.asarray(x), training=True))
    numpy.testing.assert_allclose(y, numpy.rot90(x, quarter_turns, axes=(1, 2)), atol=1e-5)


def test_half_turn_of_a_non_square_image(xp, rng):
    x = rng.normal(size=(2, 4, 7, 1)).astype(numpy.float32)
    y = host(RandomRotation((0.5, 0.5))(xp.asarray(x), training=True))
    numpy.testing.assert_allclose(y, x[:, ::-1, ::-1], atol=1e-5)


def test_translation_by_whole_pixels_shifts_the_image(xp):
    x = numpy.arange(16.0).reshape(1, 4, 4, 1)
    layer = RandomTranslation((0.25, 0.25), (0.5, 0.5), fill_mode="constant", fill_value=-1.0)
    y = host(layer(xp.asarray(x), training=True))[0, :, :, 0]  # one row down, two columns right
    assert y.tolist() == [[-1, -1, -1, -1], [-1, -1, 0, 1], [-1, -1, 4, 5], [-1, -1, 8, 9]]


def test_zoom_in_by_half_shows_the_middle(xp):
    x = numpy.arange(25.0).reshape(1, 5, 5, 1)
    y = host(RandomZoom((-0.5, -0.5), interpolation="nearest")(xp.asarray(x), training=True))[0, :, :, 0]
    # Output pixel k reads input 2 + (k - 2) / 2 = 1, 1.5, 2, 2.5, 3 (rounded half to even: 1, 2, 2, 2, 3).
    rows = [1, 2, 2, 2, 3]
    assert y.tolist() == [[5.0 * r + c for c in rows] for r in rows]


def test_each_image_gets_a_transform_of_its_own(xp, rng):
    x = numpy.repeat(rng.uniform(0, 255, (1, 6, 6, 1)), 8, axis=0)
    for layer in all_layers():
        y = host(layer(xp.asarray(x), training=True))
        assert len({y[n].tobytes() for n in range(8)}) > 1, layer


def test_random_crop_takes_windows_of_the_images_in_training(xp, rng):
    x = rng.normal(size=(16, 7, 9, 2)).astype(numpy.float32)
    y = host(RandomCrop(4, 5, seed=3)(xp.asarray(x), training=True))
    offsets = set()
    for n in range(16):
        found = [(r, c) for r in range(4) for c in range(5) if numpy.array_equal(x[n, r:r + 4, c:c + 5], y[n])]
        assert found, n
        offsets.add(found[0])
    assert len(offsets) > 1


def test_random_crop_resizes_the_centre_at_inference_and_small_images_in_training(xp):
    """Keras' documented behaviour (its 3.15 code returns the input unchanged at inference: keras-team/keras#21868)."""
    x = xp.asarray(RESIZE_GOLDEN["center_crop_x"])  # (1, 6, 8, 2)
    layer = RandomCrop(4, 4)
    numpy.testing.assert_allclose(host(layer(x)), RESIZE_GOLDEN["smart_resize_y"], atol=1e-6)
    tall = RandomCrop(10, 4)  # the image is smaller: centre window of the aspect ratio, resized, in training too
    assert host(tall(x, training=True)).shape == (1, 10, 4, 2)
    numpy.testing.assert_array_equal(host(tall(x, training=True)), host(tall(x)))


# ---- inference, seeds, backends -----------------------------------------------------------------------------
def test_identity_at_inference(xp, rng):
    x = xp.asarray(rng.uniform(0, 255, (4, 6, 6, 3)).astype(numpy.float32))
    for layer in all_layers():
        if isinstance(layer, RandomCrop):
            continue
        assert layer(x) is x and layer(x, training=False) is x
        model = nnkit.Sequential([nnkit.Input((6, 6, 3)), layer])
        numpy.testing.assert_array_equal(model.predict(host(x), verbose=0), host(x))


def test_a_seed_gives_the_same_transforms_and_the_generator_moves_on(xp, rng):
    x = xp.asarray(rng.uniform(0, 255, (4, 6, 6, 3)).astype(numpy.float32))
    for first, second in zip(all_layers(), all_layers()):
        first.seed = second.seed = 7
        a, b = host(first(x, training=True)), host(second(x, training=True))
        numpy.testing.assert_array_equal(a, b)
        assert not numpy.array_equal(host(first(x, training=True)), a), first


def test_unseeded_layers_follow_set_random_seed(xp, rng):
    x = xp.asarray(rng.uniform(0, 255, (4, 6, 6, 3)).astype(numpy.float32))
    runs = []
    for _ in range(2):
        nnkit.utils.set_random_seed(5)
        runs.append([host(layer(x, training=True)) for layer in all_layers()])
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.gpu
def test_a_seed_gives_the_same_transforms_on_cpu_and_gpu(rng):
    x = rng.uniform(0, 255, (4, 6, 6, 3)).astype(numpy.float32)
    outputs = {}
    for name in ("cpu", "gpu"):
        with backend.use(name):
            outputs[name] = []
            for layer in all_layers():
                layer.seed = 11
                outputs[name].append(host(layer(backend.to_device(x), training=True)))
    for layer, a, b in zip(all_layers(), outputs["cpu"], outputs["gpu"]):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4, err_msg=type(layer).__name__)


# ---- shapes, errors, configs --------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", all_layers(), ids=lambda layer: type(layer).__name__)
def test_output_shapes(layer):
    output_shape = (None, 3, 4, 2) if isinstance(layer, RandomCrop) else (None, 6, 7, 2)
    assert layer.compute_output_shape((None, 6, 7, 2)) == output_shape
    assert nnkit.Sequential([nnkit.Input((6, 7, 2)), layer]).output_shape == output_shape


@pytest.mark.parametrize("make, match", [
    (lambda: RandomFlip("diagonal"), r"RandomFlip: expected `mode` 'horizontal', 'vertical' or"),
    (lambda: RandomFlip(seed=1.5), r"RandomFlip: expected an integer or None for `seed`"),
    (lambda: RandomRotation(1.5), r"RandomRotation: expected `factor` to be a number or a pair of numbers in \[-1, 1"),
    (lambda: RandomRotation((0.1, 0.2, 0.3)), r"RandomRotation: expected `factor`"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), r"expected `fill_mode` one of 'reflect', 'wrap'"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), r"expected `interpolation` 'bilinear' or 'nearest'"),
    (lambda: RandomZoom(-1.0), r"RandomZoom: expected `height_factor` .* in \(-1, 1\]"),
    (lambda: RandomZoom(0.2, width_factor="wide"), r"RandomZoom: expected `width_factor`"),
    (lambda: RandomTranslation(0.2, 1.2), r"RandomTranslation: expected `width_factor` .* in \[-1, 1\]"),
    (lambda: RandomCrop(0, 3), r"RandomCrop: expected a positive integer for `height`"),
    (lambda: RandomContrast(-0.1), r"RandomContrast: expected `factor` .* in \[0, 1\]"),
    (lambda: RandomContrast(0.1, value_range=255), r"RandomContrast: expected `value_range` to be a pair"),
    (lambda: RandomBrightness(0.1, value_range=(0, 1, 2)), r"RandomBrightness: expected `value_range`"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_inputs_must_be_batches_of_images(rng):
    with pytest.raises(ValueError, match=r"\(RandomFlip\) expects images of rank 4 .* shape \(None, 8, 8\)"):
        nnkit.Sequential([nnkit.Input((8, 8)), RandomFlip()])
    with pytest.raises(ValueError, match=r"\(RandomZoom\) expects images of rank 4 .* shape \(None, 8, 1\)"):
        RandomZoom(0.1)(rng.normal(size=(8, 8, 1)), training=True)


@pytest.mark.parametrize("layer", all_layers() + [
    RandomFlip("vertical", seed=3), RandomRotation((-0.1, 0.3), fill_mode="constant", interpolation="nearest",
                                                   fill_value=0.5, seed=1),
    RandomZoom((-0.2, 0.3), (0.1, 0.2), fill_mode="wrap"), RandomContrast((0.1, 0.5), value_range=(0, 1)),
    RandomBrightness((-0.2, 0.1), value_range=[-1, 1], seed=4)], ids=lambda layer: type(layer).__name__)
def test_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == layer.get_config()


def test_a_gradient_through_an_augmentation_layer_in_training_is_a_clear_error(rng):
    model = nnkit.Sequential([nnkit.Input((6, 6, 1)), Conv2D(2, 3), RandomFlip(), Flatten(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match=r"'random_flip.*' \(RandomFlip\) has no input gradient in training: "
                                                  r"augmentation layers go at the start of a model"):
        model.train_on_batch(rng.normal(size=(2, 6, 6, 1)), rng.normal(size=(2, 1)))


# ---- the keras-io pattern: augmentation inside the model ----------------------------------------------------
def test_augmentation_inside_the_model_trains_on_the_digits_and_leaves_predict_alone():
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    x_train, x_test = x_train[..., None].astype(numpy.float32), x_test[..., None].astype(numpy.float32)
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([
        nnkit.Input((8, 8, 1)),
        RandomFlip("horizontal"),
        RandomRotation(0.05),
        Rescaling(1 / 16),
        Conv2D(16, (3, 3), activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.005), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 4  # about 2.2 -> 0.3
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.8  # about 0.85 (mirrored digits make it harder)

    plain = nnkit.Sequential([nnkit.Input((8, 8, 1)), Rescaling(1 / 16), Conv2D(16, (3, 3), activation="relu"),
                              MaxPooling2D((2, 2)), Flatten(), Dense(10, activation="softmax")])
    plain.set_weights(model.get_weights())
    numpy.testing.assert_array_equal(model.predict(x_test, verbose=0), plain.predict(x_test, verbose=0))
    augmented = host(model(backend.to_device(x_test), training=True))
    assert not numpy.allclose(augmented, model.predict(x_test, verbose=0))
