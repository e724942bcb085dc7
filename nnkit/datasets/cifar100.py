"""CIFAR-100 (Krizhevsky 2009): 60,000 32x32 colour images in 100 classes grouped into 20 superclasses, as Keras 3
loads them."""
import numpy

from .cifar import locate, read_batches

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # SHA-256, Keras' value
FOLDER = "cifar-100-python"
LABEL_MODES = ("fine", "coarse")


def load_data(label_mode="fine", path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images ``(50000/10000, 32, 32, 3)`` (channels last) and
    labels of shape ``(N, 1)``: int64, as Keras 3's code returns them (its docstring says uint8).

    Args:
        label_mode: ``"fine"`` (the 100 classes, 0-99) or ``"coarse"`` (the 20 superclasses, 0-19).
        path: nnkit's addition (Keras' function takes none): the ``cifar-100-python.tar.gz`` archive, or a folder
            of its extracted files (``cifar-100-python``, or the folder holding it). Default: the archive in
            ``$NNKIT_DATA_DIR/cifar100`` (else ``~/.nnkit/datasets/cifar100``), downloaded there first when
            missing (SHA-256 checked).
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f'`label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}.')
    (x_train, y_train), (x_test, y_test) = read_batches(locate("cifar100", path, URL, FILE_HASH), FOLDER,
                                                        ("train", "test"), f"{label_mode}_labels")
    return ((x_train, numpy.reshape(y_train, (-1, 1))), (x_test, numpy.reshape(y_test, (-1, 1))))
