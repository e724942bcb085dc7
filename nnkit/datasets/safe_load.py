"""Reading Keras' data files without running code from them.

IMDB's and Reuters' ``.npz`` files hold ragged sequences as object arrays, and CIFAR's batches are Python
pickles of dicts holding NumPy arrays: both need ``pickle``. A pickle may name any importable function to call, so
these files are read with an unpickler that rebuilds NumPy arrays and plain Python values (dicts, lists, bytes,
numbers) and refuses every other global, as Keras 3 does (``keras/src/datasets/npz_utils.py``).
"""
import io
import pickle
import zipfile

import numpy

try:  # NumPy 2 moved the array rebuilder; files written by either NumPy name one of the two modules
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

#: The only globals a pickled array needs, by the (module, name) the pickle gives.
_ALLOWED_GLOBALS = {("numpy", "ndarray"): numpy.ndarray, ("numpy", "dtype"): numpy.dtype,
                    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
                    ("numpy._core.multiarray", "_reconstruct"): _reconstruct}


class DatasetFileError(ValueError):
    """A data set file is damaged, of the wrong format, or asks to run code while it is read."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[module, name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays and plain Python values "
                                     f"may appear in a data set file")


def unpickle(content, source, encoding="ASCII"):
    """The value pickled in bytes ``content``, rebuilding only NumPy arrays and plain Python values.

    Args:
        content: the pickle's bytes.
        source: what to call the file in errors (a path, or ``archive:member``).
        encoding: how Python 2 strings are read (``"bytes"`` keeps them as bytes, as Keras reads CIFAR).

    Raises:
        DatasetFileError: naming ``source``, when the pickle is damaged or names any other global.
    """
    try:
        return _ArraysOnlyUnpickler(io.BytesIO(content), encoding=encoding).load()
    except Exception as error:  # a damaged pickle can fail in many ways; each one means the same to the user
        raise DatasetFileError(f"{source}: cannot be read as a pickled data set file ({error}).") from error


def load_npz(path, keys):
    """The arrays ``keys`` of the ``.npz`` file at ``path``, as a dict. Numeric arrays are read with pickling
    off; object arrays (ragged sequences) through ``unpickle``.

    Raises:
        DatasetFileError: naming the file, when it is not a readable ``.npz`` file or lacks one of ``keys``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            found = {name[:-len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
            missing = [key for key in keys if key not in found]
            if missing:
                raise DatasetFileError(f"{path}: expected the arrays {list(keys)} in this .npz file, but "
                                       f"{missing} are missing (it holds {sorted(found)}).")
            return {key: _read_npy(archive.read(key + ".npy"), f"{path}:{key}.npy") for key in keys}
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DatasetFileError(f"{path}: cannot be read as an .npz file ({error}).") from error


def _read_npy(content, source):
    handle = io.BytesIO(content)
    try:
        version = numpy.lib.format.read_magic(handle)
        # format 3.0 differs from 2.0 only in the header's text encoding (UTF-8 for latin-1)
        read_header = numpy.lib.format.read_array_header_1_0 if version == (1, 0) else \
            numpy.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle)
        if not dtype.hasobject:
            handle.seek(0)
            return numpy.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:
        raise DatasetFileError(f"{source}: not a valid .npy array ({error}).") from error
    array = unpickle(content[handle.tell():], source, encoding="latin1")
    if not isinstance(array, numpy.ndarray) or array.shape != shape:
        raise DatasetFileError(f"{source}: the header says an array of shape {shape}, but the data is not one.")
    return array
