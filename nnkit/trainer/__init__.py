"""The one training engine shared by every model kind: compile / fit / evaluate / predict, the overridable
train_step / test_step / predict_step and their building blocks, data handling and the fused-loss plan."""
from .trainer import Trainer, unpack_x_y_sample_weight
