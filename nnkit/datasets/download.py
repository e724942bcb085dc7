"""Where data sets live on disk, and fetching their files once: public mirrors tried in turn, a progress
bar, and a SHA-256 check before the file is moved into place (a partial or corrupt download never appears
under the final name)."""
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


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256 digest."""


def data_directory(name, path=None):
    """``path`` if given, else ``$NNKIT_DATA_DIR/<name>``, else ``~/.nnkit/datasets/<name>``."""
    if path is not None:
        return pathlib.Path(path).expanduser()
    root = os.environ.get("NNKIT_DATA_DIR")
    if root:
        return pathlib.Path(root).expanduser() / name
    return pathlib.Path.home() / ".nnkit" / "datasets" / name


def open_url(url):
    """The HTTP response for ``url`` (a seam the tests replace; they never touch the network)."""
    return urllib.request.urlopen(url, timeout=TIMEOUT_S)


def fetch(filename, mirrors, sha256, directory, progress=True):
    """Download ``filename`` into ``directory`` from the first mirror that serves it with digest ``sha256``.

    A progress bar goes to stderr unless ``progress`` is False.
    """
    progress = sys.stderr if progress else None
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        handle, temporary = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                digest = _copy_with_progress(url, out, filename, progress)
            if digest != sha256:
                failures.append(f"{url}: SHA-256 {digest} does not match the expected {sha256}")
                continue
            os.replace(temporary, directory / filename)  # atomic: the file appears whole or not at all
            return directory / filename
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {error}")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    raise DownloadError(f"Could not download {filename} into {directory}:\n  " + "\n  ".join(failures) +
                        f"\nDownload it yourself into {directory} (any of the URLs above) and load again.")


def _copy_with_progress(url, out, filename, progress):
    digest = hashlib.sha256()
    with open_url(url) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            _show(progress, filename, done, total)
    if progress is not None:
        progress.write("\n")
    return digest.hexdigest()


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
