"""Callbacks with Keras' names and hooks."""
from .base import Callback, CallbackList
from .history import History
from .progbar import ProgbarLogger
