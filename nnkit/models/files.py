"""Files on disk: atomic writes that leave no litter, and safetensors files that know when they are damaged.

A safetensors file is an 8-byte little-endian header length, a JSON header (tensor names, dtypes, shapes,
byte ranges, and a ``__metadata__`` map of strings), then the raw tensor bytes. nnkit's files stay ordinary
safetensors files; the SHA-256 digests that let nnkit detect damage travel in the metadata (see
``file_digest``), where other readers ignore them.
"""
import json
import math
import os
import re
import secrets
import socket
import stat

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy
import safetensors
import safetensors.numpy

from . import file_digest

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"

# The safetensors dtypes NumPy can hold (those of safetensors.numpy), with their NumPy types.
NUMPY_DTYPES = {"F64": numpy.float64, "F32": numpy.float32, "F16": numpy.float16, "I64": numpy.int64,
                "U64": numpy.uint64, "I32": numpy.int32, "U32": numpy.uint32, "I16": numpy.int16,
                "U16": numpy.uint16, "I8": numpy.int8, "U8": numpy.uint8, "BOOL": numpy.bool_,
                "C64": numpy.complex64}


class WeightsFileError(ValueError):
    """A weights or model file is truncated, damaged, foreign, or does not fit the model it is loaded into."""


# ---- writing -----------------------------------------------------------------------------------------------
def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` so that a crash at any point leaves either the old file or the new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename is atomic), are
    flushed and fsync'ed, and only then replace ``path`` with ``os.replace``. The temporary file is named
    after ``path``, the machine and the writing process, so a later save or load of ``path`` can remove those
    a killed save left behind (``remove_stale_temporaries``). The file gets the permissions a plain
    ``open(path, "wb")`` would give it: those of the file it replaces, else those the umask allows.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(path)
    temporary = os.path.join(directory, _temporary_name(path))
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            _lock(stream.fileno())
            _keep_mode_of(path, temporary)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def _keep_mode_of(path, temporary):
    """Give ``temporary`` the permission bits of the file ``path`` it will replace, if there is one (a file the
    user made private stays so); a new file keeps those the umask left (``os.open`` with 0o666)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    os.chmod(temporary, mode)


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


# ---- temporaries -------------------------------------------------------------------------------------------
_TEMPORARY_SUFFIX = ".nnkit-tmp"


def _host():
    """This machine's name, in characters a file name can hold (it tells apart writers on a shared disk)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "localhost"


def _temporary_name(path):
    """``.<file name>.<pid>@<host>.<random>.nnkit-tmp``: recognisable as nnkit's temporary for ``path``."""
    return f".{os.path.basename(path)}.{os.getpid()}@{_host()}.{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}"


def remove_stale_temporaries(path):
    """Remove the temporary files that saves of ``path`` left behind when their process was killed.

    Only nnkit's temporaries for ``path`` written on this machine by a process that no longer runs are removed:
    a concurrent save (in this process or another) keeps its file, and so does a temporary from another
    machine sharing the directory, whose process cannot be looked up from here. Two witnesses must agree that
    the writer is gone: no process has the pid in the name, and the lock the writer holds on its file while
    writing can be taken (the kernel drops it when the writer dies, even by SIGKILL), which also keeps the
    file of a writer in another pid namespace (a container) that shares this machine's name. Best effort: a
    file that cannot be checked or removed (read-only directory, removed meanwhile by another cleaner) stays.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(rf"\.{re.escape(os.path.basename(path))}\.(\d+)@{re.escape(_host())}\.[0-9a-f]+"
                         + re.escape(_TEMPORARY_SUFFIX))
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        temporary = os.path.join(directory, name)
        if match and not _process_is_running(int(match[1])) and _unlocked(temporary):
            try:
                os.remove(temporary)
            except OSError:
                pass


def _process_is_running(pid):
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # Windows' os.kill would end the process: without a safe test, keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _lock(descriptor):
    """Hold an exclusive lock on the temporary while it is written (the sign of a live writer)."""
    if fcntl is not None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: the pid in the name is the only witness left


def _unlocked(temporary):
    """Whether no process holds the lock of a writer on ``temporary`` (True where there are no locks to ask)."""
    if fcntl is None:
        return True
    try:
        descriptor = os.open(temporary, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live writer holds it
    except OSError:
        return True  # a file system without locks: the pid in the name is the only witness
    finally:
        os.close(descriptor)
    return True


def write_safetensors(path, tensors, metadata):
    """``tensors`` (name -> NumPy array) and ``metadata`` (name -> str) to ``path``, atomically, with the digests
    ``read_safetensors`` verifies."""
    metadata = {**metadata, file_digest.METADATA_KEY: file_digest.record(tensors, metadata)}
    atomic_write(path, safetensors.numpy.save(tensors, metadata=metadata))


# ---- reading -----------------------------------------------------------------------------------------------
def read_bytes(path):
    """The whole file at ``path`` as bytes; a missing file is a FileNotFoundError naming it.

    Stale temporaries of killed saves of ``path`` are removed first (``remove_stale_temporaries``).
    """
    path = os.fspath(path)
    remove_stale_temporaries(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    with open(path, "rb") as stream:
        return stream.read()


def read_safetensors(path, data=None):
    """``(tensors, metadata)`` from a safetensors file, or a WeightsFileError saying why it cannot be read.

    The header is checked entry by entry (each tensor's dtype and shape must fill its byte range exactly, and
    the byte ranges must tile the data), and in a file written by nnkit the digests of every tensor and
    metadata entry must match: a damaged file is refused with the name of the damaged tensor or entry. Files
    written before nnkit stored digests, and safetensors files of other writers, are read without that check.
    The digest record itself is not part of the metadata returned.
    """
    data = read_bytes(path) if data is None else data
    header_size, header = _parse_header(path, data)
    metadata = _metadata(path, header.pop("__metadata__", None))
    _check_tensor_table(path, header, available=len(data) - 8 - header_size)
    try:
        tensors = safetensors.numpy.load(data)
    except safetensors.SafetensorError as error:
        raise WeightsFileError(f"'{path}' is not a valid safetensors file: {error}") from None
    problems = file_digest.problems(tensors, metadata)
    if problems:
        raise WeightsFileError(f"'{path}' is damaged: " + "; ".join(problems) + ". Use an intact copy.")
    metadata.pop(file_digest.METADATA_KEY, None)
    return tensors, metadata


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
        header = json.loads(data[8:8 + header_size], object_pairs_hook=_refuse_duplicate_names)
    except (ValueError, RecursionError) as error:
        raise WeightsFileError(f"'{path}' is not a safetensors file, or its header is damaged: the header is not "
                               f"valid JSON ({error}).") from None
    if not isinstance(header, dict):
        raise WeightsFileError(f"'{path}' is not a safetensors file, or its header is damaged: the header is "
                               f"{_shown(header)}, not a table of tensors.")
    return header_size, header


def _refuse_duplicate_names(pairs):
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"the name {repeated[0]!r} appears twice in one table")
    return dict(pairs)


def _metadata(path, metadata):
    """The header's ``__metadata__``: a table of strings (absent or null in files without metadata)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise WeightsFileError(f"'{path}' has a damaged header: its __metadata__ must be a table of strings, "
                               f"but it is {_shown(metadata)}.")
    return metadata


def _check_tensor_table(path, header, available):
    """Each entry a table with a known dtype, a shape and a byte range that fit each other; the byte ranges tile
    the ``available`` data bytes exactly (no overlap, no gap, nothing missing or left over)."""
    ranges = []
    for name, entry in header.items():
        begin, end = _check_entry(path, name, entry)
        ranges.append((begin, end, name))
    ranges.sort()
    declared_end = max((end for _, end, _ in ranges), default=0)
    if declared_end > available:
        raise WeightsFileError(f"'{path}' is truncated: its header declares {declared_end} bytes of tensor data, "
                               f"but only {available} follow. The file was cut short (an interrupted copy or "
                               f"download?); use an intact copy.")
    position, previous = 0, None
    for begin, end, name in ranges:
        if begin < position:
            raise WeightsFileError(f"'{path}' has a damaged header: the byte ranges of tensors '{previous}' and "
                                   f"'{name}' overlap (bytes {begin} to {position}).")
        if begin > position:
            raise WeightsFileError(f"'{path}' has a damaged header: bytes {position} to {begin} of its tensor data "
                                   f"belong to no tensor (before '{name}').")
        position, previous = end, name
    if position < available:
        raise WeightsFileError(f"'{path}' has {available - position} bytes after its last tensor that its header "
                               f"does not account for (a damaged header, or data appended to the file).")


def _check_entry(path, name, entry):
    """``(begin, end)`` of one tensor entry, after checking its keys, dtype, shape and byte range."""
    where = f"'{path}' has a damaged header: tensor '{name}'"
    if not isinstance(entry, dict):
        raise WeightsFileError(f"{where} is described by {_shown(entry)}, not a table of dtype, shape and "
                               f"data_offsets.")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in entry]
    if missing:
        raise WeightsFileError(f"{where} has no {' or '.join(missing)}.")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in NUMPY_DTYPES:
        raise WeightsFileError(f"{where} has dtype {dtype!r}; expected one NumPy can hold: "
                               f"{', '.join(NUMPY_DTYPES)}.")
    if not _is_list_of_naturals(shape):
        raise WeightsFileError(f"{where} has shape {shape!r}; expected a list of non-negative integers.")
    if not (_is_list_of_naturals(offsets) and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise WeightsFileError(f"{where} has data_offsets {offsets!r}; expected [begin, end], two integers with "
                               f"0 <= begin <= end.")
    size = math.prod(shape) * numpy.dtype(NUMPY_DTYPES[dtype]).itemsize
    if size != offsets[1] - offsets[0]:
        raise WeightsFileError(f"{where} is declared {dtype} of shape {tuple(shape)} ({size} bytes), but its byte "
                               f"range {offsets} holds {offsets[1] - offsets[0]}: its dtype, shape or offsets "
                               f"were altered.")
    return offsets[0], offsets[1]


def _is_list_of_naturals(value):
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value)


def _shown(value):
    """``value`` as JSON, cut to a length an error message can hold."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
