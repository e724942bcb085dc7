"""Writes keras_dataset_utils.npz: the batches Keras 3's timeseries_dataset_from_array,
image_dataset_from_directory and text_dataset_from_directory yield (their Grain path, format="grain", which needs
no TensorFlow) for the inputs of dataset_utils_cases.py, for tests/test_dataset_utils_keras.py. Grain adds a
shuffle of its own, so shuffled cases store the files in Keras' order (``file_paths``), not the batches.

    pip install grain   # into the Keras environment
    KERAS_BACKEND=torch python tests/data/make_keras_dataset_utils.py
"""
import os
import pathlib
import sys
import tempfile

import numpy
from keras.utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset_utils_cases as cases  # noqa: E402


def host(value):
    return numpy.asarray(value.cpu()) if hasattr(value, "cpu") else numpy.asarray(value)


def store(out, prefix, dataset, root=None):
    batches = list(dataset)
    for i, batch in enumerate(batches):
        parts = batch if isinstance(batch, tuple) else (batch,)
        for j, part in enumerate(parts):
            out[f"{prefix}/{i}/{j}"] = numpy.asarray([str(t) for t in part]) if isinstance(part, list) else host(part)
    out[f"{prefix}/batches"] = numpy.array(len(batches))
    if root is not None and hasattr(dataset, "file_paths"):
        out[f"{prefix}/file_paths"] = numpy.array([os.path.relpath(p, root) for p in dataset.file_paths])


def main():
    out = {}
    for case, (kwargs, with_targets) in cases.TIMESERIES.items():
        targets = cases.SERIES_TARGETS if with_targets else None
        store(out, f"timeseries/{case}", timeseries_dataset_from_array(cases.SERIES, targets, format="grain",
                                                                       **kwargs))
    root = pathlib.Path(tempfile.mkdtemp())
    cases.write_images(root / "images")
    for case, kwargs in cases.IMAGE_CASES.items():
        dataset = image_dataset_from_directory(root / "images", format="grain", verbose=False, **kwargs)
        if kwargs.get("shuffle", True):
            out[f"images/{case}/file_paths"] = numpy.array([os.path.relpath(p, root / "images")
                                                            for p in dataset.file_paths])
        else:
            store(out, f"images/{case}", dataset, root / "images")
        out[f"images/{case}/class_names"] = numpy.array(dataset.class_names or [])
    cases.write_texts(root / "texts")
    for case, kwargs in cases.TEXT_CASES.items():
        dataset = text_dataset_from_directory(root / "texts", format="grain", verbose=False, **kwargs)
        if not kwargs.get("shuffle", True):
            store(out, f"texts/{case}", dataset)
        out[f"texts/{case}/class_names"] = numpy.array(dataset.class_names)
    for split in ("training", "validation"):  # the files of a shuffled split: read back from the texts themselves
        dataset = text_dataset_from_directory(root / "texts", format="grain", verbose=False, batch_size=None,
                                              label_mode=None, **cases.TEXT_CASES[f"split_{split}"])
        out[f"texts/split_{split}/texts"] = numpy.array(sorted(str(t) for t in dataset))
    numpy.savez_compressed(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_dataset_utils.npz"), **out)
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
