"""Checking and moving the arrays handed to fit / evaluate / predict."""
import numpy

from .. import backend
from .._shapes import format_shape


#: fit keeps a data set on the GPU while it takes at most this fraction of the free device memory;
#: a larger one stays on the host and is copied over batch by batch.
DEVICE_FRACTION = 0.5


def fits_on_device(*arrays):
    """Whether these arrays (host or device; None ignored), in floatx, should be moved to the device whole."""
    free = backend.free_device_bytes()
    if free is None or any(backend.is_device_array(a) for a in arrays if a is not None):
        return True
    needed = sum(numpy.size(a) * backend.floatx().itemsize for a in arrays if a is not None)
    return needed <= DEVICE_FRACTION * free


def as_input_array(x, input_shape, what="x", on_device=True, takes_text=False):
    """``x`` in floatx, checked against the model's input shape (batch axis None); on the backend's device,
    or kept on the host (``on_device=False``) for batch-by-batch copies. Strings, where the input ``takes_text``,
    stay on the host as they are."""
    if x is None:
        raise ValueError(f"{what} is None: expected an array of shape {input_shape}.")
    array = x if backend.is_device_array(x) else numpy.asarray(x)
    text = takes_text and array.dtype.kind in "USO"
    if array.dtype.kind not in "biuf" and not text:
        hint = (" Strings need an input read by a layer that takes text (TextVectorization, StringLookup, Hashing)."
                if array.dtype.kind in "USO" else "")
        raise TypeError(f"{what} must hold numbers; received dtype {array.dtype}.{hint}")
    if input_shape is not None:
        expected = tuple(input_shape[1:])
        received = tuple(array.shape[1:])
        if len(expected) != len(received) or any(e is not None and e != r for e, r in zip(expected, received)):
            raise ValueError(f"The model expects input of shape {format_shape(input_shape)}, but {what} has shape "
                             f"{tuple(array.shape)}.")
    if text:
        return array
    check_finite(array, what)
    if on_device:
        return backend.to_device(array, dtype=backend.floatx())
    return backend.to_host(array).astype(backend.floatx(), copy=False)


def as_target_array(y, loss, output_shape, num_samples, what="y", on_device=True):
    """``y`` checked against the loss and the number of samples; on the device unless ``on_device=False``."""
    array = y if backend.is_device_array(y) else numpy.asarray(y)
    if array.ndim == 0 or len(array) != num_samples:
        received = "a scalar" if array.ndim == 0 else f"{len(array)} samples"
        raise ValueError(f"x and {what} must have the same number of samples: x has {num_samples}, "
                         f"{what} has {received}.")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers; received dtype {array.dtype}.")
    check_finite(array, what)
    placed = backend.to_device(array) if on_device else backend.to_host(array)
    loss.validate_targets(placed, output_shape)
    if "sparse" not in loss.name:
        placed = placed.astype(backend.floatx(), copy=False)
    return placed


def check_finite(array, what):
    """Raise a ValueError naming ``what`` and the first affected sample when a float array holds NaN or Inf."""
    if array.dtype.kind != "f":
        return
    xp = backend.get_array_module(array)
    finite = xp.isfinite(array.reshape(len(array), -1) if array.ndim else array)
    if not bool(finite.all()):
        rows = xp.flatnonzero(~finite.all(axis=-1)) if array.ndim > 1 else xp.flatnonzero(~finite)
        raise ValueError(f"{what} contains NaN or Inf (first at sample {int(rows[0])}, {int(rows.size)} samples "
                         f"affected); clean or impute the data before training.")


def split_validation(arrays, fraction):
    """Keras' ``validation_split``: the last ``fraction`` of the samples of each array (None stays None), taken
    before any shuffling. Returns ``(training arrays, validation arrays)``."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation_split must be in [0, 1). Received: validation_split={fraction!r}")
    count = len(next(a for a in arrays if a is not None))
    split = int(count * (1 - fraction))
    if split == 0 or split == count:
        raise ValueError(f"validation_split={fraction} leaves no samples on one side of {count} samples.")
    arrays = [a if a is None or backend.is_device_array(a) else numpy.asarray(a) for a in arrays]
    return [None if a is None else a[:split] for a in arrays], [None if a is None else a[split:] for a in arrays]


def as_list(data, names, what):
    """``data`` for a model whose inputs (or outputs) are ``names``: one array, a list or tuple in order, or a
    dict keyed by name; returned as a list in ``names`` order (None where a dict leaves a name out)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"{what} has keys {unknown} that match none of the model's names {list(names)}.")
        return [data.get(name) for name in names]
    if isinstance(data, (list, tuple)) and (len(names) > 1 or (len(data) == 1 and is_array(data[0]))):
        if len(data) != len(names):
            raise ValueError(f"{what} is a list of {len(data)} arrays, but the model has {len(names)}: "
                             f"{list(names)}. Pass one array per name, in order, or a dict keyed by name.")
        return list(data)
    if len(names) > 1 and data is not None:
        raise ValueError(f"The model has {len(names)} of them ({list(names)}), so {what} must be a list of "
                         f"{len(names)} arrays or a dict keyed by these names. Received a single "
                         f"{type(data).__name__}.")
    return [data] * len(names) if data is None else [data]


def is_array(item):
    """Whether ``item`` is a NumPy or CuPy array."""
    return isinstance(item, numpy.ndarray) or backend.is_device_array(item)


def num_samples(arrays, what):
    """The common number of samples of ``arrays`` (None ignored), or a ValueError naming the sizes."""
    sizes = {len(a) for a in arrays if a is not None and numpy.ndim(a) > 0}
    if len(sizes) > 1:
        raise ValueError(f"All arrays of {what} must have the same number of samples; received sizes {sorted(sizes)}.")
    if not sizes:
        raise ValueError(f"{what} holds no arrays.")
    return sizes.pop()


