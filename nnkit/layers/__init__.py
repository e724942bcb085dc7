"""Layers with Keras' names and arguments, each with an explicit backward pass."""
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input
