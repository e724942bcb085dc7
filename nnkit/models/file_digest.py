"""SHA-256 digests of a safetensors file's tensors and metadata, so a damaged file is refused, not loaded.

nnkit stores one digest per tensor and one per metadata entry (the model's config is one) in the metadata
entry ``"nnkit_sha256"``, as JSON: ``{"tensors": {name: hex digest}, "metadata": {key: hex digest}}``.
One digest per tensor rather than one over all the data, so the error can say which tensor is damaged; it costs
the same hashing, and comparing the sets of names also catches a tensor added, removed or renamed. A tensor's
digest covers its dtype and shape as well as its bytes, so a header edit that reinterprets the bytes (an F32
tensor declared I32, a (4, 3) kernel declared (3, 4)) is detected like a flipped data byte.

These digests detect damage (bad disks, cut or altered copies), not tampering: anyone can rewrite a file and
its digests, or strip them, since a file without digests is read as one written before they existed.
"""
import hashlib
import json

import numpy

METADATA_KEY = "nnkit_sha256"
# The metadata keys of nnkit files written before they carried digests (nnkit_version marks an nnkit file).
_KEYS_BEFORE_DIGESTS = {"format", "nnkit_version", "config"}


def tensor_digest(array):
    """Hex SHA-256 of a tensor as safetensors stores it: its dtype, its shape and its little-endian bytes."""
    array = numpy.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    digest = hashlib.sha256(json.dumps([array.dtype.str, list(array.shape)]).encode())
    digest.update(array)
    return digest.hexdigest()


def text_digest(text):
    """Hex SHA-256 of a metadata string, UTF-8 encoded."""
    return hashlib.sha256(text.encode()).hexdigest()


def record(tensors, metadata):
    """The JSON text stored under ``METADATA_KEY`` for ``tensors`` (name -> array) and ``metadata`` (name -> str)."""
    return json.dumps({"tensors": {name: tensor_digest(value) for name, value in tensors.items()},
                       "metadata": {key: text_digest(value) for key, value in metadata.items()}})


def problems(tensors, metadata):
    """What is wrong with a file's ``tensors`` and ``metadata`` (as read, digest record included) against its
    digest record: a list of sentences, empty when every digest matches."""
    if METADATA_KEY not in metadata:
        return _problems_without_digests(metadata)
    try:
        stored = json.loads(metadata[METADATA_KEY])
        stored_tensors, stored_metadata = stored["tensors"], stored["metadata"]
        if not (_is_table_of_strings(stored_tensors) and _is_table_of_strings(stored_metadata)):
            raise ValueError("not two tables of digests")
    except (ValueError, TypeError, KeyError) as error:
        return [f"its digest record (metadata entry '{METADATA_KEY}') is damaged ({error})"]
    found_metadata = {key: value for key, value in metadata.items() if key != METADATA_KEY}
    return (_compare("tensors", stored_tensors, tensors, tensor_digest)
            + _compare("metadata entries", stored_metadata, found_metadata, text_digest))


def _compare(kinds, stored, found, digest):
    found_problems = []
    missing = sorted(set(stored) - set(found))
    unexpected = sorted(set(found) - set(stored))
    if missing:
        found_problems.append(f"{kinds} {missing} were written but are not in the file")
    if unexpected:
        found_problems.append(f"{kinds} {unexpected} are in the file but were not written with it")
    damaged = [name for name in found if name in stored and digest(found[name]) != stored[name]]
    if damaged:
        found_problems.append(f"the {kinds} {damaged} do not match their SHA-256 digests (damaged data, or a "
                              f"header edit of their dtype, shape or byte range)")
    return found_problems


def _problems_without_digests(metadata):
    """A file without digests is one written before they existed, or by another program; but an nnkit file
    with metadata nnkit never wrote without digests had its digest entry's name damaged."""
    unknown = sorted(set(metadata) - _KEYS_BEFORE_DIGESTS)
    if "nnkit_version" in metadata and unknown:
        return [f"its metadata has entries {unknown}, which nnkit files without a digest record never have "
                f"(a damaged '{METADATA_KEY}' entry?)"]
    return []


def _is_table_of_strings(value):
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())
