"""Reading the CIFAR batches (Krizhevsky 2009): Python pickles of ``{b"data": uint8 (N, 3072), b"labels": [...]}``
(``b"fine_labels"`` / ``b"coarse_labels"`` in CIFAR-100), read straight from the downloaded ``.tar.gz`` (nothing is
extracted) or from a folder of extracted batches (Keras' cache, say). The pickles are read by
``safe_load.unpickle``, which rebuilds NumPy arrays and plain values only."""
import os
import pathlib
import tarfile

import numpy

from .download import data_directory, download
from .safe_load import DatasetFileError, unpickle


def locate(name, path, url, file_hash):
    """The archive or folder to read: ``path`` as given when it exists (a ``.tar.gz`` or a folder of batches),
    else the archive in ``data_directory(name)``, downloaded there when missing."""
    if path is not None:
        location = pathlib.Path(path).expanduser()
        if not location.exists():
            raise FileNotFoundError(f"{name}: path={os.fspath(path)!r} does not exist; give the downloaded "
                                    f"{url.rsplit('/', 1)[1]} or a folder of its extracted batches.")
        return location
    location = data_directory(name) / url.rsplit("/", 1)[1]
    if not location.exists():
        download([url], location, file_hash)
    return location


def read_batches(location, folder, members, label_key):
    """``[(images, labels)]`` of each batch in ``members``: images uint8 ``(N, 32, 32, 3)`` (channels last),
    labels as the file lists them. ``location`` is the archive (its batches sit in ``folder``) or a folder
    holding the batches (directly, or in ``folder``)."""
    if location.is_dir():
        inner = location / folder if (location / folder).is_dir() else location
        contents = {member: _read_file(inner / member) for member in members}
    else:
        contents = _read_archive(location, folder, members)
    return [_decode(contents[member], f"{location}:{member}", label_key) for member in members]


def _read_file(path):
    try:
        return path.read_bytes()
    except OSError as error:
        raise DatasetFileError(f"{path}: cannot read this CIFAR batch ({error}).") from error


def _read_archive(location, folder, members):
    try:
        with tarfile.open(location, "r:*") as archive:
            names = set(archive.getnames())
            missing = [member for member in members if f"{folder}/{member}" not in names]
            if missing:
                raise DatasetFileError(f"{location}: expected the CIFAR batches {missing} in {folder}/ inside this "
                                       f"archive.")
            return {member: archive.extractfile(f"{folder}/{member}").read() for member in members}
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetFileError(f"{location}: cannot be read as the CIFAR .tar.gz archive ({error}).") from error


def _decode(content, source, label_key):
    batch = unpickle(content, source, encoding="bytes")
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(label_key.encode()) if isinstance(batch, dict) else None
    if not isinstance(data, numpy.ndarray) or data.dtype != numpy.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetFileError(f"{source}: expected a dict with b'data', uint8 images of shape (N, 3072); found "
                               f"{type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}.")
    if labels is None or len(labels) != len(data):
        raise DatasetFileError(f"{source}: expected {len(data)} labels under {label_key.encode()!r}; found "
                               f"{'none' if labels is None else len(labels)}.")
    return data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1), labels
