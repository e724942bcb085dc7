"""Reader for the IDX format of the MNIST files (Y. LeCun): a big-endian header, then raw values.

Header: two zero bytes, a type code, the number of dimensions D, then D big-endian int32 sizes.
"""
import gzip
import os

import numpy

_TYPES = {0x08: numpy.uint8, 0x09: numpy.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXFormatError(ValueError):
    """A file is not a valid IDX file (wrong magic number, dimensions or length)."""


def read_idx(path):
    """The array stored in an IDX file (``.gz`` compressed or not); IDXFormatError names the file if bad."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:  # gzip raises these for truncated or non-gzip files
        raise IDXFormatError(f"{path}: cannot be read as {'gzip-compressed ' if path.endswith('.gz') else ''}"
                             f"IDX data ({error}).") from error
    return parse_idx(content, path)


def parse_idx(content, path="<bytes>"):
    """The array held in IDX bytes ``content``, in native byte order; ``path`` names the source in the
    IDXFormatError raised for a bad magic number, a truncated header or a wrong length.
    """
    if len(content) < 4:
        raise IDXFormatError(f"{path}: {len(content)} bytes is too short for an IDX header.")
    zero_1, zero_2, type_code, ndim = content[:4]
    if zero_1 or zero_2 or type_code not in _TYPES or ndim == 0:
        raise IDXFormatError(f"{path}: bad IDX magic number 0x{content[:4].hex()} (expected 0x000008DD with a known "
                             f"type code and at least one dimension, e.g. 0x00000803 for images).")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IDXFormatError(f"{path}: truncated header ({len(content)} bytes, {ndim} dimensions need {header_size}).")
    shape = tuple(int(d) for d in numpy.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = numpy.dtype(_TYPES[type_code])
    expected = header_size + int(numpy.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise IDXFormatError(f"{path}: header says shape {shape} ({expected} bytes in all) but the file has "
                             f"{len(content)} bytes; it is {'truncated' if len(content) < expected else 'too long'}.")
    data = numpy.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    array = numpy.asarray(array)
    codes = {numpy.dtype(v).newbyteorder(">") if numpy.dtype(v).itemsize > 1 else numpy.dtype(v): k
             for k, v in _TYPES.items()}
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big_endian not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}.")
    header = bytes([0, 0, codes[big_endian], array.ndim]) + numpy.asarray(array.shape, dtype=">u4").tobytes()
    content = header + array.astype(big_endian).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(content)
