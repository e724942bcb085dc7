"""Where data sets live on disk, and fetching their files once: the URLs tried in turn, a progress bar, and a
hash check (SHA-256, or MD5 where that is all Keras publishes) before the file is moved into place (a partial or
corrupt download never appears under the final name). ``nnkit.utils.get_file`` and every loader download here."""
import hashlib
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request

from .idx import IDXFormatError, read_idx

TIMEOUT_S = 60
_CHUNK = 1 << 16
#: The four files of an MNIST-style data set, in Keras' order of the splits.
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
HASH_ALGORITHMS = ("auto", "sha256", "md5")


class DownloadError(OSError):
    """No URL delivered a file with the expected digest."""


def datasets_root():
    """``$NNKIT_DATA_DIR`` if set, else ``~/.nnkit/datasets``: the folder that holds one folder per data set."""
    root = os.environ.get("NNKIT_DATA_DIR")
    return pathlib.Path(root).expanduser() if root else pathlib.Path.home() / ".nnkit" / "datasets"


def data_directory(name, path=None):
    """``path`` if given, else ``$NNKIT_DATA_DIR/<name>``, else ``~/.nnkit/datasets/<name>``."""
    if path is not None:
        return pathlib.Path(path).expanduser()
    return datasets_root() / name


def dataset_file(name, path, url, file_hash):
    """The file a loader reads, downloaded from ``url`` (checked against ``file_hash``) when it is missing.

    ``path`` is a file name, kept in ``data_directory(name)`` (``$NNKIT_DATA_DIR/<name>/<path>``), or a path with
    a folder part, used as it is. A file already there is read as it is (the loader checks its contents).
    """
    given = os.fspath(path)
    location = pathlib.Path(given).expanduser() if os.path.dirname(given) else data_directory(name) / given
    if not location.exists():
        download([url], location, file_hash)
    return location


def new_hasher(hash_algorithm, file_hash=None):
    """A hashlib object for ``hash_algorithm`` as Keras picks it: ``"sha256"``, ``"md5"``, or ``"auto"`` (SHA-256
    for a 64-digit ``file_hash``, else MD5)."""
    if hash_algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"hash_algorithm must be one of {', '.join(map(repr, HASH_ALGORITHMS))}. Received: "
                         f"hash_algorithm={hash_algorithm!r}")
    if hash_algorithm == "sha256" or (hash_algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(path, hash_algorithm="sha256", file_hash=None):
    """The hex digest of the file at ``path`` (``hash_algorithm`` resolved as ``new_hasher`` does)."""
    hasher = new_hasher(hash_algorithm, file_hash)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def open_url(url):
    """The response for ``url`` (http, https or file; a seam the tests replace so they never touch the network)."""
    return urllib.request.urlopen(url, timeout=TIMEOUT_S)


def fetch(filename, mirrors, sha256, directory, progress=True):
    """Download ``filename`` into ``directory`` from the first mirror that serves it with digest ``sha256``."""
    urls = [mirror.rstrip("/") + "/" + filename for mirror in mirrors]
    return download(urls, pathlib.Path(directory) / filename, sha256, "sha256", progress)


def download(urls, target, file_hash=None, hash_algorithm="auto", progress=True):
    """Download ``target`` from the first of ``urls`` that delivers it (with the digest ``file_hash`` when given).

    The file is written beside ``target`` under a temporary name and renamed into place only when complete and
    checked. A progress bar goes to stderr unless ``progress`` is False. Raises DownloadError listing every URL
    tried and why it failed.
    """
    target = pathlib.Path(target)
    hasher_name = new_hasher(hash_algorithm, file_hash).name  # checks hash_algorithm before any download
    label = {"sha256": "SHA-256", "md5": "MD5"}[hasher_name]
    target.parent.mkdir(parents=True, exist_ok=True)
    progress = sys.stderr if progress else None
    failures = []
    for url in urls:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                digest = _copy_with_progress(url, out, target.name, hashlib.new(hasher_name), progress)
            if file_hash is not None and digest != file_hash:
                failures.append(f"{url}: {label} {digest} does not match the expected {file_hash}")
                continue
            os.replace(temporary, target)  # atomic: the file appears whole or not at all
            return target
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {error}")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    raise DownloadError(f"Could not download {target.name} into {target.parent}:\n  " + "\n  ".join(failures) +
                        f"\nDownload it yourself into {target.parent} (any of the URLs above) and load again.")


def _copy_with_progress(url, out, filename, hasher, progress):
    with open_url(url) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            hasher.update(chunk)
            done += len(chunk)
            _show(progress, filename, done, total)
    if progress is not None:
        progress.write("\n")
    return hasher.hexdigest()


def _show(progress, filename, done, total):
    if progress is None:
        return
    if total:
        filled = int(30 * done / total)
        bar = f"[{'=' * filled}{'.' * (30 - filled)}] {100 * done / total:5.1f}%"
    else:
        bar = "[size unknown]"
    progress.write(f"\rDownloading {filename} {bar} {done / 1e6:.1f} MB")
    progress.flush()


def load_idx_dataset(name, mirrors, checksums, path=None):
    """``((x_train, y_train), (x_test, y_test))`` from the four IDX files of data set ``name``.

    Files already in the data directory are read as they are (their headers are checked); missing ones are
    downloaded first.
    """
    directory = data_directory(name, path)
    for filename in IDX_FILES:
        if not (directory / filename).exists():
            fetch(filename, mirrors, checksums[filename], directory)
    x_train, y_train, x_test, y_test = (read_idx(directory / filename) for filename in IDX_FILES)
    return (_split(directory, "train", x_train, y_train), _split(directory, "t10k", x_test, y_test))


def _split(directory, prefix, images, labels):
    images_file = directory / f"{prefix}-images-idx3-ubyte.gz"
    labels_file = directory / f"{prefix}-labels-idx1-ubyte.gz"
    if images.ndim != 3 or images.dtype != "uint8":
        raise IDXFormatError(f"{images_file}: expected uint8 images (N, rows, columns), found {images.dtype} "
                             f"of shape {images.shape}.")
    if labels.ndim != 1 or labels.dtype != "uint8":
        raise IDXFormatError(f"{labels_file}: expected uint8 labels (N,), found {labels.dtype} of shape "
                             f"{labels.shape}.")
    if len(images) != len(labels):
        raise IDXFormatError(f"{images_file} holds {len(images)} images but {labels_file} holds {len(labels)} "
                             f"labels.")
    return images, labels
