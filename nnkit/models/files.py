"""Files on disk: atomic writes, and reading safetensors with errors that say what is wrong with the file.

A safetensors file is an 8-byte little-endian header length, a JSON header (tensor names, dtypes, shapes,
byte ranges, and a ``__metadata__`` map of strings), then the raw tensor bytes.
"""
import json
import os
import tempfile

import safetensors
import safetensors.numpy

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


class WeightsFileError(ValueError):
    """A weights or model file is truncated, foreign, or does not fit the model it is loaded into."""


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` so that a crash at any point leaves either the old file or the new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename is atomic), are
    flushed and fsync'ed, and only then replace ``path`` with ``os.replace``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_safetensors(path, tensors, metadata):
    """``tensors`` (name -> NumPy array) and ``metadata`` (name -> str) to ``path``, atomically."""
    atomic_write(path, safetensors.numpy.save(tensors, metadata=metadata))


def read_bytes(path):
    """The whole file at ``path`` as bytes; a missing file is a FileNotFoundError naming it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    with open(path, "rb") as stream:
        return stream.read()


def read_safetensors(path, data=None):
    """``(tensors, metadata)`` from a safetensors file, or a WeightsFileError saying why it cannot be read."""
    data = read_bytes(path) if data is None else data
    header_size, header = _parse_header(path, data)
    declared_end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
                       default=0)
    available = len(data) - 8 - header_size
    if available < declared_end:
        raise WeightsFileError(f"'{path}' is truncated: its header declares {declared_end} bytes of tensor data, "
                               f"but only {available} follow. The file was cut short (an interrupted copy or "
                               f"download?); use an intact copy.")
    try:
        tensors = safetensors.numpy.load(data)
    except safetensors.SafetensorError as error:
        raise WeightsFileError(f"'{path}' is not a valid safetensors file: {error}") from None
    return tensors, dict(header.get("__metadata__") or {})


def _parse_header(path, data):
    if len(data) < 8:
        raise WeightsFileError(f"'{path}' is {len(data)} bytes long: too short to be a safetensors file "
                               f"(truncated or empty).")
    header_size = int.from_bytes(data[:8], "little")
    if data[8:9] != b"{":
        raise WeightsFileError(f"'{path}' is not a safetensors file (nor a Keras .weights.h5 file): it starts "
                               f"with {data[:12]!r}.")
    if header_size > len(data) - 8:
        raise WeightsFileError(f"'{path}' is truncated: its safetensors header declares {header_size} bytes, "
                               f"but the file holds only {len(data) - 8} after the length field.")
    try:
        header = json.loads(data[8:8 + header_size])
        if not isinstance(header, dict) or not all(
                key == "__metadata__" or "data_offsets" in entry for key, entry in header.items()):
            raise ValueError("unexpected header layout")
    except (ValueError, TypeError, AttributeError) as error:
        raise WeightsFileError(f"'{path}' is not a safetensors file: its header is not a tensor table "
                               f"({error}).") from None
    return header_size, header
