"""nnkit.utils.plot_model: every layer a box, every layer call an edge; a clear error without pydot or Graphviz."""
import shutil
import sys

import pytest

import nnkit
from nnkit import layers

pytest.importorskip("pydot")


def two_branch_model():
    a, b = nnkit.Input(shape=(6,), name="a"), nnkit.Input(shape=(6,), name="b")
    shared = layers.Dense(8, name="shared")
    merged = layers.Concatenate(name="concat")([shared(a), shared(b)])
    return nnkit.Model([a, b], layers.Dense(1, name="out")(merged))


def test_dot_source_has_a_box_per_layer_and_an_edge_per_connection(tmp_path):
    path = nnkit.utils.plot_model(two_branch_model(), tmp_path / "model.dot", show_shapes=True)
    source = path.read_text()
    for name, kind in (("a", "InputLayer"), ("b", "InputLayer"), ("shared", "Dense"), ("concat", "Concatenate"),
                       ("out", "Dense")):
        assert f"{name} ({kind})" in source
    edges = {line.strip().rstrip(";") for line in source.splitlines() if "->" in line}
    assert edges == {"a -> shared", "b -> shared", "shared -> concat", "concat -> out"}
    assert "output: (None, 16)" in source  # the concatenation's shape


def test_nested_models_expand_into_a_cluster(tmp_path):
    encoder = nnkit.Sequential([nnkit.Input(shape=(6,)), layers.Dense(4, name="inner")], name="encoder")
    inputs = nnkit.Input(shape=(6,), name="x")
    model = nnkit.Model(inputs, layers.Dense(1, name="head")(encoder(inputs)))
    source = nnkit.utils.plot_model(model, tmp_path / "m.dot", expand_nested=True).read_text()
    assert "cluster_encoder" in source and "encoder/inner" in source
    assert "encoder/inner -> head" in source.replace('"', "")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_png_is_written_with_graphviz(tmp_path):
    path = nnkit.utils.plot_model(two_branch_model(), tmp_path / "model.png", dpi=40)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_without_pydot_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"nnkit-keras\[graph\]"):
        nnkit.utils.plot_model(two_branch_model(), tmp_path / "model.png")


def test_an_unbuilt_model_is_a_clear_error(tmp_path):
    class Subclassed(nnkit.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="not built"):
        nnkit.utils.plot_model(Subclassed(), tmp_path / "model.png")
