"""nnkit.utils' data-set builders as Keras 3's: timeseries_dataset_from_array (windows checked against Keras'
documented examples), split_dataset (Keras' sizes and its Python-random shuffle), image_dataset_from_directory and
text_dataset_from_directory on folders the tests build (labels from subfolders, Keras' seeded file order and
validation split, label modes, hand-computed pixels and resizes), and the BatchDataset they return fed to fit."""
import sys

import numpy
import pytest
from PIL import Image

import nnkit
from nnkit.utils import (BatchDataset, image_dataset_from_directory, split_dataset, text_dataset_from_directory,
                         timeseries_dataset_from_array)


# ---- timeseries_dataset_from_array ---------------------------------------------------------------------------
def test_keras_example_1_windows():
    # Keras' docstring: indices 0..98, sequence_length=10, sampling_rate=2, sequence_stride=3
    dataset = timeseries_dataset_from_array(numpy.arange(99), None, sequence_length=10, sampling_rate=2,
                                            sequence_stride=3, batch_size=None)
    windows = list(dataset)
    assert windows[0].tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert windows[1].tolist() == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert windows[2].tolist() == [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert windows[-1].tolist() == [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]
    assert len(windows) == 27  # starts 0, 3, ..., 78


def test_keras_example_2_targets_and_batches():
    data = numpy.arange(100, 150, dtype=numpy.float32)[:, None] * numpy.float32([1, -1])  # (50, 2) time steps
    dataset = timeseries_dataset_from_array(data[:-10], data[10:, 0], sequence_length=10, batch_size=16)
    assert len(dataset) == 2  # 40 - 9 = 31 windows
    batches = list(dataset)
    assert [len(x) for x, _ in batches] == [16, 15]
    inputs, targets = batches[0]
    assert inputs.shape == (16, 10, 2) and inputs.dtype == numpy.float32
    numpy.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10, 0] and targets[5] == data[15, 0]
    assert sum(len(t) for _, t in batches) == 31 and batches[-1][1][-1] == data[40, 0]


def test_keras_example_3_non_overlapping_windows():
    x, y = numpy.arange(100), numpy.arange(100) * 2
    inputs = timeseries_dataset_from_array(x, None, sequence_length=20, sequence_stride=20)
    targets = timeseries_dataset_from_array(y, None, sequence_length=20, sequence_stride=20)
    (batch_x,), (batch_y,) = list(inputs), list(targets)
    assert batch_x.shape == (5, 20)
    numpy.testing.assert_array_equal(batch_x[0], x[:20])
    numpy.testing.assert_array_equal(batch_y[1], y[20:40])


def test_start_and_end_index():
    data = numpy.arange(30)
    dataset = timeseries_dataset_from_array(data, data * 10, sequence_length=4, sampling_rate=2, start_index=5,
                                            end_index=20, batch_size=None)
    samples = list(dataset)
    # starts 5..13: the last window 13, 15, 17, 19 ends before 20; targets count from start_index
    assert [w.tolist() for w, _ in samples[:2]] == [[5, 7, 9, 11], [6, 8, 10, 12]]
    assert samples[-1][0].tolist() == [13, 15, 17, 19] and len(samples) == 9
    assert [int(t) for _, t in samples] == [50, 60, 70, 80, 90, 100, 110, 120, 130]


def test_shuffle_permutes_start_positions_with_numpy_randomstate():
    dataset = timeseries_dataset_from_array(numpy.arange(10), None, sequence_length=3, shuffle=True, seed=4,
                                            batch_size=None)
    # the 8 starts 0..7 in the order numpy.random.RandomState(4).shuffle leaves them (Keras' first shuffle)
    assert [int(w[0]) for w in dataset] == [4, 7, 3, 0, 1, 5, 6, 2]
    assert all(w.tolist() == [w[0], w[0] + 1, w[0] + 2] for w in dataset)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_index=-1), "`start_index` must be 0 or greater"),
    (dict(start_index=10), "`start_index` must be lower than the length of the data"),
    (dict(start_index=5, end_index=4), "`end_index` must be higher than `start_index`"),
    (dict(end_index=10), "`end_index` must be lower than the length of the data"),
    (dict(sampling_rate=0), "`sampling_rate` must be higher than 0"),
    (dict(sequence_stride=10), "`sequence_stride` must be lower than the length of the data"),
    (dict(sequence_length=0), "`sequence_length` must be a positive integer"),
])
def test_timeseries_bad_arguments(kwargs, message):
    arguments = {"sequence_length": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(numpy.arange(10), None, **arguments)


# ---- split_dataset ---------------------------------------------------------------------------------------------
def test_split_sizes_follow_keras():
    left, right = split_dataset(numpy.arange(1000).reshape(250, 4), left_size=0.8)
    assert (len(left), len(right)) == (200, 50)
    assert left[0].tolist() == [0, 1, 2, 3] and right[-1].tolist() == [996, 997, 998, 999]
    left, right = split_dataset(numpy.arange(10), right_size=3)
    assert list(map(int, left)) == list(range(7)) and list(map(int, right)) == [7, 8, 9]
    left, right = split_dataset(numpy.arange(10), left_size=0.2, right_size=0.3)  # the middle is dropped
    assert list(map(int, left)) == [0, 1] and list(map(int, right)) == [7, 8, 9]


def test_split_shuffle_is_pythons_random_with_the_seed():
    x, y = numpy.arange(10), numpy.arange(10) * 2
    left, right = split_dataset((x, y), left_size=0.7, shuffle=True, seed=1)
    # random.seed(1); random.shuffle(list(range(10))) gives [6, 8, 9, 7, 5, 3, 0, 4, 1, 2]
    assert [(int(a), int(b)) for a, b in left] == [(i, 2 * i) for i in [6, 8, 9, 7, 5, 3, 0]]
    assert [int(a) for a, _ in right] == [4, 1, 2]
    batches = list(left.batch(4))
    assert [b[0].tolist() for b in batches] == [[6, 8, 9, 7], [5, 3, 0]]


@pytest.mark.parametrize("dataset, kwargs, error, message", [
    (numpy.arange(10), {}, ValueError, "At least one of the `left_size` or `right_size` must be specified"),
    (numpy.arange(10), dict(left_size=10), ValueError, "`left_size` should be either a positive integer smaller "
                                                       "than 10"),
    (numpy.arange(10), dict(right_size=1.5), ValueError, "`right_size` should be either a positive integer"),
    (numpy.arange(10), dict(left_size=0.6, right_size=0.5), ValueError, "The sum of `left_size` and `right_size` "
                                                                        "is greater than 1"),
    (numpy.arange(10), dict(left_size=6, right_size=5), ValueError, "should be smaller than the 10"),
    (numpy.arange(10), dict(left_size=0.01), ValueError, "Resulting left side dataset split will be empty"),
    (numpy.arange(10), dict(left_size="half"), TypeError, "Invalid `left_size` Type"),
    ([numpy.arange(3), numpy.arange(4)], dict(left_size=1), ValueError, "different lengths"),
    ([numpy.arange(3), [1, 2, 3]], dict(left_size=1), ValueError, "Expected a list of `numpy.ndarray` objects"),
    ({"x": numpy.arange(3)}, dict(left_size=1), TypeError, "must be a NumPy array, a list/tuple of arrays"),
])
def test_split_bad_arguments(dataset, kwargs, error, message):
    with pytest.raises(error, match=message):
        split_dataset(dataset, **kwargs)


# ---- folders of images -----------------------------------------------------------------------------------------
def write_image(path, pixels, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(numpy.asarray(pixels, dtype=numpy.uint8), mode).save(path)


@pytest.fixture
def pets(tmp_path):
    """pets/cat/{0,1,2}.png, pets/dog/{0,1}.png and dog/puppies/{0}.png: 4x4 RGB images of one colour each,
    red = 10 * class + file number; a stray text file is ignored."""
    root = tmp_path / "pets"
    files = {"cat": ["a0.png", "a1.png", "a2.jpg_not_image.txt", "a2.png"], "dog": ["b0.png", "b1.bmp"]}
    for label, (folder, names) in enumerate(files.items()):
        for number, name in enumerate(n for n in names if not n.endswith(".txt")):
            write_image(root / folder / name, numpy.full((4, 4, 3), [10 * label + number, 7, 200]))
    write_image(root / "dog" / "puppies" / "c0.png", numpy.full((4, 4, 3), [19, 7, 200]))
    (root / "cat" / "notes.txt").write_text("not an image")
    return root


SORTED = ["cat/a0.png", "cat/a1.png", "cat/a2.png", "dog/b0.png", "dog/b1.bmp", "dog/puppies/c0.png"]
RED = [0, 1, 2, 10, 11, 19]
LABELS = [0, 0, 0, 1, 1, 1]


def test_images_with_inferred_labels_in_sorted_order(pets, capsys):
    dataset = image_dataset_from_directory(pets, image_size=(4, 4), shuffle=False, batch_size=4)
    assert "Found 6 files belonging to 2 classes." in capsys.readouterr().out
    assert dataset.class_names == ["cat", "dog"] and len(dataset) == 2
    assert [path[len(str(pets)) + 1:] for path in dataset.file_paths] == SORTED
    (images, labels), (rest, rest_labels) = list(dataset)
    assert images.shape == (4, 4, 4, 3) and images.dtype == numpy.float32
    assert labels.dtype == numpy.int32 and labels.tolist() + rest_labels.tolist() == LABELS
    assert images[:, 0, 0, 0].tolist() + rest[:, 0, 0, 0].tolist() == RED
    assert numpy.all(images[..., 1] == 7) and numpy.all(images[..., 2] == 200)


def test_hidden_folders_are_no_class(pets):
    write_image(pets / ".thumbnails" / "x.png", numpy.zeros((4, 4, 3)))
    assert image_dataset_from_directory(pets, image_size=4, verbose=False).class_names == ["cat", "dog"]


def test_shuffle_and_validation_split_are_kerass(pets):
    both = image_dataset_from_directory(pets, image_size=4, validation_split=0.4, subset="both", seed=3,
                                        batch_size=None, verbose=False)
    assert isinstance(both, list)  # as Keras returns the pair
    train, validation = both
    order = numpy.random.RandomState(3).permutation(6)  # Keras: RandomState(seed).shuffle of the sorted files
    assert [int(image[0, 0, 0]) for image, _ in train] == [RED[i] for i in order[:4]]
    assert [int(image[0, 0, 0]) for image, _ in validation] == [RED[i] for i in order[4:]]  # int(0.4 * 6) = 2
    assert [int(label) for _, label in train] == [LABELS[i] for i in order[:4]]
    only_validation = image_dataset_from_directory(pets, image_size=4, validation_split=0.4, subset="validation",
                                                   seed=3, verbose=False)
    assert only_validation.file_paths == validation.file_paths


def test_label_modes_and_class_names(pets):
    dataset = image_dataset_from_directory(pets, image_size=4, label_mode="categorical", class_names=["dog", "cat"],
                                           shuffle=False, batch_size=6, verbose=False)
    images, labels = dataset[0]
    assert labels.dtype == numpy.float32 and labels.tolist() == [[1, 0]] * 3 + [[0, 1]] * 3  # dog is 0 now
    assert images[:, 0, 0, 0].tolist() == [10, 11, 19, 0, 1, 2]
    _, binary = image_dataset_from_directory(pets, image_size=4, label_mode="binary", shuffle=False, batch_size=6,
                                             verbose=False)[0]
    assert binary.dtype == numpy.float32 and binary.shape == (6, 1) and binary.ravel().tolist() == LABELS
    images_only = image_dataset_from_directory(pets, image_size=4, label_mode=None, shuffle=False, verbose=False)
    assert images_only[0].shape == (6, 4, 4, 3)
    given = image_dataset_from_directory(pets, labels=[5, 5, 7, 7, 9, 9], shuffle=False, image_size=4,
                                         verbose=False)
    assert given.class_names == ["5", "7", "9"] and given[0][1].tolist() == [5, 5, 7, 7, 9, 9]
    assert [path[len(str(pets)) + 1:] for path in given.file_paths] == SORTED


def test_color_modes_resize_crop_pad_and_channels_first(tmp_path):
    # one 2x2 RGB image: columns red 0 and 10 on the first row, 40 and 80 on the second
    write_image(tmp_path / "x" / "img.png", [[[0, 0, 0], [10, 0, 0]], [[40, 0, 0], [80, 0, 0]]])
    big = image_dataset_from_directory(tmp_path / "x", labels=None, image_size=(2, 4), shuffle=False,
                                       verbose=False)[0]
    # half-pixel bilinear, clamped at the edges: columns read input 0, 0.25, 0.75, 1 (row 0: 0, 2.5, 7.5, 10)
    numpy.testing.assert_allclose(big[0, :, :, 0], [[0, 2.5, 7.5, 10], [40, 50, 70, 80]])
    nearest = image_dataset_from_directory(tmp_path / "x", labels=None, image_size=(2, 4), shuffle=False,
                                           interpolation="nearest", verbose=False)[0]
    numpy.testing.assert_array_equal(nearest[0, :, :, 0], [[0, 0, 10, 10], [40, 40, 80, 80]])
    first = image_dataset_from_directory(tmp_path / "x", labels=None, image_size=2, shuffle=False,
                                         data_format="channels_first", verbose=False)[0]
    assert first.shape == (1, 3, 2, 2) and first[0, 0].tolist() == [[0, 10], [40, 80]]
    write_image(tmp_path / "y" / "red.png", numpy.full((2, 2, 3), [255, 0, 0]))
    grey = image_dataset_from_directory(tmp_path / "y", labels=None, image_size=2, color_mode="grayscale",
                                        verbose=False, shuffle=False)[0]
    assert grey.shape == (1, 2, 2, 1) and numpy.all(grey == 76)  # ITU-R 601: 255 * 299 / 1000 = 76.2
    rgba = image_dataset_from_directory(tmp_path / "y", labels=None, image_size=2, color_mode="rgba", verbose=False,
                                        shuffle=False)[0]
    assert rgba[0, 0, 0].tolist() == [255, 0, 0, 255]
    # a 4x2 (rows x columns) image, row r all of value 10 * r
    write_image(tmp_path / "z" / "tall.png", numpy.repeat(numpy.arange(0, 40, 10)[:, None, None], 2, 1) * [1, 1, 1])
    cropped = image_dataset_from_directory(tmp_path / "z", labels=None, image_size=2, crop_to_aspect_ratio=True,
                                           verbose=False, shuffle=False)[0]
    assert cropped[0, :, :, 0].tolist() == [[10, 10], [20, 20]]  # the centred 2x2 window: rows 1 and 2
    padded = image_dataset_from_directory(tmp_path / "z", labels=None, image_size=(4, 4), pad_to_aspect_ratio=True,
                                          verbose=False, shuffle=False)[0]
    # a zero column on each side makes it 4x4 (no resize left to do)
    assert padded[0, :, :, 0].tolist() == [[0, 0, 0, 0], [0, 10, 10, 0], [0, 20, 20, 0], [0, 30, 30, 0]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(labels="folders"), "`labels` argument should be a list/tuple of integer labels"),
    (dict(labels=[0, 1], class_names=["a"]), 'You can only pass `class_names` if `labels="inferred"`'),
    (dict(label_mode="sparse"), '`label_mode` argument must be one of "int", "categorical", "binary", or None'),
    (dict(color_mode="cmyk"), "`color_mode` must be one of"),
    (dict(image_size=(4, 4, 3)), "Invalid `image_size` value"),
    (dict(interpolation="lanczos3"), "Argument `interpolation` should be one of"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "Only one of `pad_to_aspect_ratio`"),
    (dict(validation_split=0.2), "If `subset` is set, `validation_split` must be set, and inversely"),
    (dict(validation_split=1.5, subset="training"), "`validation_split` must be between 0 and 1"),
    (dict(validation_split=0.5, subset="testing"), '`subset` must be either "training", "validation" or "both"'),
    (dict(validation_split=0.5, subset="both"), "you must provide a `seed` argument"),
    (dict(class_names=["cat", "bird"]), "The `class_names` passed did not match the names of the subdirectories"),
    (dict(labels=[0, 1, 2]), "len\\(labels\\) is 3 while we found 6 files"),
    (dict(labels=None, class_names=["cat"]), "When `labels=None` \\(no labels\\), argument `class_names` cannot"),
    (dict(label_mode="binary", class_names=["cat"]), 'When passing `label_mode="binary"`, there must be exactly 2'),
])
def test_image_bad_arguments(pets, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(pets, verbose=False, **kwargs)


def test_missing_folder_empty_folder_and_damaged_image(tmp_path):
    with pytest.raises(ValueError, match="`directory` must be an existing folder"):
        image_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"No image files found in directory .*empty\. Allowed formats: \.bmp"):
        image_dataset_from_directory(tmp_path / "empty", verbose=False)
    (tmp_path / "bad" / "a").mkdir(parents=True)
    (tmp_path / "bad" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    dataset = image_dataset_from_directory(tmp_path / "bad", verbose=False)
    with pytest.raises(ValueError, match=r"broken\.png: cannot be read as an image"):
        dataset[0]


def test_fit_evaluate_predict_take_the_image_dataset(pets):
    train, validation = image_dataset_from_directory(pets, image_size=(4, 4), validation_split=0.34, subset="both",
                                                     seed=1, batch_size=2, verbose=False)
    model = nnkit.Sequential([nnkit.Input((4, 4, 3)), nnkit.layers.Rescaling(1 / 255), nnkit.layers.Flatten(),
                              nnkit.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=validation, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    assert len(model.evaluate(validation, verbose=0)) == 2
    assert model.predict(validation, verbose=0).shape == (2, 2)


# ---- folders of texts ------------------------------------------------------------------------------------------
@pytest.fixture
def reviews(tmp_path):
    root = tmp_path / "reviews"
    texts = {"neg": {"1.txt": "awful\r\nfilm", "2.txt": "boring"}, "pos": {"1.txt": "grand ✓", "3.txt": "fine",
                                                                          "skip.md": "not text"}}
    for folder, files in texts.items():
        (root / folder).mkdir(parents=True)
        for name, text in files.items():
            (root / folder / name).write_bytes(text.encode("utf-8"))
    return root


def test_texts_with_labels(reviews):
    dataset = text_dataset_from_directory(reviews, shuffle=False, batch_size=3, verbose=False)
    assert dataset.class_names == ["neg", "pos"]
    (texts, labels), (rest, rest_labels) = list(dataset)
    assert texts.tolist() + rest.tolist() == ["awful\r\nfilm", "boring", "grand ✓", "fine"]
    assert labels.dtype == numpy.int32 and labels.tolist() + rest_labels.tolist() == [0, 0, 1, 1]
    cut = text_dataset_from_directory(reviews, shuffle=False, max_length=5, label_mode=None, verbose=False)
    assert cut[0].tolist() == ["awful", "borin", "grand", "fine"]
    _, binary = text_dataset_from_directory(reviews, shuffle=False, label_mode="binary", verbose=False)[0]
    assert binary.shape == (4, 1) and binary.ravel().tolist() == [0, 0, 1, 1]


def test_text_split_and_adapt(reviews):
    train, validation = text_dataset_from_directory(reviews, validation_split=0.25, subset="both", seed=2,
                                                    batch_size=None, verbose=False)
    everything = ["awful\r\nfilm", "boring", "grand ✓", "fine"]
    order = numpy.random.RandomState(2).permutation(4)
    assert [str(text) for text, _ in train] == [everything[i] for i in order[:3]]
    assert [str(text) for text, _ in validation] == [everything[order[3]]]
    vectorizer = nnkit.layers.TextVectorization(output_mode="int")
    vectorizer.adapt(texts for texts, _ in train.batch(2))
    assert set(vectorizer.get_vocabulary()[2:]) == {w for i in order[:3] for w in everything[i].lower().split()}


def test_text_bad_arguments(reviews):
    with pytest.raises(ValueError, match="`max_length` must be a non-negative integer or None"):
        text_dataset_from_directory(reviews, max_length=-1)
    with pytest.raises(ValueError, match='`label_mode` argument must be one of "int"'):
        text_dataset_from_directory(reviews, label_mode="strings")


# ---- BatchDataset ----------------------------------------------------------------------------------------------
def test_batch_dataset_batches_reshuffles_after_each_epoch_and_takes():
    dataset = BatchDataset((numpy.arange(7), numpy.arange(7) * 10), batch_size=3, shuffle=True, seed=0)
    assert [x.tolist() for x, _ in dataset] == [[0, 1, 2], [3, 4, 5], [6]]
    dataset.on_epoch_end()
    order = numpy.random.default_rng(0).permutation(7)
    assert [x.tolist() for x, _ in dataset] == [order[:3].tolist(), order[3:6].tolist(), order[6:].tolist()]
    assert all((y == 10 * x).all() for x, y in dataset)
    assert [x.tolist() for x, _ in dataset.take(1)] == [order[:3].tolist()]
    with pytest.raises(IndexError, match="batch 3 is out of range for a dataset of 3 batches"):
        dataset[3]
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        dataset.batch(0)
    with pytest.raises(ValueError, match=r"found lengths \[2, 3\]"):
        BatchDataset((numpy.arange(2), numpy.arange(3)))


def test_split_of_a_batched_dataset_keeps_its_batch_size_and_order():
    dataset = BatchDataset((numpy.arange(10), numpy.arange(10) + 100), batch_size=3, shuffle=True, seed=5)
    dataset.on_epoch_end()  # a new order: the split follows it
    order = numpy.random.default_rng(5).permutation(10)
    left, right = split_dataset(dataset, left_size=6)
    assert [x.tolist() for x, _ in left] == [order[:3].tolist(), order[3:6].tolist()]
    assert [y.tolist() for _, y in right] == [(order[6:9] + 100).tolist(), (order[9:] + 100).tolist()]


def test_fit_takes_timeseries_windows_and_split_parts():
    series = numpy.sin(numpy.arange(60, dtype=numpy.float32) / 5)[:, None]
    windows = timeseries_dataset_from_array(series[:-5], series[5:, 0], sequence_length=5, batch_size=8)
    model = nnkit.Sequential([nnkit.Input((5, 1)), nnkit.layers.Flatten(), nnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    train, validation = split_dataset(windows.unbatch(), left_size=0.75)
    history = model.fit(train.batch(8), validation_data=validation.batch(8), epochs=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert model.predict(windows, verbose=0).shape == (51, 1)


def test_map_cache_and_prefetch_as_tf_data():
    dataset = BatchDataset((numpy.arange(6), numpy.arange(6) % 2), batch_size=4, shuffle=True, seed=2)
    calls = []

    def double(x, y):
        calls.append(len(x))
        return x * 2, y
    mapped = dataset.map(double, num_parallel_calls=-1)
    assert [x.tolist() for x, _ in mapped] == [[0, 2, 4, 6], [8, 10]] and calls == [4, 2]
    assert [x.tolist() for x in mapped.map(lambda x, y: x + 1).take(1)] == [[1, 3, 5, 7]]
    cached = mapped.cache().prefetch(buffer_size=10)
    first = [x.tolist() for x, _ in cached]
    cached.on_epoch_end()  # a cache repeats its first pass, order included
    assert [x.tolist() for x, _ in cached] == first and calls == [4, 2, 4, 4, 2]
    assert BatchDataset(numpy.arange(3)).map(lambda x: -x)[2] == -2
    with pytest.raises(ValueError, match=r"batch\(\) after map\(\) is not supported.*Call batch\(\) first"):
        mapped.batch(2)
    with pytest.raises(ValueError, match="nnkit caches datasets in memory only"):
        dataset.cache("cache_file")
    with pytest.raises(TypeError, match="map expects a function"):
        dataset.map("double")


def test_keras_text_classification_pipeline(reviews):
    # keras-io's text classification from scratch, on four reviews: adapt on the texts, map, cache, prefetch, fit
    raw_train = text_dataset_from_directory(reviews, batch_size=2, validation_split=0.25, subset="training",
                                            seed=1, verbose=False)
    vectorizer = nnkit.layers.TextVectorization(max_tokens=20, output_mode="int", output_sequence_length=3)
    vectorizer.adapt(raw_train.map(lambda text, label: text))
    train = raw_train.map(lambda text, label: (vectorizer(text[:, None]), label)).cache().prefetch(buffer_size=10)
    texts, _ = raw_train[0]
    tokens, _ = train[0]
    vocabulary = vectorizer.get_vocabulary()
    assert [[vocabulary[t] for t in row if t] for row in tokens.tolist()] == [
        text.lower().split()[:3] for text in texts.tolist()]
    model = nnkit.Sequential([nnkit.Input((3,)), nnkit.layers.Embedding(20, 4),
                              nnkit.layers.GlobalAveragePooling1D(), nnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    assert len(model.fit(train, epochs=2, verbose=0).history["accuracy"]) == 2


def test_without_pillow_the_error_names_the_extra(pets, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(ImportError, match=r"reads images with Pillow: `pip install nnkit-keras\[image\]`"):
        image_dataset_from_directory(pets)
