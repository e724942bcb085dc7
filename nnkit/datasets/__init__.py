"""Data sets: the bundled digits and an IDX reader (MNIST's format)."""
from . import digits, fashion_mnist, mnist
from .download import DownloadError
from .idx import IDXFormatError, read_idx, write_idx
