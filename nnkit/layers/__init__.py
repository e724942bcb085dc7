"""Layers with Keras' names and arguments, each with an explicit backward pass."""
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input
from .conv import Conv2D
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN
from .wrappers import Bidirectional, TimeDistributed
