"""What ``image_dataset_from_directory`` and ``text_dataset_from_directory`` share, as Keras 3 does it
(``keras/src/utils/dataset_utils.py``): listing the files with their labels (one class per subfolder), the seeded
shuffle, the training / validation split, the label encodings, and the dataset(s) returned."""
import os

import numpy

from .batch_dataset import BatchDataset
from .misc import to_categorical

LABEL_MODES = ("int", "categorical", "binary", None)


def check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed, what):
    """Keras' checks of the arguments both utilities take (``what``: "image" or "text", for the messages)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"`labels` argument should be a list/tuple of integer labels, of the same size as the "
                             f"number of {what} files in the target directory. If you wish to infer the labels from "
                             f'the subdirectory names in the target directory, pass `labels="inferred"`. If you wish '
                             f"to get a dataset that only contains {what}s (no labels), pass `labels=None`. "
                             f"Received: labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, '
                             f"and class_names={class_names}")
    if label_mode not in LABEL_MODES:
        raise ValueError(f'`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def listed_files(directory, labels, label_mode, formats, class_names, shuffle, seed, follow_links, verbose):
    """``index_directory`` as the builders call it, with Keras' defaults: no labels when ``labels`` or
    ``label_mode`` is None, a random seed when none is given. Returns ``(file_paths, labels, label_mode,
    class_names, seed)``."""
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = numpy.random.randint(int(1e6))
    file_paths, labels, class_names = index_directory(directory, labels, formats, class_names, shuffle, seed,
                                                      follow_links, verbose)
    return file_paths, labels, label_mode, class_names, seed


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """``(file_paths, labels, class_names)`` of the files in ``directory`` whose names end in ``formats``.

    With ``labels="inferred"`` each subfolder (sorted, hidden ones skipped, or ``class_names`` in its order) is a
    class and its files, at any depth, are labelled with the class index (int32). Otherwise the whole tree is
    listed, labelled by the given ``labels`` (in the order of the sorted walk) or not at all (None). Folders are
    walked in sorted order and files sorted within each; ``shuffle`` then permutes paths and labels with a NumPy
    RandomState(``seed``), so a seed lists the files in Keras' order.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an existing folder. Received: directory={directory!r}")
    if labels == "inferred":
        subdirs = [name for name in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError("When `labels=None` (no labels), argument `class_names` cannot be specified."
                             if labels is None else
                             "When argument `labels` is specified, argument `class_names` cannot be specified (the "
                             "`class_names` will be the sorted list of labels).")
        subdirs = [""]
    file_paths, found_labels = [], []
    for label, subdir in enumerate(subdirs):
        files = list(_walk(os.path.join(directory, subdir), follow_links, formats))
        file_paths += files
        found_labels += [label] * len(files)
    if labels == "inferred":
        labels, class_names = numpy.array(found_labels, dtype=numpy.int32), subdirs
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(file_paths):
            raise ValueError(f"Expected the lengths of `labels` to match the number of files in the target "
                             f"directory. len(labels) is {len(labels)} while we found {len(file_paths)} files in "
                             f"directory {directory}.")
        labels = numpy.asarray(labels)
        class_names = [str(label) for label in sorted(set(labels.tolist()))]
    if verbose:
        print(f"Found {len(file_paths)} files." if labels is None else
              f"Found {len(file_paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        if seed is None:
            seed = numpy.random.randint(int(1e6))
        numpy.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            numpy.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def _walk(folder, follow_links, formats):
    """The files under ``folder`` with an allowed extension: folders in sorted order, files sorted in each."""
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)


def split(samples, labels, validation_split, subset, verbose):
    """The training part (all but the last ``int(validation_split * N)``) or the validation part (those last
    ones) of ``samples`` and ``labels``; everything without a ``validation_split``."""
    if not validation_split:
        return samples, labels
    count = int(validation_split * len(samples))
    keep = slice(None, len(samples) - count) if subset == "training" else slice(len(samples) - count, None)
    if verbose:
        print(f"Using {len(samples) - count} files for training." if subset == "training" else
              f"Using {count} files for validation.")
    return samples[keep], None if labels is None else labels[keep]


def encode_labels(labels, label_mode, num_classes):
    """``labels`` as Keras' label modes give them: "int" int32 ``(N,)``, "binary" float32 ``(N, 1)``,
    "categorical" float32 one-hot ``(N, num_classes)``."""
    if label_mode == "binary":
        return numpy.asarray(labels, dtype=numpy.float32).reshape(-1, 1)
    if label_mode == "categorical":
        return to_categorical(numpy.asarray(labels), num_classes)
    return numpy.asarray(labels, dtype=numpy.int32)


def datasets(directory, what, formats, files_column, file_paths, labels, label_mode, class_names, batch_size, shuffle,
             seed, validation_split, subset, verbose):
    """The dataset (or with ``subset="both"`` the training and validation datasets) of ``file_paths`` read by
    ``files_column(paths)`` and their labels; the validation dataset is never shuffled."""
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={class_names}")

    def dataset(part, reshuffle):
        paths, part_labels = split(file_paths, labels, validation_split, part, verbose)
        if not paths:
            kind = {"training": "training ", "validation": "validation "}.get(part, "") if subset == "both" else ""
            raise ValueError(f"No {kind}{what} files found in directory {directory}. Allowed formats: "
                             f"{', '.join(formats)}")
        columns = files_column(paths)
        if label_mode is not None:
            columns = (columns, encode_labels(part_labels, label_mode, len(class_names)))
        return BatchDataset(columns, batch_size, reshuffle, seed, class_names, paths)

    if subset == "both":
        return [dataset("training", shuffle), dataset("validation", False)]  # a list, as Keras returns
    return dataset(subset, shuffle)
