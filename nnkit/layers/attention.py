"""Attention (Luong's dot-product) and AdditiveAttention (Bahdanau's), Keras' layers over ``[query, value, key]``.

Both compute ``scores (batch, Tq, Tv)`` from the query and the key, take their masked softmax over the value
steps (``nnkit.primitives.attention``: one fused kernel on the GPU, dropout included) and return ``weights @ value``.
MultiHeadAttention (``multi_head_attention.py``) uses the same softmax.
"""

import numpy

from .. import backend
from .._arguments import dropout_rate
from ..primitives.attention import attention_softmax, attention_softmax_backward
from .base import Layer


class AttentionDropoutSeeds:
    """The seed of each training call's attention dropout: from ``seed`` when given, else from nnkit's global
    generator (``nnkit.utils.set_random_seed``). The softmax kernel draws the mask from it by hashing, the same
    on CPU and GPU, and its backward recomputes the mask instead of keeping it."""

    def __init__(self, seed):
        self._generator = None if seed is None else numpy.random.default_rng(seed)

    def next(self):
        """The seed of the next call's dropout mask."""
        generator = self._generator if self._generator is not None else backend.host_rng()
        return int(generator.integers(0, 2 ** 63 - 1))


def input_gradients(names, d_query, d_value, d_key):
    """The gradients of an attention layer's named inputs ``names`` (masks get None); without a ``key`` input the
    value served as the key, so it gets both gradients."""
    grads = {"query": d_query, "value": d_value}
    if "key" in names:
        grads["key"] = d_key
    else:
        grads["value"] = d_value + d_key
    return {name: grads.get(name) for name in names}


def _bool_mask(mask):
    return None if mask is None else mask.astype(bool)


def _scores_mask(value_mask, causal, shape):
    """Which of the ``(batch, Tq, Tv)`` scores count: the value steps' mask AND, when ``causal``, ``j <= i``."""
    if value_mask is None and not causal:
        return None
    keep = None if value_mask is None else value_mask[:, None, :]
    if causal:
        xp = backend.get_array_module(value_mask) if value_mask is not None else backend.xp()
        lower = xp.tril(xp.ones(shape[-2:], dtype=bool))
        keep = lower if keep is None else keep & lower
    return keep


class Attention(Layer):
    """Dot-product attention (Luong et al. 2015): ``softmax(query @ key^T) @ value``.

    Args:
        use_scale: learn a scalar ``scale`` multiplying the scores (initialized to 1).
        score_mode: ``"dot"`` (``query @ key^T``) or ``"concat"`` (``sum(tanh(query + key))``, with a scalar
            ``concat_score_weight``).
        dropout: fraction of the attention weights to drop in training, in [0, 1).
        seed: seeds the dropout.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]`` (key defaults to value).
        mask: ``[query_mask, value_mask]`` (booleans ``(batch, Tq)``, ``(batch, Tv)``); masks carried by the
            inputs (e.g. from ``Embedding(mask_zero=True)``) are used when none is given.
        return_attention_scores: also return the attention weights ``(batch, Tq, Tv)``.
        use_causal_mask: query step ``i`` attends to value steps ``j <= i`` only.

    Input shape: query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)``.
    Output shape: ``(batch, Tq, dim_v)``.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = dropout_rate(type(self).__name__, "dropout", dropout)
        self.seed = seed
        self._seeds = AttentionDropoutSeeds(seed)

    def bind_call(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs!r}")
        named = dict(zip(("query", "value", "key"), inputs))
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
                raise ValueError(f"{type(self).__name__} layer '{self.name}': `mask` must be a list "
                                 f"[query_mask, value_mask]. Received: mask={mask!r}")
            named.update((key, value) for key, value in zip(("query_mask", "value_mask"), mask) if value is not None)
        return named, training, {"return_attention_scores": bool(return_attention_scores),
                                 "use_causal_mask": bool(use_causal_mask)}

    def build(self, input_shape):
        query, value = input_shape["query"], input_shape["value"]
        key = input_shape.get("key", value)
        if len(query) != 3 or len(value) != 3 or len(key) != 3:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' expects query, value and key of rank 3 "
                             f"(batch, steps, features); received shapes {query}, {value}, {key}.")
        if query[-1] != key[-1] or (key[1] is not None and value[1] is not None and key[1] != value[1]):
            raise ValueError(f"{type(self).__name__} layer '{self.name}': the query and key need the same feature "
                             f"size, and the key and value the same number of steps; received query {query}, "
                             f"value {value}, key {key}.")
        self.build_scores(query[-1])

    def build_scores(self, dim):
        """The weights of the score function: ``scale`` and ``concat_score_weight`` (scalars), as Keras."""
        if self.use_scale:
            self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.add_weight(name="concat_score_weight", shape=(), initializer="ones")

    def compute_output_shape(self, input_shape, return_attention_scores=False, use_causal_mask=False):
        query, value = input_shape["query"], input_shape["value"]
        output = tuple(query[:-1]) + (value[-1],)
        if return_attention_scores:
            return [output, tuple(query[:-1]) + (input_shape.get("key", value)[1],)]
        return output

    # ---- the score function and its gradient ---------------------------------------------------------------
    def scores(self, query, key):
        """``(batch, Tq, Tv)`` scores; keeps what ``scores_backward`` needs."""
        scale = self.scale if self.use_scale else None
        if self.score_mode == "dot":
            self._dot = query @ key.swapaxes(-1, -2)
            return self._dot * scale if scale is not None else self._dot
        xp = backend.get_array_module(query)
        self._sum = query[:, :, None, :] + key[:, None, :, :]
        self._tanh = xp.tanh(self._sum * scale if scale is not None else self._sum)
        self._tanh_total = self._tanh.sum(axis=-1)
        return self.concat_score_weight * self._tanh_total

    def scores_backward(self, d_scores, query, key):
        """``(d_query, d_key)``; writes the score weights' gradients."""
        grads = self.grads
        if self.score_mode == "dot":
            scale = self.scale if self.use_scale else 1
            if "scale" in grads:
                grads["scale"][...] = (d_scores * self._dot).sum()
            d_dot = d_scores * scale
            return d_dot @ key, d_dot.swapaxes(-1, -2) @ query
        if "concat_score_weight" in grads:
            grads["concat_score_weight"][...] = (d_scores * self._tanh_total).sum()
        d_inner = (d_scores * self.concat_score_weight)[..., None] * (1 - self._tanh ** 2)
        if self.use_scale:
            if "scale" in grads:
                grads["scale"][...] = (d_inner * self._sum).sum()
            d_inner = d_inner * self.scale
        return d_inner.sum(axis=2), d_inner.sum(axis=1)

    # ---- forward and backward ------------------------------------------------------------------------------
    def forward(self, inputs, training=False, **options):
        return self.forward_masked(inputs, None, training, **options)[0]

    def forward_masked(self, inputs, mask, training=False, return_attention_scores=False, use_causal_mask=False):
        query, value = inputs["query"], inputs["value"]
        key = inputs.get("key", value)
        carried = dict(zip(inputs, mask)) if mask is not None else {}
        query_mask = _bool_mask(inputs.get("query_mask", carried.get("query")))
        value_mask = _bool_mask(inputs.get("value_mask", carried.get("value")))
        self._inputs = (query, value, key)
        self._keys = list(inputs)
        self._returns_scores = return_attention_scores
        scores = self.scores(query, key)
        keep = _scores_mask(value_mask, use_causal_mask, scores.shape)
        if keep is not None:
            # Keras lowers masked scores by 1e9 rather than dropping them, so a row masked throughout still gets
            # the softmax of its scores; the kernel's own mask would give it zeros.
            xp = backend.get_array_module(scores)
            scores = xp.where(keep, scores, scores - scores.dtype.type(65504.0 if scores.dtype == "float16" else 1e9))
        self._dropout = self.dropout if training else 0.0
        self._seed = self._seeds.next() if self._dropout else None
        self._probs, self._dropped = attention_softmax(scores[:, None], dropout_rate=self._dropout, seed=self._seed)
        output = self._dropped[:, 0] @ value
        self._query_mask = query_mask
        if query_mask is not None:
            output = output * query_mask[..., None]
        return ([output, self._probs[:, 0]] if return_attention_scores else output), query_mask

    def backward(self, dy):
        query, value, key = self._inputs
        d_output, d_weights = dy if self._returns_scores else (dy, None)
        if self._query_mask is not None:
            d_output = d_output * self._query_mask[..., None]
        dropped = self._dropped[:, 0]
        d_value = dropped.swapaxes(-1, -2) @ d_output
        d_dropped = (d_output @ value.swapaxes(-1, -2))[:, None]
        d_scores = attention_softmax_backward(d_dropped, self._probs, 1.0, self._dropout, self._seed)
        if d_weights is not None:
            d_scores = d_scores + attention_softmax_backward(d_weights[:, None], self._probs, 1.0)
        d_query, d_key = self.scores_backward(d_scores[:, 0], query, key)
        if not self.needs_input_gradient:
            return None
        return input_gradients(self._keys, d_query, d_value, d_key)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau et al. 2015): scores ``sum(scale * tanh(query + key))`` over the features.

    Args:
        use_scale: learn a ``scale`` vector ``(dim,)`` (Glorot-uniform initialized) weighting the features.
        dropout: fraction of the attention weights to drop in training, in [0, 1).
        seed: seeds the dropout.

    Call arguments, input and output shapes: as ``Attention``.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build_scores(self, dim):
        if self.use_scale:
            self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")

    def scores(self, query, key):
        xp = backend.get_array_module(query)
        self._tanh = xp.tanh(query[:, :, None, :] + key[:, None, :, :])
        return (self._tanh * self.scale).sum(axis=-1) if self.use_scale else self._tanh.sum(axis=-1)

    def scores_backward(self, d_scores, query, key):
        if "scale" in self.grads:
            self.grads["scale"][...] = (d_scores[..., None] * self._tanh).sum(axis=(0, 1, 2))
        d_tanh = d_scores[..., None] * self.scale if self.use_scale else d_scores[..., None]
        d_inner = d_tanh * (1 - self._tanh ** 2)
        return d_inner.sum(axis=2), d_inner.sum(axis=1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
