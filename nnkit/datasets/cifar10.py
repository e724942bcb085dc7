"""CIFAR-10 (Krizhevsky 2009): 60,000 32x32 colour images in 10 classes, as Keras 3 loads them."""
import numpy

from .cifar import locate, read_batches

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # SHA-256, Keras' value
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
#: The class names of labels 0-9.
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images ``(50000/10000, 32, 32, 3)`` (channels last) and
    uint8 labels 0-9 of shape ``(N, 1)``, as Keras 3 returns them.

    Args:
        path: nnkit's addition (Keras' function takes none): the ``cifar-10-python.tar.gz`` archive, or a folder
            of its extracted batches (``cifar-10-batches-py``, or the folder holding it). Default: the archive in
            ``$NNKIT_DATA_DIR/cifar10`` (else ``~/.nnkit/datasets/cifar10``), downloaded there first when missing
            (SHA-256 checked). The batches are read from the archive; nothing is extracted.
    """
    batches = read_batches(locate("cifar10", path, URL, FILE_HASH), FOLDER, TRAIN_BATCHES + ("test_batch",),
                           "labels")
    x_train = numpy.concatenate([images for images, _ in batches[:-1]])
    y_train = numpy.concatenate([labels for _, labels in batches[:-1]]).astype(numpy.uint8).reshape(-1, 1)
    x_test, y_test = batches[-1]
    return (x_train, y_train), (x_test, numpy.asarray(y_test, dtype=numpy.uint8).reshape(-1, 1))
