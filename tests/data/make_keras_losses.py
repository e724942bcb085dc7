"""Writes the Keras-made fixtures for tests/test_losses_more.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_losses.py

``keras_losses.npz``: for each case of CASES (a Keras loss class, its arguments and the inputs' kind),
``<case>_true`` / ``<case>_pred`` (float64 inputs), ``<case>_value`` (the loss Keras returns, float64) and, for
the reduced cases, ``<case>_grad`` (its gradient with respect to ``y_pred``, from torch's autograd).

nnkit does not depend on Keras; only this file's output is committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

#: case name -> (Keras class name, constructor arguments, inputs' kind, shape).
CASES = {
    "huber": ("Huber", {}, "regression", (6, 4)),
    "huber_delta": ("Huber", {"delta": 0.3}, "regression", (6, 4)),
    "huber_3d_sum": ("Huber", {"reduction": "sum"}, "regression", (3, 2, 4)),
    "log_cosh": ("LogCosh", {}, "regression", (6, 4)),
    "kl_divergence": ("KLDivergence", {}, "distribution", (6, 4)),
    "kl_divergence_3d": ("KLDivergence", {}, "distribution", (3, 2, 4)),
    "poisson": ("Poisson", {}, "positive", (6, 4)),
    "hinge": ("Hinge", {}, "binary", (6, 4)),
    "hinge_signed": ("Hinge", {}, "signed", (6, 4)),
    "squared_hinge": ("SquaredHinge", {}, "binary", (6, 4)),
    "categorical_hinge": ("CategoricalHinge", {}, "one_hot", (6, 4)),
    "cosine_similarity": ("CosineSimilarity", {}, "regression", (6, 4)),
    "cosine_similarity_axis1": ("CosineSimilarity", {"axis": 1}, "regression", (3, 4, 2)),
    "msle": ("MeanSquaredLogarithmicError", {}, "regression", (6, 4)),
    "mape": ("MeanAbsolutePercentageError", {}, "regression", (6, 4)),
    "mape_mean": ("MeanAbsolutePercentageError", {"reduction": "mean"}, "regression", (6, 4)),
    "bce_smooth": ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary_probs", (6, 4)),
    "bce_smooth_logits": ("BinaryCrossentropy", {"label_smoothing": 0.2, "from_logits": True}, "binary_logits",
                          (6, 4)),
    "cce_smooth": ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "one_hot_probs", (6, 4)),
    "cce_smooth_logits": ("CategoricalCrossentropy", {"label_smoothing": 0.1, "from_logits": True},
                          "one_hot_logits", (6, 4)),
    "cce_smooth_3d_sum": ("CategoricalCrossentropy", {"label_smoothing": 0.3, "reduction": "sum"},
                          "one_hot_probs", (3, 2, 4)),
    "mse_sum": ("MeanSquaredError", {"reduction": "sum"}, "regression", (6, 4)),
    "huber_none": ("Huber", {"reduction": None}, "regression", (6, 4)),
    "kl_divergence_none": ("KLDivergence", {"reduction": None}, "distribution", (6, 4)),
    "cce_smooth_none": ("CategoricalCrossentropy", {"label_smoothing": 0.1, "reduction": None}, "one_hot_probs",
                        (6, 4)),
}


def inputs(kind, shape, rng):
    """(y_true, y_pred) float64 for one kind of loss."""
    normal = rng.standard_normal
    if kind == "regression":
        return normal(shape), normal(shape) * 1.5
    if kind == "positive":
        return rng.poisson(2.0, shape).astype(float), rng.uniform(0.1, 4.0, shape)
    if kind == "distribution":
        t, p = numpy.exp(normal(shape)), numpy.exp(normal(shape))
        t[(0,) * len(shape)] = 0.0  # clipped to 1e-7
        return t / t.sum(-1, keepdims=True), p / p.sum(-1, keepdims=True)
    if kind in ("binary", "binary_probs", "binary_logits"):
        z = normal(shape) * 2
        return rng.integers(0, 2, shape).astype(float), (1 / (1 + numpy.exp(-z)) if kind == "binary_probs" else z)
    if kind == "signed":
        return rng.integers(0, 2, shape) * 2.0 - 1, normal(shape) * 2
    labels = rng.integers(0, shape[-1], shape[:-1])
    z = normal(shape) * 2
    p = z if kind in ("one_hot", "one_hot_logits") else numpy.exp(z) / numpy.exp(z).sum(-1, keepdims=True)
    return numpy.eye(shape[-1])[labels], p


def main():
    keras.config.set_floatx("float64")
    rng = numpy.random.default_rng(20)
    out = {}
    for case, (class_name, arguments, kind, shape) in CASES.items():
        y_true, y_pred = inputs(kind, shape, rng)
        loss = getattr(keras.losses, class_name)(**arguments)
        pred = torch.tensor(y_pred, requires_grad=True)
        value = loss(torch.tensor(y_true), pred)
        out[f"{case}_true"], out[f"{case}_pred"] = y_true, y_pred
        out[f"{case}_value"] = value.detach().numpy()
        if value.ndim == 0:
            value.backward()
            out[f"{case}_grad"] = pred.grad.numpy()
    numpy.savez_compressed(os.path.join(HERE, "keras_losses.npz"), **out)
    print(f"wrote {len(CASES)} cases")


if __name__ == "__main__":
    main()
