"""``timeseries_dataset_from_array``: sliding windows over a series, as Keras 3 cuts them."""
import numpy

from .batch_dataset import BatchDataset


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """A dataset of sliding windows over ``data`` (Keras 3's function; a ``BatchDataset`` in place of a
    ``tf.data.Dataset``). Windows are cut when a batch is read, so the series is never copied once per window.

    Window ``i`` starts at ``s = i * sequence_stride`` (counted from ``start_index``) and holds the time steps
    ``s, s + sampling_rate, ..., s + (sequence_length - 1) * sampling_rate``; its target is ``targets[s]`` (also
    counted from ``start_index``). Only windows that end before ``end_index`` are cut, and no more than there are
    targets.

    Args:
        data: an array of time steps along axis 0.
        targets: the target of the window starting at each step, or None (then the dataset yields windows only).
        sequence_length: the number of time steps in a window.
        sequence_stride: the steps between the starts of consecutive windows.
        sampling_rate: the steps between the time steps of a window.
        batch_size: windows per batch (the last may be smaller), or None for single windows.
        shuffle: shuffle the windows: their start positions are permuted once by a NumPy RandomState(``seed``), as
            Keras does (the order then matches Keras' before tf.data's local shuffle, which nnkit replaces by a
            new full permutation after every training epoch).
        seed: the seed of the shuffle (None: a random one).
        start_index, end_index: only steps in ``[start_index, end_index)`` are used.

    Returns:
        A ``BatchDataset`` yielding ``(windows, targets)`` batches, or windows alone: windows of shape
        ``(batch, sequence_length) + data.shape[1:]`` in ``data``'s dtype.

    Example:
        >>> import numpy
        >>> series = numpy.arange(10)
        >>> dataset = timeseries_dataset_from_array(series[:-3], series[3:], sequence_length=3, batch_size=2)
        >>> windows, targets = dataset[0]
        >>> windows.tolist(), targets.tolist()
        ([[0, 1, 2], [1, 2, 3]], [3, 4])
    """
    if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, numpy.integer)) or \
            sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be a positive integer. Received: sequence_length={sequence_length!r}")
    length = len(data)
    _check(length, start_index, end_index, sampling_rate, sequence_stride)
    start = start_index or 0
    end = length if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    starts = numpy.arange(0, max(count, 0), sequence_stride, dtype=numpy.int64)
    if shuffle:
        if seed is None:
            seed = numpy.random.randint(int(1e6))
        numpy.random.RandomState(seed).shuffle(starts)
    windows = Windows(data, start + starts, numpy.arange(sequence_length) * sampling_rate)
    if targets is None:
        return BatchDataset(windows, batch_size, shuffle, seed)
    if len(starts) and start + starts.max() >= len(targets):
        raise ValueError(f"`targets` has {len(targets)} entries, but with start_index={start_index} the window "
                         f"starting at step {start + starts.max()} needs a target there.")
    return BatchDataset((windows, numpy.asarray(targets)[start + starts]), batch_size, shuffle, seed)


class Windows:
    """The windows of ``data`` starting at ``starts`` and reading the steps ``offsets`` from there (a lazy
    column: ``windows[rows]`` cuts the windows ``rows``)."""

    def __init__(self, data, starts, offsets):
        self.data, self.starts, self.offsets = data, starts, offsets

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, rows):
        return self.data[self.starts[rows][:, None] + self.offsets]


def _check(length, start_index, end_index, sampling_rate, sequence_stride):
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= length:
            raise ValueError(f"`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {length}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                             f"and end_index={end_index}")
        if end_index >= length:
            raise ValueError(f"`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {length}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
        if value >= length:
            raise ValueError(f"`{name}` must be lower than the length of the data. Received: {name}={value}, for "
                             f"data of length {length}")
