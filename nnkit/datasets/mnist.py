"""MNIST (LeCun, Cortes & Burges): 70,000 28x28 grey images of handwritten digits, as Keras loads them."""
from .download import load_idx_dataset

MIRRORS = ("https://storage.googleapis.com/cvdf-datasets/mnist/",
           "https://ossci-datasets.s3.amazonaws.com/mnist/",
           "https://yann.lecun.com/exdb/mnist/")
CHECKSUMS = {  # SHA-256 of the original files
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000/10000, 28, 28) and uint8 labels 0-9.

    Args:
        path: a directory holding the four standard ``.gz`` IDX files. Default: ``$NNKIT_DATA_DIR/mnist``,
            else ``~/.nnkit/datasets/mnist``. Missing files are downloaded there first (SHA-256 checked).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = nnkit.datasets.mnist.load_data()
        >>> x_train = x_train[..., None].astype("float32") / 255  # (60000, 28, 28, 1) for Conv2D
    """
    return load_idx_dataset("mnist", MIRRORS, CHECKSUMS, path)
