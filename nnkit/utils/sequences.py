"""``pad_sequences``: lists of token ids of different lengths to one (N, maxlen) array, as Keras does."""
import numpy


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) every sequence to ``maxlen`` (default: the longest) and stack them.

    Args:
        sequences: a list of lists (or 1-D arrays) of numbers.
        maxlen: the output length; longer sequences are cut.
        padding: ``'pre'`` puts the padding before each sequence (Keras' default), ``'post'`` after.
        truncating: ``'pre'`` drops values from the start of a long sequence, ``'post'`` from the end.
        value: the padding value (0, which ``Embedding(mask_zero=True)`` masks).

    Returns an array of shape ``(len(sequences), maxlen)``.

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
        array([[2, 3],
               [0, 4]], dtype=int32)
    """
    for name, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ValueError(f"pad_sequences: expected {name} 'pre' or 'post'. Received: {name}={mode!r}")
    rows = [numpy.asarray(sequence) for sequence in sequences]
    for index, row in enumerate(rows):
        if row.ndim != 1:
            raise ValueError(f"pad_sequences: each sequence must be 1-D; sequence {index} has shape {row.shape}.")
    if maxlen is None:
        maxlen = max((len(row) for row in rows), default=0)
    elif maxlen < 0:
        raise ValueError(f"pad_sequences: expected maxlen >= 0. Received: maxlen={maxlen!r}")
    padded = numpy.full((len(rows), maxlen), value, dtype=dtype)
    for index, row in enumerate(rows):
        kept = (row[-maxlen:] if truncating == "pre" else row[:maxlen]) if maxlen else row[:0]
        if padding == "pre":
            padded[index, maxlen - len(kept):] = kept
        else:
            padded[index, :len(kept)] = kept
    return padded
