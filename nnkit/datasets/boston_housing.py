"""Boston housing prices (Harrison & Rubinfeld 1978, from StatLib): 506 suburbs, 13 features, the median home
value in k$, as Keras 3 loads them.

Keras warns, and so does nnkit: one feature ("B") encodes an assumption about racial segregation; use this data
set only to illustrate such ethical problems. ``california_housing`` (``version="small"``) replaces it.
"""
from .housing import check_test_split, load_split

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # SHA-256, Keras' value


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``((x_train, y_train), (x_test, y_test))``: float64 features ``(N, 13)`` and prices ``(N,)``.

    Args:
        path: the file name in ``$NNKIT_DATA_DIR/boston_housing`` (else ``~/.nnkit/datasets/boston_housing``),
            or a path with a folder. A missing file is downloaded there first (SHA-256 checked).
        test_split: the fraction kept for the test set, in ``[0, 1)``.
        seed: the NumPy RandomState seed of the shuffle before the split.
    """
    check_test_split(test_split)
    return load_split("boston_housing", path, URL, FILE_HASH, test_split, seed)
