"""Writes the Keras-made fixtures for tests/test_preprocessing_layers.py and tests/test_augmentation_layers.py.
Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_preprocessing.py

* ``keras_preprocessing.npz``: Keras' outputs for fixed inputs of Rescaling, Normalization (adapted: outputs and
  ``get_weights``; and given a mean and variance), Resizing (bilinear and nearest, up, down and mixed, with
  ``crop_to_aspect_ratio`` and ``pad_to_aspect_ratio``), CenterCrop (crop, and the resize it falls back to when
  the image is smaller) and ``smart_resize``. Keys: ``<case>_x`` inputs, ``<case>_y`` outputs.
* ``keras_preprocessing_affine.npz``: ``keras.ops.image.affine_transform`` for fixed transforms, for every
  interpolation and fill mode (``affine_<interpolation>_<fill mode>``), and the augmentation layers' transforms
  for FIXED parameters (the random draws differ between libraries): the rotation, zoom and translation matrices
  Keras' layers build (``<layer>_params``, ``<layer>_matrix``) and the images they give (``<layer>_y``), and the
  flips, contrast and brightness changes for given factors.

nnkit does not depend on Keras; only these files are committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers
from preprocessing_cases import CENTER_CROPS, RESIZES  # noqa: E402


def numpy_of(tensor):
    return keras.ops.convert_to_numpy(tensor)


def preprocessing(rng):
    out = {}
    x = rng.uniform(0, 255, (2, 3, 4, 3)).astype("float32")
    out.update(rescaling_x=x, rescaling_y=numpy_of(L.Rescaling(1 / 127.5, offset=-1)(x)),
               rescaling_channels_y=numpy_of(L.Rescaling(numpy.array([1.0, 0.5, 0.25]), offset=0.1)(x)))

    adapt = rng.normal(3, 2, (12, 3, 4, 2)).astype("float32")
    x = rng.normal(3, 2, (2, 3, 4, 2)).astype("float32")
    out.update(norm_adapt=adapt, norm_x=x)
    for case, kwargs in {"last": {}, "none": {"axis": None}, "two_axes": {"axis": (1, 3)},
                         "invert": {"invert": True}}.items():
        layer = L.Normalization(**kwargs)
        layer.adapt(adapt)
        out[f"norm_{case}_y"] = numpy_of(layer(x))
        for i, w in enumerate(layer.get_weights()):
            out[f"norm_{case}_w{i}"] = w
    x2 = rng.normal(size=(4, 3)).astype("float32")
    out.update(norm_given_x=x2,
               norm_given_y=numpy_of(L.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0])(x2)))

    x = rng.uniform(0, 1, (1, 5, 7, 2)).astype("float32")
    out["resize_x"] = x
    for case, (h, w, interpolation, crop, pad) in RESIZES.items():
        layer = L.Resizing(h, w, interpolation=interpolation, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad,
                           fill_value=0.25)
        out[f"resize_{case}_y"] = numpy_of(layer(x))
    x = rng.uniform(0, 1, (1, 8, 6, 2)).astype("float32")  # halving: the nearest pixel is a tie everywhere
    out.update(resize_half_x=x, resize_half_nearest_y=numpy_of(L.Resizing(4, 3, interpolation="nearest")(x)),
               resize_half_bilinear_y=numpy_of(L.Resizing(4, 3)(x)))

    x = rng.uniform(0, 1, (1, 6, 8, 2)).astype("float32")
    out["center_crop_x"] = x
    for case, (h, w) in CENTER_CROPS.items():
        out[f"center_crop_{case}_y"] = numpy_of(L.CenterCrop(h, w)(x))
    out["smart_resize_y"] = numpy.asarray(keras.preprocessing.image.smart_resize(x, (4, 4)))
    return out


def affine(rng):
    out = {}
    x = rng.uniform(0, 1, (3, 6, 7, 1)).astype("float32")
    c, s = numpy.cos(numpy.radians(30)), numpy.sin(numpy.radians(30))
    transforms = numpy.array([
        [c, -s, 3 - 3 * c + 2.5 * s, s, c, 2.5 - 3 * s - 2.5 * c, 0, 0],  # 30 degrees about the centre
        [0.9, 0.2, 1.0, -0.3, 1.1, -0.5, 0, 0],                            # shear, scale and shift
        [2.5, 0.0, -4.25, 0.0, 2.5, -3.5, 0, 0],                           # zoomed far out: several periods
    ], dtype="float32")
    out.update(affine_x=x, affine_transforms=transforms)
    for interpolation in ("bilinear", "nearest"):
        for fill_mode in ("reflect", "wrap", "constant", "nearest"):
            out[f"affine_{interpolation}_{fill_mode}"] = numpy_of(keras.ops.image.affine_transform(
                x, transforms, interpolation=interpolation, fill_mode=fill_mode, fill_value=0.5))

    n = len(x)
    zeros, ones = keras.ops.zeros((n,)), keras.ops.ones((n,))
    degrees = numpy.array([30.0, -72.5, 90.0], dtype="float32")
    rotation = L.RandomRotation(0.5)
    matrix = numpy_of(rotation._compute_affine_matrix(0.5, 0.5, keras.ops.convert_to_tensor(degrees), zeros, zeros,
                                                      ones, zeros, zeros, x.shape[1], x.shape[2]))
    out.update(rotation_params=degrees, rotation_matrix=matrix)
    zooms = numpy.array([[1.3, 0.8], [0.6, 0.6], [1.5, 1.1]], dtype="float32")  # (width zoom, height zoom)
    matrix = numpy_of(L.RandomZoom(0.5)._get_zoom_matrix(keras.ops.convert_to_tensor(zooms), x.shape[1], x.shape[2]))
    out.update(zoom_params=zooms, zoom_matrix=matrix)
    shifts = numpy.array([[1.5, -2.25], [-3.0, 0.5], [0.0, 4.0]], dtype="float32")  # (dx, dy) pixels
    matrix = numpy_of(L.RandomTranslation(0.5, 0.5)._get_translation_matrix(keras.ops.convert_to_tensor(shifts)))
    out.update(translation_params=shifts, translation_matrix=matrix)
    for name in ("rotation", "zoom", "translation"):
        out[f"{name}_y"] = numpy_of(keras.ops.image.affine_transform(x, out[f"{name}_matrix"],
                                                                     fill_mode="reflect"))

    x = rng.uniform(0, 255, (3, 4, 5, 2)).astype("float32")
    out["color_x"] = x
    x = keras.ops.convert_to_tensor(x)
    flips = numpy.array([True, False, True]).reshape(3, 1, 1, 1)
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        out[f"flip_{mode}_y"] = numpy_of(L.RandomFlip(mode).transform_images(x, {"flips": flips}))
    factors = numpy.array([0.5, 1.0, 1.7], dtype="float32").reshape(3, 1, 1, 1)
    out.update(contrast_factors=factors, contrast_y=numpy_of(
        L.RandomContrast(0.7).transform_images(x, {"contrast_factor": factors})))
    deltas = numpy.array([-0.3, 0.05, 0.6], dtype="float32").reshape(3, 1, 1, 1)  # fractions of the value range
    layer = L.RandomBrightness(0.6, value_range=(0, 255))
    out.update(brightness_deltas=deltas, brightness_y=numpy_of(
        layer.transform_images(x, {"rgb_delta": deltas * 255})))
    return out


def main():
    versions = numpy.array(f"keras {keras.__version__} ({keras.backend.backend()})")
    for name, make in [("keras_preprocessing", preprocessing), ("keras_preprocessing_affine", affine)]:
        arrays = make(numpy.random.default_rng(11))
        numpy.savez_compressed(os.path.join(HERE, f"{name}.npz"), versions=versions, **arrays)
        print(f"wrote {name}.npz ({len(arrays)} arrays) with {versions}")


if __name__ == "__main__":
    main()
