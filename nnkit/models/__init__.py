"""Models: the ``Model`` base (functional and subclassed), ``Sequential``, and saving/loading."""
from .files import WeightsFileError
from .model import Model
from .functional import Functional
from .saving import load_model
from .sequential import Sequential
