"""Data sets as Keras 3 loads them (the bundled digits, MNIST, Fashion-MNIST, CIFAR-10/100, IMDB, Reuters and the
two housing-price sets), downloaded once with a checksum into ``$NNKIT_DATA_DIR``, and the readers behind them."""
from . import (boston_housing, california_housing, cifar10, cifar100, digits, fashion_mnist, imdb, mnist,
               reuters)
from .download import DownloadError
from .idx import IDXFormatError, read_idx, write_idx
from .safe_load import DatasetFileError
