"""Data sets: the bundled digits and an IDX reader (MNIST's format)."""
from . import digits
from .idx import IDXFormatError, read_idx, write_idx
