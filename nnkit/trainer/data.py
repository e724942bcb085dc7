"""Checking and moving the arrays handed to fit / evaluate / predict."""
import numpy

from .. import backend, targets
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


def as_input_array(x, input_shape, what="x", on_device=True, takes_text=False, takes_indices=False):
    """``x`` in floatx, checked against the model's input shape (batch axis None) and, once converted, for NaN,
    Inf and values beyond floatx's range; on the backend's device, or kept on the host (``on_device=False``) for
    batch-by-batch copies. Strings, where the input ``takes_text``, stay on the host as they are; integers, where it
    ``takes_indices`` (it is read only by index layers such as Embedding), keep their integer dtype, so indices above
    2^24 stay exact in float32 models (Keras casts them to float32 first, unless the Input's dtype is an integer)."""
    if x is None:
        raise ValueError(f"{what} is None: expected an array of shape {input_shape}.")
    array = _as_array(x, what)
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
    dtype = None if takes_indices and array.dtype.kind in "iu" else backend.floatx()
    if dtype is not None and array.dtype != dtype and _stays_on_host(array, on_device):
        check_finite_in_chunks(array, dtype, what)
        return ConvertedPerBatch(array, dtype)
    converted = _placed(array, dtype, on_device)
    check_finite(converted, what, given=array)
    return converted


def _stays_on_host(array, on_device):
    return isinstance(array, numpy.ndarray) and (not on_device or not backend.is_gpu())


class ConvertedPerBatch:
    """A host array handed out in ``dtype`` one batch at a time (``array[index]``): a uint8 or float64 data set
    costs no converted copy of the whole (4 x the memory of uint8 images in float32), only a batch's."""

    def __init__(self, array, dtype):
        self.array, self.dtype = array, numpy.dtype(dtype)

    @property
    def shape(self):
        """The array's shape."""
        return self.array.shape

    @property
    def ndim(self):
        """The array's number of axes."""
        return self.array.ndim

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return self.array[index].astype(self.dtype)


def check_finite_in_chunks(array, dtype, what, chunk_bytes=1 << 26):
    """``check_finite`` of ``array`` converted to ``dtype``, a chunk of samples at a time (no whole copy).
    Integers always fit a float dtype, so only floats of another width are read."""
    if array.dtype.kind != "f" or len(array) == 0:
        return
    rows = max(1, chunk_bytes // max(array[:1].nbytes, 1))
    for start in range(0, len(array), rows):
        part = array[start:start + rows]
        with numpy.errstate(over="ignore"):
            check_finite(part.astype(dtype), what, given=part, first_sample=start)


def as_target_array(y, loss, output_shape, num_samples, what="y", on_device=True, metrics=()):
    """``y`` checked against the number of samples, the loss (None: an output without one) and ``metrics`` once
    converted (floatx, or integers for class labels); on the device unless ``on_device=False``."""
    array = _as_array(y, what)
    if array.ndim == 0 or len(array) != num_samples:
        received = "a scalar" if array.ndim == 0 else f"{len(array)} samples"
        inputs = "validation x" if what.startswith("validation") else "x"
        raise ValueError(f"{inputs} and {what} must have the same number of samples: {inputs} has {num_samples}, "
                         f"{what} has {received}.")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers; received dtype {array.dtype}.")
    domain = targets.REAL if loss is None else loss.target_domain
    labels = domain.class_indices and array.dtype.kind in "iu"
    placed = _placed(array, None if labels else backend.floatx(), on_device)
    check_finite(placed, what, given=array)
    if loss is not None:
        loss.validate_targets(placed, output_shape, what)
    for metric in metrics:
        if metric.target_domain is not domain:  # the loss's own domain was just checked
            targets.check_targets(metric.target_domain, placed, output_shape[-1], f"metric '{metric.name}'", what)
    return placed


def _as_array(data, what):
    """``data`` as an array (device arrays as they are); what NumPy cannot read as one array is a ValueError."""
    if backend.is_device_array(data):
        return data
    try:
        return numpy.asarray(data)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{what} is a {type(data).__name__} that cannot be read as one array ({error}). Each input "
                         f"and each output takes one array (several: a list or dict of them); targets go in y: "
                         f"fit(x, y), not fit((x, y)).") from None


def _placed(array, dtype, on_device):
    """``array`` in ``dtype`` (None: its own), on the device or (``on_device=False``) on the host. Values beyond
    ``dtype``'s range become Inf quietly: ``check_finite`` names them."""
    with numpy.errstate(over="ignore"):
        if on_device:
            return backend.to_device(array, dtype=dtype)
        host = backend.to_host(array)
        return host if dtype is None else host.astype(dtype, copy=False)


def check_finite(array, what, given=None, first_sample=0):
    """Raise a ValueError naming ``what`` and the first affected sample when a float array holds NaN or Inf.
    ``given``: the data before conversion, so that a finite value beyond the converted dtype's range (float64
    data in a float32 model) is named as such instead of as Inf. ``first_sample``: the number of ``array``'s first
    sample (when it is a chunk of the data)."""
    if array.dtype.kind != "f" or array.size == 0:
        return
    xp = backend.get_array_module(array)
    finite = xp.isfinite(array.reshape(len(array), -1) if array.ndim else array)
    if bool(finite.all()):
        return
    rows = xp.flatnonzero(~finite.all(axis=-1)) if array.ndim > 1 else xp.flatnonzero(~finite)
    if given is not None and given.dtype.kind in "iuf":
        flat = int(xp.flatnonzero(~finite.reshape(-1))[0])
        value = given.reshape(-1)[flat].item()
        if numpy.isfinite(value):
            limit = numpy.finfo(array.dtype).max
            raise ValueError(f"{what} holds {value!r} at sample {first_sample + int(rows[0])}, beyond the range of "
                             f"{array.dtype} "
                             f"(largest {limit:.4g}), the dtype the model computes in ({int(rows.size)} samples "
                             f"affected). Scale the data, or use float64: nnkit.backend.set_floatx('float64').")
    raise ValueError(f"{what} contains NaN or Inf (first at sample {first_sample + int(rows[0])}, {int(rows.size)} "
                     f"samples affected); clean or impute the data before training.")


def split_validation(arrays, fraction):
    """Keras' ``validation_split``: the last ``fraction`` of the samples of each array (None stays None), taken
    before any shuffling. Returns ``(training arrays, validation arrays)``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, numpy.number)) or not 0 <= fraction < 1:
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


def num_samples(arrays, what, empty_ok=False):
    """The common number of samples of ``arrays`` (None ignored), or a ValueError naming the sizes; 0 samples
    only where ``empty_ok`` (predict), since there is nothing to fit or evaluate on."""
    sizes = {len(a) for a in arrays if a is not None and numpy.ndim(a) > 0}
    if len(sizes) > 1:
        raise ValueError(f"All arrays of {what} must have the same number of samples; received sizes {sorted(sizes)}.")
    if not sizes:
        raise ValueError(f"{what} holds no arrays.")
    count = sizes.pop()
    if count == 0 and not empty_ok:
        raise ValueError(f"{what} holds 0 samples: fit and evaluate need at least one (predict on 0 samples returns "
                         f"an empty result).")
    return count


