"""California housing prices (Pace & Barry 1997, from StatLib): 20,640 census block groups of the 1990 US census,
8 features (MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude), the median house
value in dollars, as Keras 3 loads them."""
from .housing import check_test_split, load_split

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # SHA-256, Keras' value
VERSIONS = {"large": None, "small": 600}  # the number of samples kept (None: all)


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """``((x_train, y_train), (x_test, y_test))``: features ``(N, 8)`` and prices ``(N,)``.

    Args:
        version: ``"large"`` (all 20,640 samples) or ``"small"`` (the file's first 600, a stand-in for
            ``boston_housing``).
        path: the file name in ``$NNKIT_DATA_DIR/california_housing`` (else
            ``~/.nnkit/datasets/california_housing``), or a path with a folder. A missing file is downloaded there
            first (SHA-256 checked).
        test_split: the fraction kept for the test set, in ``[0, 1)``.
        seed: the NumPy RandomState seed of the shuffle before the split.
    """
    check_test_split(test_split)
    if version not in VERSIONS:
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: version={version!r}")
    return load_split("california_housing", path, URL, FILE_HASH, test_split, seed, VERSIONS[version])
