"""The golden cases of make_keras_preprocessing.py, shared with tests/test_preprocessing_layers.py (plain data:
the test suite imports it without Keras)."""

#: name: (height, width, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
RESIZES = {
    "bilinear_up": (9, 11, "bilinear", False, False),
    "bilinear_down": (3, 4, "bilinear", False, False),
    "bilinear_mixed": (8, 3, "bilinear", False, False),
    "nearest_up": (9, 11, "nearest", False, False),
    "nearest_down": (3, 4, "nearest", False, False),
    "nearest_mixed": (2, 12, "nearest", False, False),
    "bilinear_crop": (4, 4, "bilinear", True, False),
    "nearest_crop": (6, 3, "nearest", True, False),
    "bilinear_pad": (4, 4, "bilinear", False, True),
    "nearest_pad": (2, 6, "nearest", False, True),
}
CENTER_CROPS = {"crop": (4, 5), "crop_odd": (3, 8), "taller": (7, 4), "larger": (9, 12)}
