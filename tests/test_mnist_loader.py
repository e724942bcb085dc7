"""MNIST / Fashion-MNIST loading from IDX files the tests write, and a mocked download (no network)."""
import gzip
import hashlib
import io
import pathlib

import numpy
import pytest

from nnkit.datasets import DownloadError, IDXFormatError, download, fashion_mnist, mnist, write_idx

FILES = download.IDX_FILES


def write_dataset(directory, train=12, test=5, size=28, seed=0):
    """Four IDX files of random images and labels; returns the arrays written."""
    rng = numpy.random.default_rng(seed)
    arrays = [rng.integers(0, 256, (train, size, size), dtype=numpy.uint8),
              rng.integers(0, 10, train, dtype=numpy.uint8),
              rng.integers(0, 256, (test, size, size), dtype=numpy.uint8),
              rng.integers(0, 10, test, dtype=numpy.uint8)]
    directory.mkdir(parents=True, exist_ok=True)
    for filename, array in zip(FILES, arrays):
        write_idx(directory / filename, array)
    return arrays


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url):
        raise AssertionError(f"a test tried to open {url}")
    monkeypatch.setattr(download, "open_url", refuse)


@pytest.mark.parametrize("module", [mnist, fashion_mnist])
def test_loads_the_four_files_from_path(module, tmp_path):
    written = write_dataset(tmp_path)
    (x_train, y_train), (x_test, y_test) = module.load_data(path=tmp_path)
    for loaded, expected in zip((x_train, y_train, x_test, y_test), written):
        assert loaded.dtype == numpy.uint8
        numpy.testing.assert_array_equal(loaded, expected)
    assert x_train.shape == (12, 28, 28) and y_test.shape == (5,)


def test_data_directory_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.data_directory("mnist", tmp_path / "given") == tmp_path / "given"
    assert download.data_directory("mnist") == tmp_path / "root" / "mnist"
    assert download.data_directory("fashion_mnist") == tmp_path / "root" / "fashion_mnist"
    monkeypatch.delenv("NNKIT_DATA_DIR")
    assert download.data_directory("mnist") == tmp_path / "home" / ".nnkit" / "datasets" / "mnist"


def test_reads_from_nnkit_data_dir(tmp_path, monkeypatch):
    written = write_dataset(tmp_path / "mnist", train=3, test=2)
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path))
    (x_train, _), _ = mnist.load_data()
    numpy.testing.assert_array_equal(x_train, written[0])


def test_bad_magic_names_the_file(tmp_path):
    write_dataset(tmp_path)
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"\x12\x34\x08\x01" + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(IDXFormatError, match=r"train-labels-idx1-ubyte\.gz: bad IDX magic number 0x12340801"):
        mnist.load_data(path=tmp_path)


@pytest.mark.parametrize("cut, message", [(10, "truncated header"), (-7, "it is truncated")])
def test_truncated_file_names_the_file(tmp_path, cut, message):
    write_dataset(tmp_path)
    target = tmp_path / "t10k-images-idx3-ubyte.gz"
    content = gzip.decompress(target.read_bytes())
    target.write_bytes(gzip.compress(content[:cut]))
    with pytest.raises(IDXFormatError, match=rf"t10k-images-idx3-ubyte\.gz: .*{message}"):
        mnist.load_data(path=tmp_path)


def test_wrong_byte_count_names_the_file(tmp_path):
    write_dataset(tmp_path)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes()) + b"extra"))
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte\.gz: header says shape \(12, 28, 28\).*too long"):
        mnist.load_data(path=tmp_path)


def test_gzip_garbage_names_the_file(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data at all")
    with pytest.raises(IDXFormatError, match=r"t10k-labels-idx1-ubyte\.gz: cannot be read as gzip"):
        mnist.load_data(path=tmp_path)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:200])  # a cut-off gzip stream
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte\.gz: cannot be read"):
        mnist.load_data(path=tmp_path)


def test_images_and_labels_must_agree(tmp_path):
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", numpy.zeros(11, numpy.uint8))
    with pytest.raises(IDXFormatError, match=r"holds 12 images but .*train-labels-idx1-ubyte\.gz holds 11 labels"):
        mnist.load_data(path=tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", numpy.zeros((12, 2), numpy.uint8))
    with pytest.raises(IDXFormatError, match=r"expected uint8 labels \(N,\)"):
        mnist.load_data(path=tmp_path)


class FakeResponse(io.BytesIO):
    def __init__(self, content):
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}


def serve(monkeypatch, files, failing_mirrors=()):
    """Answer ``open_url`` from ``files`` (a name -> bytes dict); mirrors in ``failing_mirrors`` are down."""
    requested = []

    def fake_open(url):
        requested.append(url)
        if any(url.startswith(mirror) for mirror in failing_mirrors):
            raise OSError("connection refused")
        return FakeResponse(files[url.rsplit("/", 1)[1]])
    monkeypatch.setattr(download, "open_url", fake_open)
    return requested


def idx_bytes(tmp_path):
    source = tmp_path / "source"
    write_dataset(source, train=4, test=3)
    return {name: (source / name).read_bytes() for name in FILES}


def test_missing_files_are_downloaded_checked_and_moved_into_place(tmp_path, monkeypatch, capsys):
    files = idx_bytes(tmp_path)
    monkeypatch.setattr(mnist, "CHECKSUMS", {name: hashlib.sha256(data).hexdigest() for name, data in files.items()})
    requested = serve(monkeypatch, files, failing_mirrors=(mnist.MIRRORS[0],))
    target = tmp_path / "data"
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=target)
    assert x_train.shape == (4, 28, 28) and x_test.shape == (3, 28, 28)
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)  # no temporary files left
    assert len(requested) == 8 and all(url.startswith(mnist.MIRRORS[1]) for url in requested[1::2])
    assert "Downloading train-images-idx3-ubyte.gz [" in capsys.readouterr().err  # the progress bar
    mnist.load_data(path=target)  # present now: nothing is fetched again
    assert len(requested) == 8


def test_checksum_mismatch_is_an_error_and_leaves_nothing_behind(tmp_path, monkeypatch):
    files = idx_bytes(tmp_path)
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    checksums["t10k-images-idx3-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(mnist, "CHECKSUMS", checksums)
    serve(monkeypatch, files)
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"t10k-images-idx3-ubyte\.gz.*SHA-256 [0-9a-f]{64} does not match the "
                                            r"expected 0{64}"):
        mnist.load_data(path=target)
    left = sorted(p.name for p in target.iterdir())
    assert "t10k-images-idx3-ubyte.gz" not in left and not any(name.endswith(".part") for name in left)


def test_all_mirrors_down_is_a_clear_error(tmp_path, monkeypatch):
    serve(monkeypatch, {}, failing_mirrors=fashion_mnist.MIRRORS)
    with pytest.raises(DownloadError, match=r"(?s)Could not download train-images-idx3-ubyte\.gz .*connection refused"):
        fashion_mnist.load_data(path=tmp_path)
    assert list(pathlib.Path(tmp_path).iterdir()) == []


def test_real_checksums_are_sha256_hex():
    for module in (mnist, fashion_mnist):
        assert sorted(module.CHECKSUMS) == sorted(FILES)
        assert all(len(value) == 64 and int(value, 16) >= 0 for value in module.CHECKSUMS.values())
