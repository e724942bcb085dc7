"""Categorical preprocessing: CategoryEncoding, Discretization, Hashing, IntegerLookup, StringLookup.

They run on host NumPy arrays (device inputs are copied to the host and the result back) and have no
gradient: placed first in a model, their input needs none; asked for one, backward raises.
"""
import numpy

from .. import backend
from .._arguments import number
from ._hash64 import fingerprint64, siphash64
from .base import Layer, positive_int

ENCODINGS = ("multi_hot", "one_hot", "count")


def _choice(layer_name, argument, value, allowed):
    if value not in allowed:
        raise ValueError(f"{layer_name}: expected `{argument}` to be one of {', '.join(map(repr, allowed))}. "
                         f"Received: {argument}={value!r}")
    return value


def _no_sparse(layer_name, sparse):
    if sparse:
        raise ValueError(f"{layer_name}: `sparse=True` is not supported (nnkit has no sparse arrays). "
                         f"Received: sparse={sparse!r}")


def encode(indices, output_mode, depth, dtype):
    """One-hot, multi-hot or count encoding of integer ``indices`` (host array), as Keras'
    ``encode_categorical_inputs``: one_hot squeezes a last axis of size 1 and appends ``depth``; multi_hot and
    count reduce axis 1 of a rank-2 input (the whole of a rank-1 one) to ``depth`` slots. Values outside
    ``[0, depth)`` (the lookups' masked tokens) count nowhere, as in TensorFlow's bincount.

    Args:
        indices: NumPy integer array.
        output_mode: ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        depth: number of slots.
        dtype: output dtype.
    """
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        return (indices[..., None] == numpy.arange(depth)).astype(dtype)
    rows = indices.reshape(1, -1) if indices.ndim <= 1 else indices
    counts = numpy.zeros((rows.shape[0], depth), dtype=numpy.int64)
    row_of = numpy.broadcast_to(numpy.arange(rows.shape[0])[:, None], rows.shape)
    inside = (rows >= 0) & (rows < depth)
    numpy.add.at(counts, (row_of[inside], rows[inside]), 1)
    if output_mode == "multi_hot":
        counts = numpy.minimum(counts, 1)
    return (counts if indices.ndim > 1 else counts[0]).astype(dtype)


def encoded_shape(input_shape, output_mode, depth):
    """The shape ``encode`` gives for ``input_shape`` (Keras' rule)."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if output_mode == "one_hot" and len(input_shape) > 1 and input_shape[-1] == 1:
        return input_shape[:-1] + (depth,)
    if output_mode == "one_hot":
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


class _CategoricalLayer(Layer):
    """Shared by the layers here: host computation, no gradient, rank check for the reducing encodings."""

    def _check_rank(self, ndim, output_mode):
        if output_mode in ("multi_hot", "count") and ndim > 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): output_mode={output_mode!r} supports "
                             f"inputs of rank 1 or 2 (as in Keras). Received an input of rank {ndim}.")

    def backward(self, dy):
        if not self.needs_input_gradient:
            return None
        raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) is a preprocessing layer with no "
                                  f"gradient: put it first in the model, where its input needs none.")


class CategoryEncoding(_CategoricalLayer):
    """Encodes integer features as one-hot, multi-hot or count vectors of ``num_tokens`` slots.

    Args:
        num_tokens: the number of tokens; inputs must lie in ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (default; ``"binary"`` is its alias), ``"one_hot"`` or ``"count"``.
        sparse: must be False (nnkit has no sparse arrays).

    Keras' call argument ``count_weights`` is not supported.

    Input shape: integers; ``(batch,)`` or ``(batch, k)`` for multi_hot/count, any shape for one_hot.
    Output shape: one_hot: the input shape (a last axis of size 1 dropped) plus ``num_tokens``;
    multi_hot/count: ``(batch, num_tokens)`` for ``(batch, k)``, ``(num_tokens,)`` for ``(k,)``.
    Floats of the layer's dtype (``floatx`` by default).

    Example:
        >>> CategoryEncoding(4, output_mode="count")(numpy.array([[0, 1], [3, 3]]))
        array([[1., 1., 0., 0.],
               [0., 0., 0., 2.]], dtype=float32)
    """

    accepts_indices = True  # integer data for it keep their dtype in fit / predict (nnkit.trainer)

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if num_tokens is None:
            raise ValueError("CategoryEncoding: `num_tokens` must be set. If the number of tokens is not known "
                             "beforehand, use IntegerLookup instead.")
        self.num_tokens = positive_int("CategoryEncoding", "num_tokens", num_tokens)
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        self.output_mode = _choice("CategoryEncoding", "output_mode", output_mode, ENCODINGS)
        _no_sparse("CategoryEncoding", sparse)
        self.sparse = False

    def build(self, input_shape):
        self._check_rank(len(input_shape), self.output_mode)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def forward(self, x, training=False):
        indices = backend.to_host(x)
        if indices.dtype.kind == "f" and numpy.any(indices != numpy.round(indices)):
            raise ValueError(f"Layer '{self.name}' (CategoryEncoding) expects integer inputs; received "
                             f"non-integral values of dtype {indices.dtype}.")
        indices = indices.astype(numpy.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_tokens):
            raise ValueError(f"Layer '{self.name}' (CategoryEncoding) expects inputs in [0, {self.num_tokens}) "
                             f"(num_tokens={self.num_tokens}). Received values from {indices.min()} to "
                             f"{indices.max()}.")
        self._check_rank(indices.ndim, self.output_mode)
        dtype = self.dtype or backend.floatx()
        return backend.to_device(encode(indices, self.output_mode, self.num_tokens, dtype))

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": self.sparse}


def _summarize(values, epsilon):
    """Keras' quantile summary of ``values``: every ``step``-th sorted value with weight ``step``, where
    ``step = max(n * epsilon, 1)`` (row 0: values, row 1: weights)."""
    values = numpy.sort(values.ravel())
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1)::int(step)]
    return numpy.stack([picked, numpy.full_like(picked, step)])


def _compress(summary, epsilon):
    """Keras' summary compression: ``1/epsilon`` values interpolated on the cumulative weight fraction."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + numpy.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    values = numpy.interp(fractions, cumulative / cumulative[-1], summary[0])
    weights = numpy.diff(numpy.interp(fractions, cumulative / cumulative[-1], cumulative), prepend=0.0)
    return numpy.stack([values, weights]).astype(numpy.float32)


class Discretization(_CategoricalLayer):
    """Buckets continuous features by ranges: ``bin_boundaries=[0., 1.]`` gives bins ``(-inf, 0)``, ``[0, 1)``
    and ``[1, inf)``, numbered 0, 1, 2.

    Args:
        bin_boundaries: sorted list of boundaries; or None, with ``num_bins``, to learn them with ``adapt``.
        num_bins: number of bins ``adapt`` makes (``num_bins - 1`` boundaries).
        epsilon: the error tolerance of ``adapt``'s quantile summary (Keras' algorithm; default 0.01).
        output_mode: ``"int"`` (default; bin index, int32), ``"one_hot"``, ``"multi_hot"`` or ``"count"``
            (floats, as CategoryEncoding with ``len(bin_boundaries) + 1`` tokens).
        sparse: must be False (nnkit has no sparse arrays).

    Input shape: any numbers (rank 1 or 2 for multi_hot/count). Output shape: the input shape for "int";
    otherwise as CategoryEncoding.

    Example:
        >>> Discretization(bin_boundaries=[0.0, 1.0])(numpy.array([[-1.0, 0.5, 3.0]]))
        array([[0, 1, 2]], dtype=int32)
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        self.output_mode = _choice("Discretization", "output_mode", output_mode, ("int",) + ENCODINGS)
        _no_sparse("Discretization", sparse)
        self.sparse = False
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Discretization: set `num_bins` or `bin_boundaries`, not both. Received: "
                             f"num_bins={num_bins!r}, bin_boundaries={bin_boundaries!r}")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("Discretization: expected `num_bins` (then call adapt()) or `bin_boundaries`. "
                             "Received neither.")
        if num_bins is not None:
            num_bins = positive_int("Discretization", "num_bins", num_bins)
        if bin_boundaries is not None:
            bin_boundaries = [number("Discretization", "bin_boundaries", b) for b in bin_boundaries]
            if any(b > a for a, b in zip(bin_boundaries[1:], bin_boundaries)):
                raise ValueError(f"Discretization: expected sorted `bin_boundaries`. "
                                 f"Received: bin_boundaries={bin_boundaries}")
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = number("Discretization", "epsilon", epsilon, low=0, high=1, low_open=True, high_open=True)

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def adapt(self, data):
        """Learn ``num_bins - 1`` boundaries at the quantiles of ``data`` (an array, NumPy or on the device, or a
        list of such batches), with Keras' summary algorithm (approximate to ``epsilon``)."""
        if self.num_bins is None:
            raise ValueError(f"Layer '{self.name}' (Discretization) was given `bin_boundaries`; it cannot adapt. "
                             f"Construct it with `num_bins` instead.")
        several = isinstance(data, (list, tuple)) and all(hasattr(batch, "shape") for batch in data)
        batches = data if several else [data]
        summary = numpy.zeros((2, 0), dtype=numpy.float32)
        for batch in batches:
            batch = numpy.asarray(backend.to_host(batch), dtype=numpy.float32)
            merged = numpy.concatenate([_summarize(batch, self.epsilon), summary], axis=1)
            summary = _compress(merged[:, numpy.argsort(merged[0], kind="stable")], self.epsilon)
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def build(self, input_shape):
        self._check_rank(len(input_shape), self.output_mode)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def forward(self, x, training=False):
        if self.bin_boundaries is None:
            raise ValueError(f"Layer '{self.name}' (Discretization) has no bin boundaries: pass `bin_boundaries` "
                             f"or call adapt(data) before using it.")
        values = backend.to_host(x)
        self._check_rank(values.ndim, self.output_mode)
        indices = numpy.digitize(values, numpy.asarray(self.bin_boundaries, dtype=values.dtype)).astype(numpy.int32)
        if self.output_mode == "int":
            return backend.to_device(indices)
        return backend.to_device(encode(indices, self.output_mode, self._depth(), self.dtype or backend.floatx()))

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config):
        """An unbuilt layer from ``get_config()``; adapted boundaries come back with ``num_bins`` too."""
        config = dict(config)
        if config.get("num_bins") is None:
            return cls(**config)
        boundaries = config.pop("bin_boundaries", None)
        layer = cls(**config)
        layer.bin_boundaries = boundaries
        return layer


def _is_text(array):
    return isinstance(array, numpy.ndarray) and array.dtype.kind in "USO"


def _as_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class _TextInputLayer(_CategoricalLayer):
    """A categorical layer that also takes strings, which stay on the host (no backend holds them)."""
    accepts_text = True
    accepts_indices = True  # integer data for it keep their dtype in fit / predict (nnkit.trainer)

    def __call__(self, inputs, training=None):
        """As ``Layer.__call__``; string arrays (and lists of strings) stay on the host."""
        if isinstance(inputs, (list, tuple)):
            inputs = numpy.asarray(inputs)
        if not _is_text(inputs):
            return super().__call__(inputs, training)
        if not self.built:
            self.build_for((None,) + inputs.shape[1:])
        return self.forward(inputs, training=bool(training))


class Hashing(_TextInputLayer):
    """Hashes strings or integers into ``num_bins`` bins, as Keras (TensorFlow's ``to_hash_bucket_fast``: FarmHash
    Fingerprint64 of the UTF-8 string, or with ``salt`` ``to_hash_bucket_strong``: SipHash-2-4 keyed by the salt;
    then modulo the number of bins). Integers hash as their decimal strings, floats are truncated to integers first.

    Args:
        num_bins: number of bins, including the mask bin when ``mask_value`` is set.
        mask_value: inputs equal to it go to bin 0 and the others to ``1 + hash % (num_bins - 1)``.
        salt: None (FarmHash), an integer ``s`` (SipHash key ``(s, s)``) or a pair of integers (the key).
        output_mode: ``"int"`` (default; int64 bin indices), ``"one_hot"``, ``"multi_hot"`` or ``"count"``
            (floats, as CategoryEncoding with ``num_bins`` tokens).
        sparse: must be False (nnkit has no sparse arrays).

    Strings run on the host (NumPy string or object arrays); on the GPU backend string inputs work when the layer
    is called directly, not inside a model (CuPy has no string arrays).

    Input shape: strings or numbers (rank 1 or 2 for multi_hot/count). Output shape: as CategoryEncoding
    (the input shape for "int").

    Example:
        >>> Hashing(3)(numpy.array([["A"], ["B"], ["C"]]))
        array([[1],
               [0],
               [1]])
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        self.num_bins = positive_int("Hashing", "num_bins", num_bins)
        self.output_mode = _choice("Hashing", "output_mode", output_mode, ("int",) + ENCODINGS)
        _no_sparse("Hashing", sparse)
        self.sparse = False
        self.mask_value = mask_value
        if salt is not None:
            is_int = lambda value: isinstance(value, (int, numpy.integer)) and not isinstance(value, bool)
            if is_int(salt):
                salt = [int(salt), int(salt)]
            elif isinstance(salt, (list, tuple)) and len(salt) == 2 and all(map(is_int, salt)):
                salt = [int(value) for value in salt]
            else:
                raise ValueError(f"Hashing: expected `salt` to be an integer or a pair of integers. "
                                 f"Received: salt={salt!r}")
        self.salt = salt

    def build(self, input_shape):
        self._check_rank(len(input_shape), self.output_mode)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_bins)

    def _bins(self, values):
        """The bin of each value of a host array."""
        if values.dtype.kind == "b" or values.dtype.kind not in "iufUSO":
            raise TypeError(f"Layer '{self.name}' (Hashing) expects strings or numbers. Received dtype "
                            f"{values.dtype}.")
        bins = self.num_bins - 1 if self.mask_value is not None and self.num_bins > 1 else self.num_bins
        keys = values.astype(numpy.int64) if values.dtype.kind == "f" else values
        unique, inverse = numpy.unique(keys.ravel(), return_inverse=True)
        if self.salt is None:
            hashes = [fingerprint64(_as_bytes(key)) % bins for key in unique.tolist()]
        else:
            hashes = [siphash64(self.salt, _as_bytes(key)) % bins for key in unique.tolist()]
        indices = numpy.asarray(hashes, dtype=numpy.int64)[inverse].reshape(values.shape)
        if bins != self.num_bins:
            indices = numpy.where(values == self.mask_value, 0, indices + 1)
        return indices

    def forward(self, x, training=False):
        values = backend.to_host(x)
        if self.output_mode == "one_hot" and values.ndim > 1 and values.shape[-1] == 1:
            values = values[..., 0]
        self._check_rank(values.ndim, self.output_mode)
        indices = self._bins(values)
        if self.output_mode == "int":
            return backend.to_device(indices)
        return backend.to_device(encode(indices, self.output_mode, self.num_bins, self.dtype or backend.floatx()))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value,
                "salt": self.salt, "output_mode": self.output_mode, "sparse": self.sparse}


class _Lookup(_TextInputLayer):
    """Keras' IndexLookup: maps tokens to indices ``[mask] + [OOV] * num_oov_indices + vocabulary`` (or back, with
    ``invert``); the vocabulary is given or learned by ``adapt`` (descending frequency, ties by descending token).
    """
    _text = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None, vocabulary=None,
                 invert=False, output_mode="int", **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        if max_tokens is not None:
            max_tokens = positive_int(layer, "max_tokens", max_tokens)
            if max_tokens <= 1:
                raise ValueError(f"{layer}: expected `max_tokens` to be None or greater than 1. "
                                 f"Received: max_tokens={max_tokens}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, numpy.integer)) \
                or num_oov_indices < 0:
            raise ValueError(f"{layer}: expected a non-negative integer for `num_oov_indices`. "
                             f"Received: num_oov_indices={num_oov_indices!r}")
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        self.output_mode = _choice(layer, "output_mode", output_mode, ("int",) + ENCODINGS)
        if invert and output_mode != "int":
            raise ValueError(f"{layer}: `invert=True` needs output_mode='int'. Received: output_mode={output_mode!r}")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self.input_vocabulary = None
        self._tokens = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    def _host_tokens(self, data):
        data = numpy.asarray(data if self._text else backend.to_host(data))
        if self._text and data.dtype.kind not in "USO":
            raise TypeError(f"Layer '{self.name}' (StringLookup) expects strings. Received dtype {data.dtype}.")
        integral = data.dtype.kind in "iu" or (data.dtype.kind == "f" and numpy.all(data == numpy.round(data)))
        if not self._text and not integral:  # a model feeds integers as floats
            raise TypeError(f"Layer '{self.name}' (IntegerLookup) expects integers. Received dtype {data.dtype}"
                            f"{' with non-integral values' if data.dtype.kind == 'f' else ''}.")
        return data.astype(str) if self._text else data.astype(numpy.int64)

    def set_vocabulary(self, vocabulary):
        """Use ``vocabulary`` (a list or 1-D array of tokens, optionally starting with the mask and OOV tokens)."""
        layer = type(self).__name__
        if len(vocabulary) == 0:
            raise ValueError(f"{layer}: expected a non-empty `vocabulary`. Received: vocabulary={vocabulary!r}")
        tokens = self._host_tokens(list(vocabulary)).tolist()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        if tokens[:len(special)] == special:
            tokens = tokens[len(special):]
        repeated = sorted({t for t in tokens if tokens.count(t) > 1})
        if repeated:
            raise ValueError(f"{layer}: the vocabulary must have unique tokens; repeated: {repeated}")
        for name, token, applies in (("mask_token", self.mask_token, True), ("oov_token", self.oov_token, self.invert)):
            if applies and token is not None and token in tokens:
                raise ValueError(f"{layer}: {name}={token!r} must not appear among the vocabulary's tokens "
                                 f"(special tokens come first, in this order: {special}).")
        if self.max_tokens is not None and self._token_start() + len(tokens) > self.max_tokens:
            raise ValueError(f"{layer}: the vocabulary has {self._token_start() + len(tokens)} entries with the "
                             f"special tokens, more than max_tokens={self.max_tokens}.")
        self.input_vocabulary = list(vocabulary) if not isinstance(vocabulary, numpy.ndarray) else vocabulary.tolist()
        self._tokens = tokens

    def adapt(self, data):
        """Learn the vocabulary from ``data`` (an array, or a list of arrays or tokens): by descending
        frequency, ties by descending token (Keras' order), without the mask and OOV tokens, cut to
        ``max_tokens`` with the special tokens."""
        if self.input_vocabulary is not None:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) was given a vocabulary; it cannot adapt.")
        if isinstance(data, (list, tuple)) and all(hasattr(batch, "shape") for batch in data):
            data = numpy.concatenate([self._host_tokens(batch).ravel() for batch in data])
        self._learn(*numpy.unique(self._host_tokens(data).ravel(), return_counts=True))

    def _learn(self, tokens, counts):
        """The vocabulary from the distinct ``tokens`` (a host array) seen ``counts`` times (what ``adapt``
        counted, or a caller that counts its own way: TextVectorization)."""
        special = [t for t in (self.mask_token, self.oov_token) if t is not None]
        # Compared as given: cast to the tokens' dtype, '[UNK]' would be cut to the longest token's width.
        keep = numpy.isin(tokens, numpy.asarray(special) if special else tokens[:0], invert=True)
        tokens, counts = tokens[keep], counts[keep]
        order = numpy.lexsort((tokens, counts))[::-1]
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start()]
        self._tokens = tokens[order].tolist()

    def get_assets(self):
        """The vocabulary ``adapt`` learned (a given one is in the config)."""
        if self._tokens is None or self.input_vocabulary is not None:
            return None
        return {"vocabulary": list(self._tokens)}

    def set_assets(self, assets):
        self._tokens = list(assets["vocabulary"])

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index: ``[mask] + [oov] * num_oov_indices + learned``; only the learned ones with
        ``include_special_tokens=False``."""
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        return (special if include_special_tokens else []) + list(self._tokens or [])

    def vocabulary_size(self):
        """The number of indices, special ones included."""
        return self._token_start() + len(self._tokens or [])

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.vocabulary_size())

    def _check_ready(self):
        if self._tokens is None:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) has no vocabulary: pass `vocabulary` or "
                             f"call adapt(data) before using it.")

    def _forward_invert(self, x):
        indices = backend.to_host(x).astype(numpy.int64)
        table = numpy.array(self.get_vocabulary(), dtype=str if self._text else numpy.int64)
        inside = (indices >= self._token_start()) & (indices < len(table))
        out = numpy.where(inside, table[numpy.where(inside, indices, 0)], self.oov_token)
        if self.mask_token is not None:
            out = numpy.where(indices == 0, self.mask_token, out)
        return out if self._text else backend.to_device(out.astype(numpy.int64))

    def forward(self, x, training=False):
        self._check_ready()
        if self.invert:
            return self._forward_invert(x)
        tokens = self._host_tokens(x)
        vocab = numpy.asarray(self._tokens, dtype=tokens.dtype if self._text else numpy.int64)
        order = numpy.argsort(vocab)
        at = numpy.clip(numpy.searchsorted(vocab[order], tokens), 0, max(len(vocab) - 1, 0))
        found = vocab[order][at] == tokens if len(vocab) else numpy.zeros(tokens.shape, bool)
        indices = numpy.where(found, order[at] + self._token_start(), -1)
        missing = ~found
        if self.mask_token is not None:
            missing &= tokens != self.mask_token
        if missing.any():
            if self.num_oov_indices == 0:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): with num_oov_indices=0 every input "
                                 f"must be in the vocabulary; found {numpy.unique(tokens[missing]).tolist()[:10]}.")
            indices = numpy.where(missing, self._oov_start() + self._oov_bucket(tokens), indices)
        if self.mask_token is not None:
            masked = 0 if self.output_mode == "int" else -1  # -1 counts nowhere in the encodings
            indices = numpy.where(tokens == self.mask_token, masked, indices)
        self._check_rank(indices.ndim, self.output_mode)
        if self.output_mode == "int":
            return backend.to_device(indices.astype(numpy.int64))
        return backend.to_device(encode(indices, self.output_mode, self.vocabulary_size(),
                                        self.dtype or backend.floatx()))

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "vocabulary": self.input_vocabulary,
                "invert": self.invert, "output_mode": self.output_mode}


class IntegerLookup(_Lookup):
    """Maps integer features to indices in a vocabulary (Keras' IntegerLookup).

    Index layout: with ``mask_token`` (and output_mode "int") index 0 is the mask; then ``num_oov_indices``
    out-of-vocabulary indices (an unknown value ``v`` goes to ``v mod num_oov_indices``); then the vocabulary.

    Args:
        max_tokens: the largest vocabulary size, special indices included (None: no limit).
        num_oov_indices: number of out-of-vocabulary indices (0: unknown inputs are an error).
        mask_token: the value that means "no token" (index 0; zeros in the encoded modes); None: no mask.
        oov_token: what ``invert`` returns for the OOV indices (default -1).
        vocabulary: list of integers (may start with the mask and OOV tokens); or None, then ``adapt``.
        invert: map indices back to tokens.
        output_mode: ``"int"`` (default; int64), ``"one_hot"``, ``"multi_hot"`` or ``"count"`` (floats over
            ``vocabulary_size()`` slots).

    Input shape: integers (rank 1 or 2 for multi_hot/count). Output shape: as CategoryEncoding (the input
    shape for "int").

    Example:
        >>> IntegerLookup(vocabulary=[12, 36, 1138, 42])(numpy.array([[12, 1138, 42], [42, 1000, 36]]))
        array([[1, 3, 4],
               [4, 0, 2]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 invert=False, output_mode="int", **kwargs):
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert, output_mode,
                         **kwargs)

    def _oov_bucket(self, tokens):
        return numpy.mod(tokens, self.num_oov_indices)


class StringLookup(_Lookup):
    """Maps string features to indices in a vocabulary (Keras' StringLookup).

    Index layout as IntegerLookup; an unknown string goes to OOV index ``Fingerprint64(s) mod num_oov_indices``
    (FarmHash, as TensorFlow's ``to_hash_bucket_fast``). Strings stay on the host (NumPy arrays of str).

    Args:
        max_tokens: the largest vocabulary size, special indices included (None: no limit).
        num_oov_indices: number of out-of-vocabulary indices (0: unknown inputs are an error).
        mask_token: the string that means "no token"; None: no mask.
        oov_token: what ``invert`` returns for the OOV indices (default "[UNK]").
        vocabulary: list of strings (may start with the mask and OOV tokens); or None, then ``adapt``.
        invert: map indices back to strings.
        output_mode: ``"int"`` (default; int64), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.

    Input shape: strings (rank 1 or 2 for multi_hot/count). Output shape: as IntegerLookup.

    Example:
        >>> StringLookup(vocabulary=["a", "b", "c", "d"])(numpy.array([["a", "c", "d"], ["d", "z", "b"]]))
        array([[1, 3, 4],
               [4, 0, 2]])
    """
    _text = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 invert=False, output_mode="int", **kwargs):
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert, output_mode,
                         **kwargs)

    def _oov_bucket(self, tokens):
        unique, inverse = numpy.unique(tokens.ravel(), return_inverse=True)
        buckets = [fingerprint64(_as_bytes(t)) % self.num_oov_indices for t in unique.tolist()]
        return numpy.asarray(buckets, dtype=numpy.int64)[inverse].reshape(tokens.shape)
