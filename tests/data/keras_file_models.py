"""The models of the Keras file-format checks, written once for both libraries: each builder takes ``lib`` (the
``keras`` or the ``nnkit`` module) and returns the same architecture in it, so Keras and nnkit build twins.

Used by make_keras_files.py (Keras writes files nnkit must read), check_keras_loads_nnkit_files.py (nnkit writes
files Keras must read) and tests/test_keras_files.py (nnkit builds the twin to load weights into). Together the
models use every layer both libraries have, except those with assets (lookups, TextVectorization) and Lambda.
"""
import numpy


def dense_stack(lib):
    """Sequential, compiled: core, normalization, activation and noise layers."""
    L = lib.layers
    model = lib.Sequential([
        lib.Input(shape=(6,)),
        L.Dense(8, activation="relu", kernel_regularizer="l2"),
        L.BatchNormalization(),
        L.Dropout(0.2),
        L.Dense(8, use_bias=False),
        L.LeakyReLU(negative_slope=0.2),
        L.LayerNormalization(),
        L.PReLU(),
        L.GaussianNoise(0.1),
        L.GaussianDropout(0.1),
        L.AlphaDropout(0.1),
        L.ELU(),
        L.Dense(8, activation="tanh"),
        L.ActivityRegularization(l2=0.01),
        L.UnitNormalization(),
        L.Identity(),
        L.ReLU(max_value=2.0),
        L.Activation("sigmoid"),
        L.Dense(3),
        L.Softmax(),
    ], name="dense_stack")
    model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def convolutions(lib):
    """Sequential on images: 2-D convolutions, pooling, padding, resizing."""
    L = lib.layers
    return lib.Sequential([
        lib.Input(shape=(8, 8, 2)),
        L.Rescaling(0.5, offset=0.1),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.ZeroPadding2D(1),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.SeparableConv2D(4, 3, padding="same"),
        L.MaxPooling2D(2),
        L.Conv2DTranspose(3, 3, strides=2, padding="same"),
        L.Cropping2D(((1, 0), (0, 1))),
        L.UpSampling2D(2),
        L.AveragePooling2D(2),
        L.GroupNormalization(groups=3),
        L.SpatialDropout2D(0.2),
        L.Conv2D(4, 2, strides=2, dilation_rate=1),
        L.GlobalMaxPooling2D(keepdims=True),
        L.GlobalAveragePooling2D(),
        L.Dense(2),
    ], name="convolutions")


def sequences(lib):
    """Sequential on token ids: embedding, 1-D convolutions, recurrent layers and their wrappers."""
    L = lib.layers
    return lib.Sequential([
        lib.Input(shape=(10,), dtype="int32"),
        L.Embedding(20, 6),
        L.Conv1D(6, 3, padding="same", activation="relu"),
        L.ZeroPadding1D(1),
        L.Cropping1D((1, 1)),
        L.MaxPooling1D(2),
        L.UpSampling1D(2),
        L.AveragePooling1D(2, strides=1, padding="same"),
        L.SpatialDropout1D(0.1),
        L.LSTM(5, return_sequences=True),
        L.GRU(4, return_sequences=True),
        L.Bidirectional(L.SimpleRNN(3, return_sequences=True)),
        L.TimeDistributed(L.Dense(4)),
        L.Permute((2, 1)),
        L.Reshape((10, 4)),
        L.GlobalMaxPooling1D(keepdims=True),
        L.GlobalAveragePooling1D(),
        L.RepeatVector(3),
        L.Bidirectional(L.GRU(2)),
        L.Dense(2, activation="softmax"),
    ], name="sequences")


def masked_sequences(lib):
    """A mask from Embedding(mask_zero=True) and from Masking through recurrent layers."""
    L = lib.layers
    tokens = lib.Input(shape=(7,), dtype="int32", name="tokens")
    values = lib.Input(shape=(7, 3), name="values")
    embedded = L.Embedding(12, 4, mask_zero=True)(tokens)
    a = L.LSTM(3)(embedded)
    b = L.GRU(3)(L.Masking(mask_value=0.0)(values))
    return lib.Model([tokens, values], L.Concatenate()([a, b]), name="masked_sequences")


def merges(lib):
    """Functional: two inputs, a shared layer (three calls), every merge layer, a nested Sequential, two named
    outputs; compiled with a loss per output."""
    L = lib.layers
    a = lib.Input(shape=(6,), name="a")
    b = lib.Input(shape=(6,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    sa, sb = shared(a), shared(b)
    merged = L.Concatenate(name="concat")([
        L.Add()([sa, sb]), L.Subtract()([sa, sb]), L.Multiply()([sa, sb]), L.Average()([sa, sb]),
        L.Maximum()([sa, sb]), L.Minimum()([sa, sb]), L.Dot(axes=1, normalize=True)([sa, sb])])
    encoder = lib.Sequential([lib.Input(shape=(25,)), L.Dense(5, activation="relu"), L.Dense(3)], name="encoder")
    code = encoder(merged)
    label = L.Dense(3, activation="softmax", name="label")(code)
    value = L.Dense(1, name="value")(L.Add()([code, L.Dense(3)(shared(a))]))
    model = lib.Model([a, b], {"label": label, "value": value}, name="merges")
    model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss={"label": "sparse_categorical_crossentropy", "value": "mse"},
                  loss_weights={"label": 1.0, "value": 0.5}, metrics={"label": ["accuracy"]})
    return model


def attention(lib):
    """Functional: MultiHeadAttention (causal, with scores), Attention, AdditiveAttention, EinsumDense."""
    L = lib.layers
    query = lib.Input(shape=(4, 6), name="query")
    value = lib.Input(shape=(5, 6), name="value")
    attended, scores = L.MultiHeadAttention(2, 3, name="mha")(query, value, return_attention_scores=True)
    causal = L.MultiHeadAttention(1, 4, value_dim=2, name="self_attention")(query, query, use_causal_mask=True)
    dot = L.Attention(use_scale=True)([query, value])
    additive = L.AdditiveAttention()([query, value, value])
    mixed = L.Concatenate()([attended, causal, dot, additive])
    projected = L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")(mixed)
    return lib.Model([query, value], [projected, scores], name="attention")


def preprocessing(lib):
    """Preprocessing layers that carry no assets: Normalization (its statistics are weights), Discretization,
    CategoryEncoding (Keras' Hashing needs TensorFlow, so it is left out); images through Resizing and CenterCrop; random augmentation (off at inference)."""
    L = lib.layers
    numbers = lib.Input(shape=(3,), name="numbers")
    image = lib.Input(shape=(6, 6, 1), name="image")
    normalized = L.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 1.0, 0.25])(numbers)
    learned = L.Normalization()
    bins = L.Discretization(bin_boundaries=[-1.0, 0.0, 1.0])(numbers)
    counts = L.CategoryEncoding(num_tokens=4, output_mode="count")(bins)
    hot = L.CategoryEncoding(num_tokens=4, output_mode="multi_hot")(bins)
    augmented = L.RandomFlip()(L.RandomRotation(0.1)(L.RandomZoom(0.1)(L.RandomTranslation(0.1, 0.1)(
        L.RandomContrast(0.2)(L.RandomBrightness(0.1, value_range=(0, 1))(L.RandomCrop(6, 6)(image)))))))
    cropped = L.CenterCrop(4, 4)(L.Resizing(8, 8)(augmented))
    features = L.Concatenate()([learned(normalized), counts, hot, L.Flatten()(cropped)])
    return lib.Model([numbers, image], L.Dense(2)(features), name="preprocessing")


def nested_functional(lib):
    """A functional model called twice inside another (a shared encoder of two inputs)."""
    L = lib.layers
    inner_input = lib.Input(shape=(4,))
    encoder = lib.Model(inner_input, L.Dense(3, activation="relu")(L.Dense(5)(inner_input)), name="encoder")
    a = lib.Input(shape=(4,), name="left")
    b = lib.Input(shape=(4,), name="right")
    return lib.Model([a, b], L.Subtract()([encoder(a), encoder(b)]), name="nested_functional")


def regression(lib):
    """A small Sequential compiled with Adam and loss and metric objects: no random layers, so a training step is
    the same in both libraries."""
    L = lib.layers
    model = lib.Sequential([lib.Input(shape=(5,)), L.Dense(4, activation="relu"), L.BatchNormalization(),
                            L.Dense(1)], name="regression")
    model.compile(optimizer=lib.optimizers.Adam(learning_rate=0.01), loss=lib.losses.MeanSquaredError(),
                  metrics=[lib.metrics.MeanAbsoluteError()])
    return model


#: Compiled models without random layers, saved by Keras after one training step (their optimizer state is set).
TRAINED = ("regression", "merges")

MODELS = {"dense_stack": dense_stack, "convolutions": convolutions, "sequences": sequences,
          "masked_sequences": masked_sequences, "merges": merges, "attention": attention,
          "preprocessing": preprocessing, "regression": regression, "nested_functional": nested_functional}


def inputs(name, rng):
    """Inputs for model ``name``: a few samples of the right shapes and dtypes (float32, or int32 ids)."""
    normal = lambda *shape: rng.normal(size=shape).astype("float32")  # noqa: E731
    if name == "sequences":
        return rng.integers(0, 20, size=(3, 10)).astype("int32")
    if name == "masked_sequences":
        tokens = rng.integers(1, 12, size=(3, 7)).astype("int32")
        tokens[0, 4:], tokens[1, 2:] = 0, 0
        values = normal(3, 7, 3)
        values[2, 5:] = 0.0
        return [tokens, values]
    if name in ("merges", "attention", "nested_functional"):
        shapes = {"merges": [(3, 6), (3, 6)], "attention": [(3, 4, 6), (3, 5, 6)],
                  "nested_functional": [(3, 4), (3, 4)]}[name]
        return [normal(*shape) for shape in shapes]
    if name == "regression":
        return normal(6, 5)
    if name == "preprocessing":
        return [normal(3, 3) * 2, rng.uniform(size=(3, 6, 6, 1)).astype("float32")]
    return normal(3, *{"dense_stack": (6,), "convolutions": (8, 8, 2)}[name])


def perturbed(weights, rng):
    """``weights`` shifted by small positive amounts: biases stop being zero and variances stay positive, so a
    weight loaded into the wrong place shows in the outputs."""
    return [w + numpy.abs(rng.normal(scale=0.1, size=w.shape)).astype(w.dtype) if w.dtype.kind == "f" else w
            for w in weights]


def targets(name, rng):
    """Training targets for the models of ``TRAINED``."""
    if name == "merges":
        return {"label": rng.integers(0, 3, size=(3,)).astype("int32"), "value": rng.normal(size=(3, 1)).astype("float32")}
    return rng.normal(size=(6, 1)).astype("float32")


def outputs(predictions):
    """Predictions as a list of arrays in a fixed order (dict outputs by sorted key)."""
    if isinstance(predictions, dict):
        return [numpy.asarray(predictions[key]) for key in sorted(predictions)]
    if isinstance(predictions, (list, tuple)):
        return [numpy.asarray(p) for p in predictions]
    return [numpy.asarray(predictions)]
