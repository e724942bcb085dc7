"""The math of nnkit as functions on arrays: a NumPy path and, where a hand-written kernel exists, a GPU path.

Layers, losses and optimizers call these functions and never branch on the backend. Each module keeps the
NumPy version (the reference the tests compare against) directly above its GPU twin, and a short
dispatcher picks one by the type of the array it is given.

Notation (used in Python and in ``kernels/*.cu`` alike):
    N          batch size
    H, W, C    input height, width, channels (NHWC layout)
    KH, KW     kernel height and width
    SH, SW     strides
    PH, PW     padding before the first row / column
    DH, DW     dilation
    OH, OW     output height and width
    F          output channels (filters)
    K          number of classes
"""
from .bias_act import bias_activation, bias_activation_backward
from .conv import batch_chunks, col2im, conv_output_geometry, im2col
from .cross_entropy import sigmoid_binary_cross_entropy, softmax_cross_entropy
from .optim import adam_step, sgd_step
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .attention import attention_softmax, attention_softmax_backward, dropout_keep_mask
