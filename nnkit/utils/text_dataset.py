"""``text_dataset_from_directory``: a folder of ``.txt`` files, one subfolder per class, as batches of strings
(Keras 3's function)."""
import numpy

from . import directory_dataset

ALLOWLIST_FORMATS = (".txt",)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """A dataset of the texts in ``directory`` and their labels, as Keras 3 builds it, returned as a
    ``nnkit.utils.BatchDataset`` (Keras returns a ``tf.data.Dataset``) that ``fit`` / ``evaluate`` / ``predict`` and
    ``TextVectorization.adapt`` accept and that iterates like one.

    With ``labels="inferred"``, ``directory/class_a/*.txt`` are class 0, ``directory/class_b/*.txt`` class 1, ...
    Files are read when a batch is. The file list, its seeded shuffle and the training / validation split are
    Keras' (a seed gives Keras' files in Keras' order).

    Args:
        directory: the folder of ``.txt`` files (in subfolders per class when labels are inferred).
        labels: ``"inferred"``, None (no labels), or a list of integer labels, one per file in the order of the
            sorted walk of ``directory``.
        label_mode: ``"int"`` (int32), ``"categorical"`` (float32 one-hot), ``"binary"`` (float32 ``(batch, 1)``;
            exactly two classes) or None (texts only).
        class_names: with inferred labels, the subfolders to use, in the order of their labels.
        batch_size: texts per batch (default 32), or None for single texts.
        max_length: keep at most this many characters of each text (Keras' TensorFlow path counts bytes; nnkit,
            like Keras' Grain path, counts characters of the UTF-8 decoded text).
        shuffle: shuffle the files (and reshuffle after every training epoch); False keeps the sorted order.
        seed: the shuffle's seed; required with ``validation_split`` and ``shuffle``.
        validation_split: the fraction of files (the last ones after the shuffle) kept for validation.
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns the pair); only with
            ``validation_split``.
        follow_links: follow symbolic links to folders.
        verbose: print how many files and classes were found.

    Returns:
        A ``BatchDataset`` (or a list of two with ``subset="both"``) yielding NumPy arrays of str ``(batch,)`` (Keras'
        tf.data yields bytes) and, unless ``label_mode`` is None, their labels; ``class_names`` is set on it.

    Example:
        >>> train = nnkit.utils.text_dataset_from_directory("aclImdb/train", validation_split=0.2,
        ...                                                 subset="training", seed=1337)
        >>> vectorizer.adapt(text for text, label in train)
    """
    directory_dataset.check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                                      "text")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 0):
        raise ValueError(f"`max_length` must be a non-negative integer or None. Received: max_length={max_length!r}")
    file_paths, labels, label_mode, class_names, seed = directory_dataset.listed_files(
        directory, labels, label_mode, ALLOWLIST_FORMATS, class_names, shuffle, seed, follow_links, verbose)
    return directory_dataset.datasets(directory, "text", ALLOWLIST_FORMATS,
                                      lambda paths: TextFiles(paths, max_length), file_paths, labels, label_mode,
                                      class_names, batch_size, shuffle, seed, validation_split, subset, verbose)


class TextFiles:
    """The texts of the files at ``paths``, cut to ``max_length`` characters (a lazy column: ``files[rows]``
    reads those files into an array of str)."""

    def __init__(self, paths, max_length):
        self.paths, self.max_length = list(paths), max_length

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, rows):
        return numpy.array([self._read(self.paths[row]) for row in numpy.atleast_1d(rows)], dtype=str)

    def _read(self, path):
        try:
            with open(path, encoding="utf-8", newline="") as handle:  # the text as stored, line ends included
                text = handle.read() if self.max_length is None else handle.read(self.max_length)
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: cannot be read as UTF-8 text ({error}).") from error
        return text
