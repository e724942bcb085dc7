"""MultiHeadAttention, Attention and AdditiveAttention: Keras goldens (tests/data/make_keras_attention.py),
gradchecks on both backends, a Transformer block's training step against Keras', saving and errors."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend, layers
from nnkit.layers.attention import AdditiveAttention, Attention
from nnkit.layers.multi_head_attention import MultiHeadAttention
from nnkit.utils import gradcheck

GOLDENS = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_attention.npz"))
CASES = json.loads(str(GOLDENS["cases"]))
CLASSES = {"MultiHeadAttention": MultiHeadAttention, "Attention": Attention, "AdditiveAttention": AdditiveAttention}


def _call(layer, name, inputs, masks, options):
    if name == "MultiHeadAttention":
        return layer(**inputs, **masks, **options)
    listed = [inputs["query"], inputs["value"]] + ([inputs["key"]] if "key" in inputs else [])
    mask = [masks.get("query_mask"), masks.get("value_mask")] if masks else None
    return layer(listed, mask=mask, **options)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_outputs_match_keras(backend_name, index):
    name, kwargs, options, shapes, mask_names = CASES[index]
    inputs = {key: GOLDENS[f"{index}_{key}"] for key in shapes}
    masks = {key: GOLDENS[f"{index}_{key}"] for key in mask_names}
    layer = CLASSES[name](**kwargs)
    _call(layer, name, inputs, {k: v for k, v in masks.items() if k == "attention_mask"}, {})  # builds
    weights = [GOLDENS[f"{index}_w{j}"] for j in range(len(layer.get_weights()))]
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    result = _call(layer, name, inputs, masks, options)
    outputs = result if options.get("return_attention_scores") else [result]
    got, want = backend.to_host(outputs[0]), GOLDENS[f"{index}_y"]
    if name == "MultiHeadAttention" and "query_mask" in masks:
        # A masked query step attends to nothing. Keras' own masked softmax (taken with dropout or scores) then
        # gives it zero weights, as nnkit always does; its fused path (taken here) leaves such rows to the
        # backend (torch's differ), so only the real query steps are compared.
        got, want = got[masks["query_mask"]], want[masks["query_mask"]]
    numpy.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    if len(outputs) > 1:
        numpy.testing.assert_allclose(backend.to_host(outputs[1]), GOLDENS[f"{index}_scores"], rtol=2e-5, atol=2e-6)


def test_multi_head_attention_weights_have_keras_names_and_layout():
    layer = MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=6)
    layer(numpy.zeros((1, 4, 5), "float32"), numpy.zeros((1, 6, 7), "float32"))
    assert [(spec.name, tuple(getattr(layer, spec.name).shape)) for spec in layer.weight_specs] == [
        ("query_dense/kernel", (5, 3, 2)), ("query_dense/bias", (3, 2)),
        ("key_dense/kernel", (7, 3, 2)), ("key_dense/bias", (3, 2)),
        ("value_dense/kernel", (7, 3, 4)), ("value_dense/bias", (3, 4)),
        ("output_dense/kernel", (3, 4, 6)), ("output_dense/bias", (6,))]


def _random_inputs(rng, shapes):
    return {key: rng.normal(size=(3,) + shape) for key, shape in shapes.items()}


GRADCHECKS = [
    (lambda: MultiHeadAttention(2, 3), {"query": (4, 5), "value": (4, 5)}, {}, None),
    (lambda: MultiHeadAttention(2, 3, value_dim=2, output_shape=(2, 3)), {"query": (4, 5), "value": (3, 6),
                                                                          "key": (3, 4)},
     {"return_attention_scores": True}, None),
    (lambda: MultiHeadAttention(3, 2, use_bias=False), {"query": (5, 4), "value": (5, 4)},
     {"use_causal_mask": True, "return_attention_scores": True}, "attention_mask"),
    (lambda: Attention(use_scale=True), {"query": (4, 3), "value": (5, 3)}, {"return_attention_scores": True}, None),
    (lambda: Attention(use_scale=True, score_mode="concat"), {"query": (4, 3), "value": (5, 2), "key": (5, 3)},
     {"use_causal_mask": True}, "value_mask"),
    (lambda: AdditiveAttention(), {"query": (4, 3), "value": (5, 3)}, {"return_attention_scores": True}, "value_mask"),
]


@pytest.mark.parametrize("make, shapes, options, mask", GRADCHECKS)
def test_gradients_match_central_differences(backend_name, rng, make, shapes, options, mask):
    inputs = _random_inputs(rng, shapes)
    if mask == "attention_mask":
        inputs["attention_mask"] = rng.random((3, shapes["query"][0], shapes["value"][0])) > 0.3
    elif mask == "value_mask":
        inputs["value_mask"] = numpy.arange(shapes["value"][0]) < numpy.array([[2], [5], [3]])
    layer = make()
    if isinstance(layer, Attention):
        listed = {"query": inputs.pop("query"), "value": inputs.pop("value")}
        listed.update((key, inputs.pop(key)) for key in ("key", "value_mask") if key in inputs)
        inputs = listed
    result = gradcheck(layer, inputs, options=options)
    if "key_dense/bias" in result.errors:
        # The key's bias adds the same amount to every score of a query step, which the softmax cancels: its
        # gradient is zero, so a relative error means nothing; the gradient itself must vanish.
        assert numpy.abs(backend.to_host(layer.grads["key_dense/bias"])).max() < 1e-12
        del result.errors["key_dense/bias"]
    assert result.max_relative_error < 1e-6, result


def test_dropout_acts_in_training_only_and_repeats_for_a_seed(rng):
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    outputs = []
    for _ in range(2):
        layer = MultiHeadAttention(2, 3, dropout=0.5, seed=7)
        layer(x, x)
        layer.set_weights([numpy.full(w.shape, 0.1, "float32") + 0.01 * numpy.arange(w.size).reshape(w.shape)
                           for w in layer.get_weights()])
        inference = backend.to_host(layer(x, x))
        outputs.append(backend.to_host(layer(x, x, training=True)))
    assert not numpy.allclose(outputs[0], inference)
    numpy.testing.assert_array_equal(outputs[0], outputs[1])


def _transformer():
    tokens = layers.Input(shape=(6,), dtype="int32")
    x = layers.Embedding(20, 8)(tokens)
    attended = MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
    feed_forward = layers.Dense(8)(layers.Dense(16, activation="relu")(x))
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, feed_forward]))
    x = layers.GlobalAveragePooling1D()(x)
    return nnkit.Model(tokens, layers.Dense(3, activation="softmax")(x))


def _golden_list(prefix):
    return [GOLDENS[f"{prefix}_{i}"] for i in range(sum(k.startswith(prefix + "_") for k in GOLDENS.files))]


def test_transformer_block_predicts_and_takes_one_sgd_step_as_keras(backend_name):
    model = _transformer()
    model.set_weights(_golden_list("transformer_start"))
    x, labels = GOLDENS["transformer_x"], GOLDENS["transformer_labels"]
    numpy.testing.assert_allclose(model.predict(x, verbose=0), GOLDENS["transformer_y"], rtol=1e-5, atol=1e-6)
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, labels)
    assert float(loss) == pytest.approx(float(GOLDENS["transformer_loss"]), rel=1e-5)
    for got, want in zip(model.get_weights(), _golden_list("transformer_after")):
        numpy.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_a_model_with_attention_options_saves_and_loads(tmp_path, rng):
    query, value = layers.Input((4, 6)), layers.Input((5, 6))
    output, scores = MultiHeadAttention(2, 3, name="mha")(query, value, use_causal_mask=True,
                                                          return_attention_scores=True)
    attended = Attention(use_scale=True)([query, value], use_causal_mask=True)
    model = nnkit.Model([query, value], [layers.Add()([output, attended]), scores])
    data = [rng.normal(size=(2, 4, 6)).astype("float32"), rng.normal(size=(2, 5, 6)).astype("float32")]
    expected = model.predict(data, verbose=0)
    path = tmp_path / "attention.keras"
    model.save(path)
    loaded = nnkit.models.load_model(path)
    for got, want in zip(loaded.predict(data, verbose=0), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-6)
    assert numpy.all(expected[1][:, :, 0, 1:] == 0)  # the causal mask was kept: step 0 sees step 0 only


def test_masks_carried_by_the_inputs_are_used(rng):
    tokens = numpy.array([[3, 5, 0, 0], [2, 0, 0, 0]])
    embedding = layers.Embedding(8, 4, mask_zero=True)
    inputs = layers.Input((4,), dtype="int32")
    embedded = embedding(inputs)
    model = nnkit.Model(inputs, MultiHeadAttention(1, 2)(embedded, embedded, return_attention_scores=True)[1])
    scores = model.predict(tokens, verbose=0)
    numpy.testing.assert_allclose(scores[0, 0, 0], [0.5, 0.5, 0, 0], atol=0.5)  # padding steps get no weight
    assert numpy.all(scores[0, 0, :2, 2:] == 0) and numpy.all(scores[1, 0, 0, 1:] == 0)


@pytest.mark.parametrize("make, error, message", [
    (lambda: MultiHeadAttention(0, 2), ValueError, "expected a positive integer for `num_heads`"),
    (lambda: MultiHeadAttention(2, 2, dropout=1.0), ValueError, r"expected a number in \[0, 1\) for `dropout`"),
    (lambda: MultiHeadAttention(2, 2, attention_axes=(1, 2)), ValueError, "attention over the step axis"),
    (lambda: Attention(score_mode="cosine"), ValueError, "Expected one of {'dot', 'concat'}"),
    (lambda: MultiHeadAttention(2, 2)(numpy.zeros((2, 3), "float32"), numpy.zeros((2, 3), "float32")), ValueError,
     r"expects a query of rank 3"),
    (lambda: Attention()(numpy.zeros((2, 3, 4), "float32")), ValueError, "must be called on a list of inputs"),
    (lambda: MultiHeadAttention(2, 2)(numpy.zeros((2, 3, 4), "float32")), TypeError,
     r"takes the call arguments \(query, value, key=None"),
])
def test_bad_arguments_are_refused_clearly(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_config_round_trips():
    layer = MultiHeadAttention(4, 8, value_dim=2, dropout=0.1, use_bias=False, output_shape=5, seed=3,
                               kernel_initializer="he_normal", name="attn")
    twin = MultiHeadAttention.from_config(layer.get_config())
    assert twin.get_config() == layer.get_config()
    for cls in (Attention, AdditiveAttention):
        original = cls(use_scale=False, dropout=0.2, seed=1)
        assert cls.from_config(original.get_config()).get_config() == original.get_config()
