"""Layers with Keras' names and arguments, each with an explicit backward pass."""
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten
from .input_layer import Input, InputLayer
from .conv import Conv2D
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN
from .wrappers import Bidirectional, TimeDistributed
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, dot, maximum, minimum, multiply, subtract)
from .conv_transpose import Conv2DTranspose
from .depthwise import DepthwiseConv2D, SeparableConv2D
from .preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from .augmentation import (RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                           RandomTranslation, RandomZoom)
from .conv1d import Conv1D
from .pooling1d import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D
from .spatial import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from .reshaping import Identity, Masking, Permute, RepeatVector, Reshape
from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .layer_normalization import LayerNormalization
from .normalization_more import GroupNormalization, UnitNormalization
from .noise import AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from .categorical import CategoryEncoding, Discretization, Hashing, IntegerLookup, StringLookup
from .text_vectorization import TextVectorization
from .activity_regularization import ActivityRegularization
from .einsum_dense import EinsumDense
from .attention import AdditiveAttention, Attention
from .multi_head_attention import MultiHeadAttention
from .lambda_layer import Lambda
