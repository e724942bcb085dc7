"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 grey images of clothing in 10 classes, MNIST's format."""
from .download import load_idx_dataset

MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
           "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
CHECKSUMS = {  # SHA-256 of the original files
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
#: The class names of labels 0-9.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000/10000, 28, 28) and uint8 labels 0-9.

    Args:
        path: a directory holding the four standard ``.gz`` IDX files. Default:
            ``$NNKIT_DATA_DIR/fashion_mnist``, else ``~/.nnkit/datasets/fashion_mnist``. Missing files are
            downloaded there first (SHA-256 checked).
    """
    return load_idx_dataset("fashion_mnist", MIRRORS, CHECKSUMS, path)
