"""Layers with Keras' names and arguments, each with an explicit backward pass."""
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN
from .wrappers import Bidirectional, TimeDistributed
