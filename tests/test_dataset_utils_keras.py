"""timeseries_dataset_from_array, image_dataset_from_directory and text_dataset_from_directory yield what Keras 3
yields for the same inputs (keras_dataset_utils.npz, written by data/make_keras_dataset_utils.py through Keras' Grain
path): the windows and targets, the decoded, converted and resized pixels, the labels in each mode, the texts,
class names, and the files of a seeded training / validation split."""
import os
import pathlib

import numpy
import pytest

from data import dataset_utils_cases as cases
from nnkit.utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array

GOLDEN = numpy.load(pathlib.Path(__file__).parent / "data" / "keras_dataset_utils.npz")


def golden_batches(prefix):
    count = int(GOLDEN[f"{prefix}/batches"])
    return [[GOLDEN[key] for j in range(3) if (key := f"{prefix}/{i}/{j}") in GOLDEN] for i in range(count)]


def assert_batches_equal(dataset, prefix, rtol=0.0, atol=0.0):
    expected = golden_batches(prefix)
    batches = [list(batch) if isinstance(batch, tuple) else [batch] for batch in dataset]
    assert len(batches) == len(expected)
    for batch, want in zip(batches, expected):
        assert len(batch) == len(want)
        for part, part_want in zip(batch, want):
            assert part.shape == part_want.shape
            if part_want.dtype.kind == "U":
                assert part.tolist() == part_want.tolist()
            else:
                assert part.dtype == part_want.dtype, (part.dtype, part_want.dtype)
                numpy.testing.assert_allclose(part, part_want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", sorted(cases.TIMESERIES))
def test_timeseries_like_keras(case):
    kwargs, with_targets = cases.TIMESERIES[case]
    dataset = timeseries_dataset_from_array(cases.SERIES, cases.SERIES_TARGETS if with_targets else None, **kwargs)
    assert_batches_equal(dataset, f"timeseries/{case}")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    cases.write_images(root / "images")
    cases.write_texts(root / "texts")
    return root


def relative(paths, root):
    return [os.path.relpath(path, root) for path in paths]


@pytest.mark.parametrize("case", sorted(cases.IMAGE_CASES))
def test_images_like_keras(case, folders):
    kwargs = cases.IMAGE_CASES[case]
    dataset = image_dataset_from_directory(folders / "images", verbose=False, **kwargs)
    assert (dataset.class_names or []) == GOLDEN[f"images/{case}/class_names"].tolist()  # None stored as []
    assert relative(dataset.file_paths, folders / "images") == GOLDEN[f"images/{case}/file_paths"].tolist()
    if not kwargs.get("shuffle", True):
        assert_batches_equal(dataset, f"images/{case}", rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("case", sorted(cases.TEXT_CASES))
def test_texts_like_keras(case, folders):
    kwargs = cases.TEXT_CASES[case]
    dataset = text_dataset_from_directory(folders / "texts", verbose=False, **kwargs)
    assert dataset.class_names == GOLDEN[f"texts/{case}/class_names"].tolist()
    if kwargs.get("shuffle", True):
        texts = sorted(str(text) for text, _ in dataset.unbatch())
        assert texts == GOLDEN[f"texts/{case}/texts"].tolist()
    else:
        assert_batches_equal(dataset, f"texts/{case}")
