from .files import WeightsFileError
from .saving import load_model
from .sequential import Sequential
