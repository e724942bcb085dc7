"""MultiHeadAttention (Vaswani et al. 2017), Keras 3's layer with its weight layout.

Four EinsumDense projections (``query``, ``key``, ``value``, ``attention_output``) around scaled dot-product
attention. Per head ``n``: ``scores = q_n @ k_n^T / sqrt(key_dim)``, masked and soft-maxed over the value steps
with dropout (``nnkit.primitives.attention``: one fused kernel on the GPU), then ``weights @ v_n``. The two products are
batched matmuls over ``(batch, heads)``.
"""
import math
import numbers
import string

from .. import initializers, regularizers
from .._arguments import dropout_rate
from ..primitives.attention import attention_softmax, attention_softmax_backward
from .attention import AttentionDropoutSeeds, input_gradients
from .base import Layer, positive_int
from .einsum_dense import EinsumDense


def projection_equation(free_dims, bound_dims, output_dims):
    """``(equation, bias_axes)`` of a projection: ``free_dims`` axes kept, ``bound_dims`` contracted with the
    kernel, ``output_dims`` made by it (the bias covers those), e.g. ``(2, 1, 2) -> ("abc,cde->abde", "de")``."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    made = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{made}->{free}{made}", made


class MultiHeadAttention(Layer):
    """Multi-head attention: each of ``num_heads`` heads attends from the query's steps to the value's with its
    own projections; the heads' results are concatenated and projected back.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's query and key.
        value_dim: size of each head's value (default ``key_dim``).
        dropout: fraction of the attention weights dropped in training, in [0, 1).
        use_bias: whether the projections have biases.
        output_shape: the output's last axis (an int, or a tuple for several axes); default the query's features.
        attention_axes: the axes attention runs over; only ``None`` (or the step axis, ``1`` / ``-2``, the same)
            with inputs of rank 3.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: for the four projections.
        seed: seeds the dropout.

    Call arguments:
        query: ``(batch, T, dim)``. value: ``(batch, S, dim_v)``. key: ``(batch, S, dim_k)``, default ``value``.
        attention_mask: booleans ``(batch, T, S)``: which value steps each query step may attend to. Masks that
            the inputs carry (``Embedding(mask_zero=True)``, ``Masking``) are combined with it, as in Keras.
        return_attention_scores: also return the attention weights ``(batch, num_heads, T, S)``.
        training: dropout on or off (inside ``fit``: on).
        use_causal_mask: query step ``i`` attends to value steps ``j <= i`` only (a decoder).

    Output shape: ``(batch, T, dim)`` (or ``output_shape``); with the scores, a list ``[output, scores]``.

    Weights: ``query_dense/{kernel (dim, heads, key_dim), bias (heads, key_dim)}``, ``key_dense/...``,
    ``value_dense/...``, ``output_dense/{kernel (heads, value_dim, dim), bias (dim,)}``, in Keras' order and
    layout, so ``set_weights`` with a Keras layer's ``get_weights()`` reproduces it.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = positive_int("MultiHeadAttention", "num_heads", num_heads)
        self.key_dim = positive_int("MultiHeadAttention", "key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else positive_int("MultiHeadAttention", "value_dim",
                                                                             value_dim)
        self.dropout = dropout_rate("MultiHeadAttention", "dropout", dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, (tuple, list)):
            output_shape = (output_shape,)
        self.projected_shape = None if output_shape is None else tuple(
            positive_int("MultiHeadAttention", "output_shape", size) for size in output_shape)
        if isinstance(attention_axes, numbers.Integral):
            attention_axes = (attention_axes,)
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-2,)):
            raise ValueError(f"MultiHeadAttention: nnkit supports attention over the step axis of rank-3 inputs "
                             f"(attention_axes=None, (1,) or (-2,)). Received: attention_axes={attention_axes!r}")
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.initializers = {"kernel_initializer": initializers.get(kernel_initializer),
                             "bias_initializer": initializers.get(bias_initializer),
                             "kernel_regularizer": regularizers.get(kernel_regularizer),
                             "bias_regularizer": regularizers.get(bias_regularizer)}
        self.seed = seed
        self._seeds = AttentionDropoutSeeds(seed)
        self.query_dense = self.key_dense = self.value_dense = self.output_dense = None

    def bind_call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
                  return_attention_scores=False, training=None, use_causal_mask=False):
        named = {"query": query, "value": value, "key": key, "query_mask": query_mask, "value_mask": value_mask,
                 "key_mask": key_mask, "attention_mask": attention_mask}
        inputs = {name: tensor for name, tensor in named.items() if tensor is not None}
        return inputs, training, {"return_attention_scores": bool(return_attention_scores),
                                  "use_causal_mask": bool(use_causal_mask)}

    def named_sublayers(self):
        return [(key, layer) for key, layer in (("query_dense", self.query_dense), ("key_dense", self.key_dense),
                                                ("value_dense", self.value_dense), ("output_dense", self.output_dense))
                if layer is not None]

    def build(self, input_shape):
        query, value = input_shape["query"], input_shape["value"]
        key = input_shape.get("key", value)
        for name, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) != 3:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) expects a {name} of rank 3 (batch, steps, "
                                 f"features); received shape {shape}.")
        if key[1] is not None and value[1] is not None and key[1] != value[1]:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): all dimensions of `value` and `key`, except "
                             f"the last one, must be equal. Received: value_shape={value} and key_shape={key}")
        head_equation, head_bias = projection_equation(2, 1, 2)
        heads = {name: EinsumDense(head_equation, output_shape=(None, self.num_heads, size),
                                   bias_axes=head_bias if self.use_bias else None, name=name,
                                   dtype=self.dtype, **self.initializers)
                 for name, size in (("query", self.key_dim), ("key", self.key_dim), ("value", self.value_dim))}
        projected = self.projected_shape or (query[-1],)
        output_equation, output_bias = projection_equation(2, 2, len(projected))
        self.query_dense, self.key_dense, self.value_dense = heads["query"], heads["key"], heads["value"]
        self.output_dense = EinsumDense(output_equation, output_shape=(None,) + projected,
                                        bias_axes=output_bias if self.use_bias else None, name="attention_output",
                                        dtype=self.dtype, **self.initializers)
        self.query_dense.build_for(query)
        self.key_dense.build_for(key)
        self.value_dense.build_for(value)
        self.output_dense.build_for(tuple(query[:-1]) + (self.num_heads, self.value_dim))

    def compute_output_shape(self, input_shape, return_attention_scores=False, use_causal_mask=False):
        query, value = input_shape["query"], input_shape["value"]
        output = tuple(query[:-1]) + (self.projected_shape or (query[-1],))
        if return_attention_scores:
            return [output, (query[0], self.num_heads, query[1], value[1])]
        return output

    # ---- forward and backward ------------------------------------------------------------------------------
    def forward(self, inputs, training=False, **options):
        return self.forward_masked(inputs, None, training, **options)[0]

    def forward_masked(self, inputs, mask, training=False, return_attention_scores=False, use_causal_mask=False):
        self._keys = list(inputs)
        self._returns_scores = return_attention_scores
        carried = dict(zip(inputs, mask)) if mask is not None else {}
        query_mask = inputs.get("query_mask", carried.get("query"))
        value_mask = inputs.get("value_mask", carried.get("value"))
        key_mask = inputs.get("key_mask", carried.get("key")) if "key" in inputs else None
        attention_mask = self._attention_mask(inputs.get("attention_mask"), query_mask, value_mask, key_mask)
        for layer in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            layer.needs_input_gradient = True
        value = inputs["value"]
        # (batch, steps, heads, size) -> (batch, heads, steps, size): the heads become a batch axis of the products
        self._q = self.query_dense.forward(inputs["query"], training).transpose(0, 2, 1, 3)
        self._k = self.key_dense.forward(inputs.get("key", value), training).transpose(0, 2, 1, 3)
        self._v = self.value_dense.forward(value, training).transpose(0, 2, 1, 3)
        self._scale = 1 / math.sqrt(self.key_dim)
        self._dropout = self.dropout if training else 0.0
        self._seed = self._seeds.next() if self._dropout else None
        self._probs, self._dropped = attention_softmax(
            self._q @ self._k.swapaxes(-1, -2), attention_mask, causal=use_causal_mask, scale=self._scale,
            dropout_rate=self._dropout, seed=self._seed)
        attended = (self._dropped @ self._v).transpose(0, 2, 1, 3)
        output = self.output_dense.forward(attended, training)
        out_mask = None if query_mask is None else query_mask.astype(bool)
        return ([output, self._probs] if return_attention_scores else output), out_mask

    @staticmethod
    def _attention_mask(attention_mask, query_mask, value_mask, key_mask):
        """Keras' combined mask, broadcastable to ``(batch, heads, T, S)``: the attention mask ``(batch, T, S)``
        AND the query's mask on T AND the value's and key's masks on S (None when there is none)."""
        combined = None
        parts = [None if attention_mask is None else attention_mask.astype(bool)[:, None],
                 None if query_mask is None else query_mask.astype(bool)[:, None, :, None],
                 None if value_mask is None else value_mask.astype(bool)[:, None, None, :],
                 None if key_mask is None else key_mask.astype(bool)[:, None, None, :]]
        for part in parts:
            if part is not None:
                combined = part if combined is None else combined & part
        return combined

    def backward(self, dy):
        d_output, d_scores_output = dy if self._returns_scores else (dy, None)
        needs_input_gradient = self.needs_input_gradient
        self.output_dense.needs_input_gradient = True
        d_attended = self.output_dense.backward(d_output).transpose(0, 2, 1, 3)
        d_v = self._dropped.swapaxes(-1, -2) @ d_attended
        d_scores = attention_softmax_backward(d_attended @ self._v.swapaxes(-1, -2), self._probs, self._scale,
                                              self._dropout, self._seed)
        if d_scores_output is not None:
            d_scores = d_scores + attention_softmax_backward(d_scores_output, self._probs, self._scale)
        d_q = d_scores @ self._k
        d_k = d_scores.swapaxes(-1, -2) @ self._q
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.needs_input_gradient = needs_input_gradient
        d_query = self.query_dense.backward(d_q.transpose(0, 2, 1, 3))
        d_key = self.key_dense.backward(d_k.transpose(0, 2, 1, 3))
        d_value = self.value_dense.backward(d_v.transpose(0, 2, 1, 3))
        if not needs_input_gradient:
            return None
        return input_gradients(self._keys, d_query, d_value, d_key)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": None if self.projected_shape is None else list(self.projected_shape),
                "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
                "seed": self.seed,
                "kernel_initializer": initializers.serialize(self.initializers["kernel_initializer"]),
                "bias_initializer": initializers.serialize(self.initializers["bias_initializer"]),
                "kernel_regularizer": regularizers.serialize(self.initializers["kernel_regularizer"]),
                "bias_regularizer": regularizers.serialize(self.initializers["bias_regularizer"])}
