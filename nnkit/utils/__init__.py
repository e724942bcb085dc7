"""Helpers: seeding, one-hot labels, gradient checking."""
from .gradcheck import GradcheckResult, gradcheck
from .misc import set_random_seed, to_categorical
