"""The inputs of make_keras_dataset_utils.py, shared with tests/test_dataset_utils_keras.py (plain data and
writers: the test suite imports it without Keras): a series, a folder of images and a folder of texts, and the
arguments each case passes to Keras' and nnkit's builder."""
import numpy

SERIES = numpy.arange(60, dtype=numpy.float32).reshape(30, 2) * numpy.float32([1, -0.5])
SERIES_TARGETS = numpy.arange(100, 130, dtype=numpy.int64)

#: case: (keyword arguments besides data and targets, whether targets are given)
TIMESERIES = {
    "plain": (dict(sequence_length=5, batch_size=4), True),
    "strided": (dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=3), True),
    "bounded": (dict(sequence_length=3, sampling_rate=2, start_index=4, end_index=21, batch_size=5), True),
    "no_targets": (dict(sequence_length=6, sequence_stride=4, batch_size=2), False),
    "unbatched": (dict(sequence_length=7, sequence_stride=5, batch_size=None), True),
}

#: image file (relative path): (height, width, Pillow mode)
IMAGES = {
    "apple/a.png": (5, 7, "RGB"), "apple/b.jpg": (8, 8, "RGB"), "apple/sub/c.png": (3, 4, "RGB"),
    "banana/d.png": (6, 4, "L"), "banana/e.bmp": (4, 6, "RGB"), "cherry/f.png": (7, 5, "RGBA"),
    "cherry/g.gif": (6, 6, "P"), "cherry/h.png": (4, 4, "RGB"),
}

#: case: keyword arguments of image_dataset_from_directory (shuffle=False unless given; the file order is compared)
IMAGE_CASES = {
    "bilinear": dict(image_size=(4, 6), batch_size=3, shuffle=False),
    "nearest": dict(image_size=(9, 5), interpolation="nearest", label_mode="categorical", batch_size=8,
                    shuffle=False),
    "crop": dict(image_size=(3, 3), crop_to_aspect_ratio=True, color_mode="grayscale", shuffle=False,
                 label_mode="int"),
    "pad": dict(image_size=(5, 8), pad_to_aspect_ratio=True, color_mode="rgba", shuffle=False, label_mode=None),
    "classes": dict(image_size=(2, 2), class_names=["cherry", "apple"], label_mode="binary", shuffle=False),
    "split_training": dict(image_size=(2, 2), validation_split=0.3, subset="training", seed=11),
    "split_validation": dict(image_size=(2, 2), validation_split=0.3, subset="validation", seed=11),
}

TEXTS = {"neg/1.txt": "dull and slow\n", "neg/2.txt": "I left early.", "neg/deep/3.txt": "never again",
         "pos/4.txt": "A joy from start to finish", "pos/5.txt": "loved it", "pos/6.txt": "great cast, great score",
         "pos/7.md": "not a text file"}
TEXT_CASES = {
    "plain": dict(shuffle=False, batch_size=4),
    "cut": dict(shuffle=False, max_length=6, label_mode="categorical"),
    "split_training": dict(validation_split=0.5, subset="training", seed=5),
    "split_validation": dict(validation_split=0.5, subset="validation", seed=5),
}


def write_images(root):
    """The IMAGES, with pixels from a fixed seed (JPEG is lossy, but both libraries read the same decoded file)."""
    from PIL import Image
    rng = numpy.random.default_rng(0)
    for name, (height, width, mode) in IMAGES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        channels = {"RGB": 3, "RGBA": 4}.get(mode)
        pixels = rng.integers(0, 256, (height, width) + ((channels,) if channels else ()), dtype=numpy.uint8)
        picture = Image.fromarray(pixels, "L" if mode in ("L", "P") else mode)
        (picture.convert("P") if mode == "P" else picture).save(path)


def write_texts(root):
    for name, text in TEXTS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
