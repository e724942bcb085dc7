"""TextVectorization: texts to sequences of token indices, or to multi-hot, count or TF-IDF vectors.

As in Keras, each text is standardized (ASCII lowercasing, punctuation stripping), split (on ASCII whitespace or
into characters), recombined into ngrams, and looked up in a vocabulary that a StringLookup (mask token ``""``,
OOV token ``"[UNK]"``) owns. Texts stay on the host as NumPy strings; the output goes to the backend's device.
"""
import collections
import itertools
import os
import re

import numpy

from .. import backend
from .base import positive_int
from .categorical import StringLookup, _choice, _no_sparse, _TextInputLayer

#: Keras' punctuation class (``tf.strings.regex_replace`` in its text_vectorization.py); ``,-\.`` is the range , - .
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
#: ``tf.strings.lower`` without an encoding lowercases the ASCII letters only ("HÉLLO" -> "hÉllo").
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
#: ``tf.strings.split`` splits on runs of ASCII whitespace only (not on no-break or ideographic spaces).
WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")


def _padded(rows, length):
    """Token rows as an ``(N, length)`` str array (``length`` None: the longest row's), cut or padded with the mask
    token ``""``."""
    width = max(map(len, rows), default=0) if length is None else length
    table = numpy.full((len(rows), width), "", dtype=object)
    for i, row in enumerate(rows):
        table[i, :min(len(row), width)] = row[:width]
    return table.astype(str)


def _ngrams(rows, widths):
    """The ngrams of each row, width by width, as ``tf.strings.ngrams`` (joined by a space; none for a row
    shorter than the width)."""
    return [[" ".join(row[i:i + w]) for w in widths for i in range(len(row) - w + 1)] for row in rows]


class TextVectorization(_TextInputLayer):
    """Maps texts to integer sequences or to vectors over a vocabulary (Keras' TextVectorization).

    Index layout as Keras: in "int" mode 0 is padding (the mask token ``""``) and 1 the out-of-vocabulary token
    ``"[UNK]"``; in the other modes 0 is "[UNK]". ``adapt`` learns the vocabulary by descending frequency, ties by
    descending token, and in "tf_idf" mode the weights ``log(1 + documents / (1 + documents with the token))``
    (the OOV slot gets their mean).

    Args:
        max_tokens: the largest vocabulary size, special tokens included (None: no limit).
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"`` (ASCII letters, as TensorFlow),
            ``"strip_punctuation"`` (ASCII punctuation), None, or a callable that takes and returns a NumPy array
            of str of the input's shape.
        split: ``"whitespace"`` (default; runs of ASCII whitespace), ``"character"`` (code points), None (each
            text is one token), or a callable that takes a 1-D NumPy array of str and returns a sequence of
            token lists, one per text.
        ngrams: None, an integer ``n`` (ngrams of widths 1 to n) or a tuple of widths; needs a ``split``.
        output_mode: ``"int"`` (default; int64 indices), ``"multi_hot"`` (``"binary"``), ``"count"`` or
            ``"tf_idf"`` (``"tf-idf"``) (floats of the layer's dtype).
        output_sequence_length: "int" mode only: pad (with 0) or cut each sequence to this length; None pads to
            the batch's longest.
        pad_to_max_tokens: the vector modes: ``max_tokens`` slots even when the vocabulary is smaller.
        vocabulary: a list or 1-D array of tokens (may start with the special tokens), or the path of a UTF-8 text
            file with one token per line; None: call ``adapt``.
        idf_weights: "tf_idf" mode with ``vocabulary``: one weight per entry of ``vocabulary``.
        sparse, ragged: must be False (nnkit has no sparse or ragged arrays).
        encoding: how byte-string inputs and vocabulary files are decoded (default "utf-8").

    Input shape: ``(batch,)`` or ``(batch, 1)`` strings (any shape with ``split=None``); lists of strings too.
    Output shape: "int": ``(batch, output_sequence_length)`` (or the longest sequence); the other modes
    ``(batch, vocabulary_size())`` (``max_tokens`` with ``pad_to_max_tokens``).

    Example:
        >>> layer = TextVectorization(output_sequence_length=4)
        >>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
        >>> layer(numpy.array([["foo qux bar"], ["qux baz"]]))
        array([[4, 1, 3, 0],
               [1, 2, 0, 0]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, vocabulary_size=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if max_tokens is not None and positive_int("TextVectorization", "max_tokens", max_tokens) <= 1:
            raise ValueError(f"TextVectorization: expected `max_tokens` to be None or greater than 1. "
                             f"Received: max_tokens={max_tokens}")
        for argument, value, allowed in (("standardize", standardize, STANDARDIZE), ("split", split, SPLIT)):
            if not (value is None or value in allowed or callable(value)):
                raise ValueError(f"TextVectorization: expected `{argument}` to be None, one of "
                                 f"{', '.join(map(repr, allowed))} or a callable. Received: {argument}={value!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        self.output_mode = _choice("TextVectorization", "output_mode", output_mode, OUTPUT_MODES)
        self._widths = self._ngram_widths(ngrams, split)
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ValueError(f"TextVectorization: `output_sequence_length` must not be set if `output_mode` is "
                                 f"not 'int'. Received: output_sequence_length={output_sequence_length!r}")
            positive_int("TextVectorization", "output_sequence_length", output_sequence_length)
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("TextVectorization: `pad_to_max_tokens=True` needs `max_tokens`. Received: "
                             "max_tokens=None")
        _no_sparse("TextVectorization", sparse)
        if ragged:
            raise ValueError("TextVectorization: `ragged=True` is not supported (nnkit has no ragged arrays); "
                             "sequences are padded with 0. Received: ragged=True")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"TextVectorization: `idf_weights` should only be set if output_mode is 'tf_idf'. "
                             f"Received: output_mode={output_mode!r}")
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError("TextVectorization: with `vocabulary` in output_mode 'tf_idf', `idf_weights` must be "
                             "given too.")
        as_int = lambda value: None if value is None else int(value)
        self.max_tokens, self.standardize, self.split, self.ngrams = as_int(max_tokens), standardize, split, ngrams
        self.output_sequence_length = as_int(output_sequence_length)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse, self.ragged, self.encoding = False, False, encoding
        self.input_idf_weights = None
        self._idf = None  # the weights of every index (OOV first), float64
        self._vocabulary_size = vocabulary_size  # from a config: the shape before the vocabulary is set again
        self._lookup = StringLookup(max_tokens=self.max_tokens, mask_token="", dtype=self.dtype,
                                    output_mode="count" if output_mode == "tf_idf" else output_mode)
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    @staticmethod
    def _ngram_widths(ngrams, split):
        """The widths ``ngrams`` asks for: ``n`` means 1 to n."""
        if ngrams is None:
            return None
        is_width = lambda w: isinstance(w, (int, numpy.integer)) and not isinstance(w, bool) and w > 0
        if is_width(ngrams):
            widths = tuple(range(1, int(ngrams) + 1))
        elif isinstance(ngrams, (tuple, list)) and ngrams and all(map(is_width, ngrams)):
            widths = tuple(int(w) for w in ngrams)
        else:
            raise ValueError(f"TextVectorization: `ngrams` must be None, a positive integer or a tuple of positive "
                             f"integers. Received: ngrams={ngrams!r}")
        if split is None:
            raise ValueError(f"TextVectorization: `ngrams` needs a `split` (ngrams recombine the split tokens). "
                             f"Received: ngrams={ngrams!r}, split=None")
        return widths

    # ---- vocabulary ----------------------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (a list or 1-D array of tokens, optionally starting with the special tokens, or
        the path of a text file with one token per line) and, in "tf_idf" mode, ``idf_weights`` (one per entry
        of ``vocabulary``; without the special tokens, the OOV index gets their mean)."""
        tf_idf = self.output_mode == "tf_idf"
        if tf_idf and idf_weights is None:
            raise ValueError("TextVectorization: `idf_weights` must be set if output_mode is 'tf_idf'.")
        if not tf_idf and idf_weights is not None:
            raise ValueError(f"TextVectorization: `idf_weights` should only be set if output_mode is 'tf_idf'. "
                             f"Received: output_mode={self.output_mode!r}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if tf_idf:
                raise ValueError("TextVectorization: output_mode 'tf_idf' does not support loading a vocabulary "
                                 "from a file.")
            vocabulary = self._read_vocabulary(vocabulary)
        vocabulary = vocabulary.tolist() if isinstance(vocabulary, numpy.ndarray) else list(vocabulary)
        weights = numpy.asarray(idf_weights, dtype=numpy.float64) if tf_idf else None
        if tf_idf and weights.shape != (len(vocabulary),):  # checked first: a bad call changes nothing
            raise ValueError(f"TextVectorization: `idf_weights` must be 1-D with one weight per vocabulary entry "
                             f"({len(vocabulary)}). Received an array of shape {weights.shape}.")
        self._lookup.set_vocabulary(vocabulary)
        if tf_idf:
            with_special = len(self._lookup.get_vocabulary(include_special_tokens=False)) < len(vocabulary)
            self._idf = weights if with_special else numpy.concatenate([[weights.mean()], weights])
            self.input_idf_weights = weights.tolist()

    def _read_vocabulary(self, path):
        if not os.path.isfile(path):
            raise ValueError(f"TextVectorization: vocabulary file {os.fspath(path)!r} does not exist.")
        with open(path, encoding=self.encoding, newline="") as file:
            lines = file.read().split("\n")
        lines = [line[:-1] if line.endswith("\r") else line for line in lines[:-1 if lines[-1] == "" else None]]
        if "" in lines:
            raise ValueError(f"TextVectorization: vocabulary file {os.fspath(path)!r} has an empty line "
                             f"(line {lines.index('') + 1}).")
        return lines

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and the idf weights in "tf_idf" mode) from ``data``: a list or array of texts,
        or any other iterable of batches of texts (a generator, a data set), of which ``steps`` batches are read
        when given. ``batch_size`` is accepted for Keras' signature; arrays are read whole.

        Each text is one document; the vocabulary is ordered by descending count, ties by descending token, and
        cut to ``max_tokens`` with the special tokens.
        """
        if self._lookup.input_vocabulary is not None:
            raise ValueError(f"Layer '{self.name}' (TextVectorization) was given a vocabulary; it cannot adapt.")
        if isinstance(data, (str, bytes)):
            raise TypeError(f"Layer '{self.name}' (TextVectorization): adapt expects a list or array of texts or an "
                            f"iterable of batches of texts. Received a single {type(data).__name__}.")
        if isinstance(data, (list, tuple, numpy.ndarray)):
            texts = self._texts(data)
            batches = [texts[:, None] if texts.ndim == 1 else texts]  # Keras: one text per row
        else:
            batches = data if steps is None else itertools.islice(data, steps)
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        for batch in batches:
            for row in self._rows(self._standardized(self._texts(batch))):
                counts.update(row)
                document_counts.update(set(row))
                documents += 1
        self._lookup._learn(numpy.array(list(counts), dtype=str), numpy.array(list(counts.values()), dtype=int))
        if self.output_mode == "tf_idf":
            found = numpy.array([document_counts[t] for t in self.get_vocabulary(include_special_tokens=False)])
            idf = numpy.log(1 + documents / (1 + found))
            self._idf = numpy.concatenate([[idf.mean() if idf.size else 0.0], idf])

    def _has_vocabulary(self):
        return self._lookup._tokens is not None

    def get_assets(self):
        """The vocabulary (and idf weights) ``adapt`` learned; a given vocabulary is in the config."""
        learned = self._lookup.get_assets()
        if learned is None:
            return None
        return {**learned, "idf": None if self._idf is None else self._idf.tolist()}

    def set_assets(self, assets):
        self._lookup.set_assets(assets)
        self._idf = None if assets["idf"] is None else numpy.asarray(assets["idf"], dtype=numpy.float64)

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index (``["", "[UNK]", ...]`` in "int" mode, ``["[UNK]", ...]`` in the others); only
        the learned or given ones with ``include_special_tokens=False``."""
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """The number of indices, special ones included."""
        return self._lookup.vocabulary_size()

    # ---- texts to tokens -----------------------------------------------------------------------------------
    def _texts(self, x):
        """``x`` as a host array of str (bytes decoded with ``encoding``)."""
        array = x if backend.is_device_array(x) else numpy.asarray(x)
        if array.dtype.kind in "SO":
            flat = [v.decode(self.encoding) if isinstance(v, bytes) else v for v in array.ravel().tolist()]
            if all(isinstance(v, str) for v in flat):
                array = numpy.array(flat, dtype=str).reshape(array.shape)
        if array.dtype.kind != "U":
            raise TypeError(f"Layer '{self.name}' (TextVectorization) expects strings. Received dtype {array.dtype}.")
        if array.ndim == 0:
            raise ValueError(f"Layer '{self.name}' (TextVectorization) expects a batch of texts: an array of rank 1 "
                             f"or more. Received a single string.")
        return array

    def _standardized(self, texts):
        if callable(self.standardize):
            return self._texts(self.standardize(texts))
        flat = texts.ravel().tolist()
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            flat = [text.translate(ASCII_LOWER) for text in flat]
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            flat = [PUNCTUATION.sub("", text) for text in flat]
        return numpy.array(flat, dtype=str).reshape(texts.shape)

    def _check_shape(self, shape):
        if self.split is not None and (len(shape) > 2 or (len(shape) == 2 and shape[-1] not in (1, None))):
            raise ValueError(f"Layer '{self.name}' (TextVectorization): to split texts the input must be of rank 1, "
                             f"or of rank 2 with a last axis of 1. Received an input of shape {tuple(shape)}.")

    def _rows(self, texts):
        """The token lists of the texts (documents): split and recombined into ngrams; with ``split=None`` the
        rows along the last axis."""
        if self.split is None:
            return texts.reshape(-1, texts.shape[-1]).tolist()
        self._check_shape(texts.shape)
        texts = texts.reshape(-1)
        if self.split == "whitespace":
            rows = [[token for token in WHITESPACE.split(text) if token] for text in texts.tolist()]
        elif self.split == "character":
            rows = [list(text) for text in texts.tolist()]
        else:
            rows = [self._texts(row).ravel().tolist() if len(row) else [] for row in self.split(texts)]
            if len(rows) != len(texts):
                raise ValueError(f"Layer '{self.name}' (TextVectorization): the `split` callable returned "
                                 f"{len(rows)} token lists for {len(texts)} texts.")
        return _ngrams(rows, self._widths) if self._widths else rows

    def _tokens(self, x):
        """The token array the lookup maps: ``(N, length)`` after a split (padded with ""), else the standardized
        texts (cut or padded along the last axis to ``output_sequence_length``)."""
        texts = self._standardized(self._texts(x))
        length = self.output_sequence_length
        if self.split is None and length is None:
            return texts
        table = _padded(self._rows(texts), length)
        return table if self.split is not None else table.reshape(texts.shape[:-1] + (length,))

    # ---- the layer -----------------------------------------------------------------------------------------
    def build(self, input_shape):
        self._check_shape(input_shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            if self.split is None:
                return input_shape[:-1] + (self.output_sequence_length or input_shape[-1],)
            return (input_shape[0], self.output_sequence_length)
        if self.pad_to_max_tokens:
            return (input_shape[0], self.max_tokens)
        known = self._has_vocabulary()
        return (input_shape[0], self.vocabulary_size() if known else self._vocabulary_size)

    def forward(self, x, training=False):
        if not self._has_vocabulary():
            raise ValueError(f"Layer '{self.name}' (TextVectorization) has no vocabulary: pass `vocabulary` or call "
                             f"adapt(data) before using it.")
        y = self._lookup.forward(self._tokens(x))
        if self.output_mode == "int":
            return y
        xp = backend.get_array_module(y)
        if self.output_mode == "tf_idf":
            y = y * xp.asarray(self._idf, dtype=y.dtype)
        if self.pad_to_max_tokens and y.shape[-1] < self.max_tokens:
            padding = xp.zeros(y.shape[:-1] + (self.max_tokens - y.shape[-1],), dtype=y.dtype)
            y = xp.concatenate([y, padding], axis=-1)
        return y

    def get_config(self):
        size = self.vocabulary_size() if self._has_vocabulary() else self._vocabulary_size
        return {**super().get_config(), "max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split, "ngrams": self.ngrams, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length, "pad_to_max_tokens": self.pad_to_max_tokens,
                "sparse": self.sparse, "ragged": self.ragged, "vocabulary": self._lookup.input_vocabulary,
                "idf_weights": self.input_idf_weights, "encoding": self.encoding, "vocabulary_size": size}

    @classmethod
    def from_config(cls, config):
        """An unbuilt layer from ``get_config()`` (JSON turns the ``ngrams`` tuple into a list)."""
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
