"""nnkit.datasets imdb, reuters, boston_housing, california_housing, cifar10 and cifar100 on small files the tests
write in Keras' formats: equal to what Keras 3 returns for the same files and arguments (keras_datasets.npz, written
by data/make_keras_datasets.py), CIFAR's layout checked pixel by pixel, downloads served locally (no network)."""
import hashlib
import io
import json
import os
import pathlib
import pickle
import tarfile

import numpy
import pytest

from data.dataset_cases import CASES, write_housing, write_imdb, write_reuters
from nnkit.datasets import (DatasetFileError, DownloadError, boston_housing, california_housing, cifar10, cifar100,
                            download, imdb, reuters)

GOLDEN = numpy.load(pathlib.Path(__file__).parent / "data" / "keras_datasets.npz")
MODULES = {"imdb": imdb, "reuters": reuters, "boston_housing": boston_housing,
           "california_housing": california_housing}
WRITERS = {"imdb": write_imdb, "reuters": write_reuters,
           "boston_housing": lambda path: write_housing(path, rows=20, features=13),
           "california_housing": lambda path: write_housing(path, rows=650, features=8)}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url):
        raise AssertionError(f"a test tried to open {url}")
    monkeypatch.setattr(download, "open_url", refuse)


def ragged(case, split):
    lengths = GOLDEN[f"{case}/{split}_lengths"]
    words = GOLDEN[f"{case}/{split}_words"].tolist()
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)])
    return [words[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]


@pytest.mark.parametrize("case", sorted(CASES))
def test_equal_to_keras_on_the_same_file(case, tmp_path):
    name, kwargs = CASES[case]
    path = tmp_path / f"{name}.npz"
    WRITERS[name](path)
    (x_train, y_train), (x_test, y_test) = MODULES[name].load_data(path=str(path), **kwargs)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        expected_y = GOLDEN[f"{case}/{split}_y"]
        assert y.dtype == expected_y.dtype and y.shape == expected_y.shape
        numpy.testing.assert_array_equal(y, expected_y)
        if x.dtype == object:
            assert x.ndim == 1 and all(isinstance(seq, list) for seq in x)
            assert [list(seq) for seq in x] == ragged(case, split)
        else:
            features = numpy.load(path)["x"]
            assert x.dtype == features.dtype and x.shape == (len(y), features.shape[1])
            numpy.testing.assert_array_equal(x, features[y.astype(int)])


def test_sequences_of_one_length_stay_a_one_dimensional_array(tmp_path):
    same = numpy.empty(2, dtype=object)
    same[0], same[1] = [4, 5], [6, 7]
    numpy.savez(tmp_path / "r.npz", x=same, y=numpy.array([1, 2]))
    (x_train, _), (x_test, _) = reuters.load_data(path=str(tmp_path / "r.npz"), test_split=0.5)
    assert x_train.shape == (1,) and x_test.shape == (1,) and isinstance(x_train[0], list)


def test_reads_from_nnkit_data_dir_by_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path))
    (tmp_path / "imdb").mkdir()
    write_imdb(tmp_path / "imdb" / "imdb.npz")
    (x_train, y_train), _ = imdb.load_data()
    assert len(x_train) == len(y_train) == 7


def test_word_index_is_read_from_its_json_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path))
    (tmp_path / "reuters").mkdir()
    (tmp_path / "reuters" / "reuters_word_index.json").write_text(json.dumps({"the": 1, "of": 2}))
    assert reuters.get_word_index() == {"the": 1, "of": 2}
    (tmp_path / "words.json").write_text("[1, 2]")
    with pytest.raises(DatasetFileError, match=r"words\.json: expected a JSON object"):
        imdb.get_word_index(path=str(tmp_path / "words.json"))


def test_reuters_label_names():
    names = reuters.get_label_names()
    assert len(names) == 46 and names[:4] == ("cocoa", "grain", "veg-oil", "earn") and names[-1] == "lead"


class FakeResponse(io.BytesIO):
    def __init__(self, content):
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}


def test_a_missing_file_is_downloaded_once_and_checked(tmp_path, monkeypatch):
    source = tmp_path / "source.npz"
    write_housing(source, rows=20, features=13)
    content = source.read_bytes()
    requested = []

    def serve(url):
        requested.append(url)
        return FakeResponse(content)
    monkeypatch.setattr(download, "open_url", serve)
    monkeypatch.setattr(boston_housing, "FILE_HASH", hashlib.sha256(content).hexdigest())
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "data"))
    (x_train, _), (x_test, _) = boston_housing.load_data()
    assert x_train.shape == (16, 13) and x_test.shape == (4, 13)
    assert requested == [boston_housing.URL]
    assert sorted(os.listdir(tmp_path / "data" / "boston_housing")) == ["boston_housing.npz"]
    boston_housing.load_data()
    assert len(requested) == 1  # there now: not fetched again
    elsewhere = tmp_path / "mine" / "boston.npz"  # a path with a folder: downloaded right there
    boston_housing.load_data(path=str(elsewhere))
    assert elsewhere.is_file() and len(requested) == 2


def test_a_download_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "open_url", lambda url: FakeResponse(b"not the data set"))
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(DownloadError, match=r"imdb\.npz.*SHA-256 [0-9a-f]{64} does not match the expected "
                                            + imdb.FILE_HASH):
        imdb.load_data()
    assert os.listdir(tmp_path / "imdb") == []
    with pytest.raises(DownloadError, match=r"imdb_word_index\.json.*MD5 [0-9a-f]{32} does not match the expected "
                                            + imdb.WORD_INDEX_HASH):
        imdb.get_word_index()


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_a_file_that_would_run_code_is_refused(tmp_path):
    evil = numpy.empty(1, dtype=object)
    evil[0] = Evil()
    numpy.savez(tmp_path / "evil.npz", x=evil, y=numpy.array([1]))
    with pytest.raises(DatasetFileError, match=r"evil\.npz:x\.npy: .*refusing to load posix\.system"):
        reuters.load_data(path=str(tmp_path / "evil.npz"))


def test_damaged_files_name_the_file(tmp_path):
    (tmp_path / "imdb.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetFileError, match=r"imdb\.npz: cannot be read as an \.npz file"):
        imdb.load_data(path=str(tmp_path / "imdb.npz"))
    numpy.savez(tmp_path / "boston.npz", x=numpy.zeros((3, 2)))
    with pytest.raises(DatasetFileError, match=r"boston\.npz: expected the arrays \['x', 'y'\].*\['y'\] are missing"):
        boston_housing.load_data(path=str(tmp_path / "boston.npz"))
    numpy.savez(tmp_path / "cal.npz", x=numpy.zeros((3, 2)), y=numpy.zeros(4))
    with pytest.raises(DatasetFileError, match=r"cal\.npz: expected features x \(N, F\) and targets y \(N,\), found "
                                               r"x of shape \(3, 2\) and y of shape \(4,\)"):
        california_housing.load_data(path=str(tmp_path / "cal.npz"))


def test_bad_arguments_are_refused_before_any_download():
    with pytest.raises(ValueError, match="Invalid `test_split` argument: 1.0"):
        boston_housing.load_data(test_split=1.0)
    with pytest.raises(ValueError, match=r"Argument `version` must be one of 'small', 'large'. Received: "
                                         r"version='medium'"):
        california_housing.load_data(version="medium")
    with pytest.raises(ValueError, match=r'`label_mode` must be one of "fine", "coarse". Received: '
                                         r"label_mode='middle'"):
        cifar100.load_data(label_mode="middle")


def test_maxlen_that_keeps_nothing_is_an_error(tmp_path):
    write_imdb(tmp_path / "imdb.npz")
    with pytest.raises(ValueError, match="no sequence was kept. Increase maxlen"):
        imdb.load_data(path=str(tmp_path / "imdb.npz"), maxlen=2)


# ---- CIFAR ---------------------------------------------------------------------------------------------------
def cifar_batch(count, seed, label_keys):
    """A CIFAR batch dict (bytes keys, as the Python 2 pickles load with encoding="bytes") and its arrays."""
    rng = numpy.random.default_rng(seed)
    data = rng.integers(0, 256, (count, 3072), dtype=numpy.uint8)
    labels = {key: [int(v) for v in rng.integers(0, 10, count)] for key in label_keys}
    return {b"batch_label": b"testing", b"data": data, **{key.encode(): v for key, v in labels.items()}}


def expected_images(data):
    """Each row of a CIFAR batch is the red plane, then green, then blue, each 32 rows of 32 pixels: pixel
    (row r, column c) of channel k is ``data[k * 1024 + 32 * r + c]``."""
    images = numpy.empty((len(data), 32, 32, 3), dtype=numpy.uint8)
    for n in range(len(data)):
        for k in range(3):
            for r in range(32):
                images[n, r, :, k] = data[n, k * 1024 + 32 * r:k * 1024 + 32 * r + 32]
    return images


def write_archive(path, folder, batches):
    with tarfile.open(path, "w:gz") as archive:
        for name, batch in batches.items():
            content = pickle.dumps(batch, protocol=3)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def cifar10_batches():
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: cifar_batch(2 + i, seed=i, label_keys=["labels"]) for i, name in enumerate(names)}


def test_cifar10_from_the_archive_and_from_a_folder(tmp_path):
    batches = cifar10_batches()
    write_archive(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", batches)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=tmp_path / "cifar-10-python.tar.gz")
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    assert x_train.shape == (2 + 3 + 4 + 5 + 6, 32, 32, 3) and x_train.dtype == numpy.uint8
    numpy.testing.assert_array_equal(x_train, numpy.concatenate([expected_images(b[b"data"]) for b in train]))
    assert y_train.dtype == numpy.uint8 and y_train.shape == (20, 1)
    assert y_train.ravel().tolist() == sum((b[b"labels"] for b in train), [])
    numpy.testing.assert_array_equal(x_test, expected_images(batches["test_batch"][b"data"]))
    assert y_test.dtype == numpy.uint8 and y_test.ravel().tolist() == batches["test_batch"][b"labels"]
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz") as archive:  # Keras' cache holds the extracted folder
        archive.extractall(tmp_path / "extracted", filter="data")
    (x_again, _), (x_test_again, _) = cifar10.load_data(path=tmp_path / "extracted")
    numpy.testing.assert_array_equal(x_again, x_train)
    numpy.testing.assert_array_equal(x_test_again, x_test)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_label_modes(tmp_path, monkeypatch, label_mode):
    batches = {"train": cifar_batch(4, 1, ["fine_labels", "coarse_labels"]),
               "test": cifar_batch(3, 2, ["fine_labels", "coarse_labels"])}
    write_archive(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python", batches)
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "cifar100").mkdir(parents=True)
    os.replace(tmp_path / "cifar-100-python.tar.gz", tmp_path / "data" / "cifar100" / "cifar-100-python.tar.gz")
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode=label_mode)
    numpy.testing.assert_array_equal(x_train, expected_images(batches["train"][b"data"]))
    assert y_train.dtype == numpy.int64 and y_train.shape == (4, 1)  # what Keras' code returns
    assert y_train.ravel().tolist() == batches["train"][f"{label_mode}_labels".encode()]
    assert y_test.ravel().tolist() == batches["test"][f"{label_mode}_labels".encode()]


def test_cifar_damage_names_the_file_and_member(tmp_path):
    batches = cifar10_batches()
    batches["data_batch_3"][b"data"] = batches["data_batch_3"][b"data"][:, :100]
    write_archive(tmp_path / "c.tar.gz", "cifar-10-batches-py", batches)
    with pytest.raises(DatasetFileError, match=r"c\.tar\.gz:data_batch_3: expected a dict with b'data', uint8 images "
                                               r"of shape \(N, 3072\)"):
        cifar10.load_data(path=tmp_path / "c.tar.gz")
    del batches["test_batch"]
    write_archive(tmp_path / "c.tar.gz", "cifar-10-batches-py", batches)
    with pytest.raises(DatasetFileError, match=r"expected the CIFAR batches \['test_batch'\]"):
        cifar10.load_data(path=tmp_path / "c.tar.gz")
    batches = cifar10_batches()
    batches["test_batch"] = Evil()
    write_archive(tmp_path / "c.tar.gz", "cifar-10-batches-py", batches)
    with pytest.raises(DatasetFileError, match=r"test_batch: .*refusing to load posix\.system"):
        cifar10.load_data(path=tmp_path / "c.tar.gz")
    with pytest.raises(FileNotFoundError, match=r"cifar10: path='.*nowhere' does not exist"):
        cifar10.load_data(path=tmp_path / "nowhere")
