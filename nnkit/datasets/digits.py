"""A small real handwritten-digit set shipped with nnkit (1,797 8x8 images; see data/digits/README.md).

Pixels are 0..16 (divide by 16 to scale to [0, 1]); 1,437 training and 360 test images.
"""
import pathlib

from .idx import read_idx

DATA_DIR = pathlib.Path(__file__).parent / "data" / "digits"


def load_data():
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 8, 8) and uint8 labels, as Keras returns."""
    def load(prefix):
        return (read_idx(DATA_DIR / f"{prefix}-images-idx3-ubyte.gz"),
                read_idx(DATA_DIR / f"{prefix}-labels-idx1-ubyte.gz"))
    return load("train"), load("t10k")
