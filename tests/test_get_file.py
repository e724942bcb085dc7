"""nnkit.utils.get_file as Keras 3's: cache folders, hash checks (SHA-256 and MD5), re-download of a damaged cached
file, tar / zip extraction with Keras' folder names and unsafe members refused; origins are file:// URLs and a
local http.server (no network)."""
import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest

from nnkit.datasets import DownloadError
from nnkit.utils import get_file

CONTENT = b"some bytes worth caching\n" * 100


@pytest.fixture
def origin(tmp_path):
    source = tmp_path / "served" / "notes.txt"
    source.parent.mkdir()
    source.write_bytes(CONTENT)
    return source.as_uri()


def test_downloads_into_cache_dir_and_subdir(tmp_path, origin):
    path = get_file(origin=origin, cache_dir=tmp_path / "cache")
    assert path == str(tmp_path / "cache" / "datasets" / "notes.txt")
    assert open(path, "rb").read() == CONTENT
    assert get_file("renamed.txt", origin, cache_dir=tmp_path / "cache", cache_subdir="files") == \
        str(tmp_path / "cache" / "files" / "renamed.txt")
    absolute = tmp_path / "elsewhere"
    assert get_file(origin=origin, cache_dir=tmp_path / "cache", cache_subdir=str(absolute)) == \
        str(absolute / "notes.txt")


def test_default_cache_is_nnkit_data_dir_for_datasets_else_home(tmp_path, monkeypatch, origin):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_file(origin=origin) == str(tmp_path / "data" / "notes.txt")
    assert get_file(origin=origin, cache_subdir="models") == str(tmp_path / "home" / ".nnkit" / "models" / "notes.txt")
    monkeypatch.delenv("NNKIT_DATA_DIR")
    assert get_file(origin=origin) == str(tmp_path / "home" / ".nnkit" / "datasets" / "notes.txt")


@pytest.mark.parametrize("algorithm, digest", [("auto", hashlib.sha256(CONTENT).hexdigest()),
                                               ("sha256", hashlib.sha256(CONTENT).hexdigest()),
                                               ("auto", hashlib.md5(CONTENT).hexdigest()),
                                               ("md5", hashlib.md5(CONTENT).hexdigest())])
def test_hash_is_checked(tmp_path, origin, algorithm, digest):
    path = get_file(origin=origin, file_hash=digest, hash_algorithm=algorithm, cache_dir=tmp_path)
    assert open(path, "rb").read() == CONTENT


def test_wrong_hash_is_an_error_and_nothing_is_left(tmp_path, origin):
    with pytest.raises(DownloadError, match=r"notes\.txt.*SHA-256 [0-9a-f]{64} does not match the expected 0{64}"):
        get_file(origin=origin, file_hash="0" * 64, cache_dir=tmp_path)
    assert os.listdir(tmp_path / "datasets") == []
    with pytest.raises(DownloadError, match=r"MD5 [0-9a-f]{32} does not match the expected 0{32}"):
        get_file(origin=origin, file_hash="0" * 32, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"hash_algorithm must be one of 'auto', 'sha256', 'md5'. Received: "
                                         r"hash_algorithm='sha1'"):
        get_file(origin=origin, file_hash="0" * 40, hash_algorithm="sha1", cache_dir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_cached_file_is_kept_unless_its_hash_differs_or_forced(tmp_path, origin, capsys):
    path = get_file(origin=origin, cache_dir=tmp_path)
    with open(path, "wb") as handle:
        handle.write(b"edited")
    assert open(get_file(origin=origin, cache_dir=tmp_path), "rb").read() == b"edited"  # no hash: cache wins
    good = hashlib.sha256(CONTENT).hexdigest()
    assert open(get_file(origin=origin, file_hash=good, cache_dir=tmp_path), "rb").read() == CONTENT
    assert "hash does not match the original value" in capsys.readouterr().out
    with open(path, "wb") as handle:
        handle.write(b"edited")
    assert open(get_file(origin=origin, cache_dir=tmp_path, force_download=True), "rb").read() == CONTENT


def test_bad_arguments(tmp_path, origin):
    with pytest.raises(ValueError, match='Please specify the "origin" argument'):
        get_file("x.txt")
    with pytest.raises(ValueError, match=r"Paths are not accepted as the `fname` argument.*fname=a/b\.txt"):
        get_file("a/b.txt", origin, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="Can't parse the file name from the origin provided: 'http://host/'"):
        get_file(origin="http://host/", cache_dir=tmp_path)
    with pytest.raises(DownloadError, match=r"(?s)Could not download missing\.txt.*missing\.txt"):
        get_file(origin=(tmp_path / "missing.txt").as_uri(), cache_dir=tmp_path)


def make_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def test_tar_extracts_into_keras_folder_names(tmp_path):
    make_tar(tmp_path / "photos.tgz", {"photos/a.txt": b"A", "photos/sub/b.txt": b"B"})
    origin = (tmp_path / "photos.tgz").as_uri()
    folder = get_file(origin=origin, extract=True, cache_dir=tmp_path / "c")  # no fname: <name> and <name>_archive
    assert folder == str(tmp_path / "c" / "datasets" / "photos.tgz")
    assert open(os.path.join(folder, "photos", "sub", "b.txt")).read() == "B"
    assert os.path.isfile(tmp_path / "c" / "datasets" / "photos.tgz_archive")
    folder = get_file("flowers", origin, extract=True, cache_dir=tmp_path / "c")  # fname without extension
    assert folder == str(tmp_path / "c" / "datasets" / "flowers")
    assert os.path.isfile(tmp_path / "c" / "datasets" / "flowers_archive")
    folder = get_file("pics.tar.gz", origin, extract=True, cache_dir=tmp_path / "c")  # fname with extension
    assert folder == str(tmp_path / "c" / "datasets" / "pics_extracted")
    assert open(os.path.join(folder, "photos", "a.txt")).read() == "A"
    assert sorted(os.listdir(tmp_path / "c" / "datasets")) == ["flowers", "flowers_archive", "photos.tgz",
                                                               "photos.tgz_archive", "pics.tar.gz", "pics_extracted"]


def test_zip_extracts(tmp_path):
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("bundle/x.txt", "X")
    folder = get_file("bundle.zip", (tmp_path / "bundle.zip").as_uri(), extract=True, cache_dir=tmp_path)
    assert open(os.path.join(folder, "bundle", "x.txt")).read() == "X"


def test_unsafe_tar_members_and_non_archives_are_refused(tmp_path):
    make_tar(tmp_path / "evil.tar", {"../escaped.txt": b"no"}, mode="w")
    with pytest.raises(ValueError, match=r"evil\.tar: refused to extract a member outside"):
        get_file("evil.tar", (tmp_path / "evil.tar").as_uri(), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "escaped.txt").exists() and not (tmp_path / "c" / "datasets" / "evil_extracted").exists()
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(ValueError, match=r"plain\.txt: cannot extract it: it is neither a tar"):
        get_file("plain.txt", (tmp_path / "plain.txt").as_uri(), extract=True, cache_dir=tmp_path / "c")


def test_http_origin(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "page.bin").write_bytes(CONTENT)
    handler = functools.partial(QuietHandler, directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/page.bin"
        path = get_file(origin=url, file_hash=hashlib.sha256(CONTENT).hexdigest(), cache_dir=tmp_path / "c")
        assert open(path, "rb").read() == CONTENT
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
