"""Damaged files are refused, never loaded as wrong weights: byte flips in the data and the header, truncation,
header edits (dtype, shape, offsets, metadata), malformed headers; and files written before nnkit stored digests
still load.

The property every case checks: a load either raises WeightsFileError naming the file, leaving the model as it
was, or returns exactly the values that were saved.
"""
import hashlib
import json
import os
import re

import numpy
import pytest
import safetensors
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnkit
from nnkit import layers
from nnkit.models import WeightsFileError, load_model
from nnkit.models.files import read_safetensors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def architecture():
    """Two Dense layers with biases of one size (so their byte ranges can be swapped) and a non-square kernel."""
    return nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(4)])


class Saved:
    """A small trained model, its two files' bytes, and what a load must give back."""

    def __init__(self, directory):
        model = architecture()
        model.compile(optimizer="adam", loss="mse")
        x = numpy.linspace(-1, 1, 24, dtype="float32").reshape(8, 3)
        model.fit(x, numpy.ones((8, 4), "float32"), batch_size=4, epochs=1, verbose=0)
        self.weights = [numpy.array(w) for w in model.get_weights()]
        self.slots = [numpy.array(v) for v in model.optimizer.variables()]
        self.iterations = int(model.optimizer.iterations)
        self.config = model.get_config()
        model.save_weights(os.path.join(directory, "w.weights.safetensors"))
        model.save(os.path.join(directory, "m.nnkit"))
        self.weights_file = open(os.path.join(directory, "w.weights.safetensors"), "rb").read()
        self.model_file = open(os.path.join(directory, "m.nnkit"), "rb").read()
        self.directory = directory
        self.target = architecture()  # loaded into again and again; holds zeros between loads
        self.zero_target()

    def zero_target(self):
        self.target.set_weights([numpy.zeros_like(w) for w in self.weights])

    def write(self, name, data):
        path = os.path.join(self.directory, name)
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def load_weights(self, data):
        """"refused" or "exact"; anything else (wrong values, another exception) fails the test."""
        path = self.write("damaged.weights.safetensors", data)
        try:
            self.target.load_weights(path)
        except WeightsFileError as error:
            assert path in str(error)
            for value in self.target.get_weights():  # refused before any weight changed
                assert not value.any()
            return "refused"
        for expected, loaded in zip(self.weights, self.target.get_weights(), strict=True):
            assert loaded.dtype == expected.dtype
            numpy.testing.assert_array_equal(loaded, expected)
        self.zero_target()
        return "exact"

    def load_model(self, data):
        path = self.write("damaged.nnkit", data)
        try:
            model = load_model(path)
        except WeightsFileError as error:
            assert path in str(error)
            return "refused"
        assert model.get_config() == self.config
        for expected, loaded in zip(self.weights + self.slots,
                                    model.get_weights() + list(model.optimizer.variables()), strict=True):
            assert loaded.dtype == expected.dtype
            numpy.testing.assert_array_equal(loaded, expected)
        assert int(model.optimizer.iterations) == self.iterations
        return "exact"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return Saved(str(tmp_path_factory.mktemp("saved")))


def split(data):
    """``(header as a dict, tensor bytes)`` of a safetensors file, read here with json alone."""
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size]), data[8 + size:]


def joined(header, body):
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def flipped(data, position, mask):
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1:]


# ---- what is written ---------------------------------------------------------------------------------------
def test_files_stay_plain_safetensors_with_a_digest_of_every_tensor_and_metadata_entry(saved):
    with safetensors.safe_open(os.path.join(saved.directory, "m.nnkit"), framework="np") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    digests = json.loads(metadata["nnkit_sha256"])
    assert set(digests["tensors"]) == set(tensors)
    assert set(digests["metadata"]) == {"format", "nnkit_version", "config"}
    kernel = tensors["dense/kernel"]
    assert kernel.shape == (3, 4)
    expected = hashlib.sha256(b'["<f4", [3, 4]]' + kernel.astype("<f4").tobytes()).hexdigest()
    assert digests["tensors"]["dense/kernel"] == expected
    assert digests["metadata"]["config"] == hashlib.sha256(metadata["config"].encode()).hexdigest()


def test_the_digest_record_is_not_part_of_the_metadata_read_back(saved):
    _, metadata = read_safetensors(os.path.join(saved.directory, "w.weights.safetensors"))
    assert set(metadata) == {"format", "nnkit_version"}


# ---- files written before digests ----------------------------------------------------------------------------
def legacy_weight(shape, offset):
    return ((numpy.arange(numpy.prod(shape)) + offset) / 8.0 - 1.0).reshape(shape).astype("float32")


LEGACY_SHAPES = [(3, 4), (4,), (4, 2), (2,)]


def test_files_written_before_digests_still_load():
    expected = [legacy_weight(shape, 10 * index) for index, shape in enumerate(LEGACY_SHAPES)]
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.load_weights(os.path.join(DATA, "legacy.weights.safetensors"))
    for value, reference in zip(model.get_weights(), expected, strict=True):
        numpy.testing.assert_array_equal(value, reference)

    restored = load_model(os.path.join(DATA, "legacy.nnkit"))
    for value, reference in zip(restored.get_weights(), expected, strict=True):
        numpy.testing.assert_array_equal(value, reference)
    assert [layer.units for layer in restored.layers] == [4, 2]
    assert int(restored.optimizer.iterations) == 1
    raw = safetensors.numpy.load_file(os.path.join(DATA, "legacy.nnkit"))
    m, v = restored.optimizer.variables()
    numpy.testing.assert_array_equal(m[:12], raw["optimizer/m/dense/kernel"].reshape(-1))
    numpy.testing.assert_array_equal(v[-2:], raw["optimizer/v/dense_1/bias"])


# ---- damaged data and headers: exhaustive at the file level --------------------------------------------------
def test_every_single_byte_flip_of_either_file_is_refused_or_harmless(saved, tmp_path):
    for data in (saved.weights_file, saved.model_file):
        original, original_metadata = read_safetensors("original", data)
        outcomes = set()
        for position in range(len(data)):
            for mask in (0x01, 0x80, 0xFF):
                try:
                    tensors, metadata = read_safetensors("damaged", flipped(data, position, mask))
                except WeightsFileError as error:
                    assert "'damaged'" in str(error)
                    outcomes.add("refused")
                    continue
                # Only a flip that keeps the meaning (header padding turned into other JSON whitespace) loads.
                assert metadata == original_metadata
                assert set(tensors) == set(original)
                for name, value in tensors.items():
                    assert value.dtype == original[name].dtype
                    numpy.testing.assert_array_equal(value, original[name])
                outcomes.add("exact")
        assert "refused" in outcomes


def test_a_flipped_data_byte_names_the_file_and_the_damaged_tensor(saved):
    header, body = split(saved.weights_file)
    begin, _ = header["dense_1/bias"]["data_offsets"]
    damaged = flipped(saved.weights_file, len(saved.weights_file) - len(body) + begin + 2, 0x10)
    path = saved.write("damaged.weights.safetensors", damaged)
    with pytest.raises(WeightsFileError, match=re.escape(f"'{path}' is damaged: the tensors ['dense_1/bias'] do "
                                                         f"not match their SHA-256 digests")):
        saved.target.load_weights(path)


def test_every_truncation_of_either_file_is_refused(saved):
    for data in (saved.weights_file, saved.model_file):
        for keep in range(len(data)):
            with pytest.raises(WeightsFileError, match="'cut'"):
                read_safetensors("cut", data[:keep])


# ---- damaged files: at the model level, with hypothesis --------------------------------------------------
@PROPERTY
@given(data=st.data())
def test_a_byte_flip_anywhere_is_refused_or_loads_the_saved_values(saved, data):
    for load, content in ((saved.load_weights, saved.weights_file), (saved.load_model, saved.model_file)):
        position = data.draw(st.integers(0, len(content) - 1))
        mask = data.draw(st.integers(1, 255))
        load(flipped(content, position, mask))


@PROPERTY
@given(data=st.data())
def test_a_truncated_file_is_refused_by_both_loaders(saved, data):
    for load, content in ((saved.load_weights, saved.weights_file), (saved.load_model, saved.model_file)):
        assert load(content[:data.draw(st.integers(0, len(content) - 1))]) == "refused"


@PROPERTY
@given(data=st.data())
def test_bytes_appended_or_overwritten_in_runs_are_refused_or_harmless(saved, data):
    for load, content in ((saved.load_weights, saved.weights_file), (saved.load_model, saved.model_file)):
        start = data.draw(st.integers(0, len(content)))
        junk = data.draw(st.binary(min_size=1, max_size=16))
        load(content[:start] + junk + content[start + len(junk):])


# ---- header edits ------------------------------------------------------------------------------------------
def edit_entry(name, **changes):
    def edit(header):
        header[name] = {**header[name], **changes}
        return header
    return edit


def swap_offsets(first, second):
    def edit(header):
        header[first]["data_offsets"], header[second]["data_offsets"] = (header[second]["data_offsets"],
                                                                        header[first]["data_offsets"])
        return header
    return edit


def replace_entry(name, value):
    def edit(header):
        header[name] = value
        return header
    return edit


def drop_entry(name):
    def edit(header):
        del header[name]
        return header
    return edit


def drop_key(name, key):
    def edit(header):
        del header[name][key]
        return header
    return edit


def edit_metadata(**changes):
    def edit(header):
        metadata = {**header["__metadata__"], **changes}
        header["__metadata__"] = {key: value for key, value in metadata.items() if value is not None}
        return header
    return edit


def rename(old, new):
    def edit(header):
        header[new] = header.pop(old)
        return header
    return edit


def shift_range(name, by):
    def edit(header):
        begin, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = [begin + by, end + by]
        return header
    return edit


def more_units(header):
    config = json.loads(header["__metadata__"]["config"])
    config["model"]["config"]["layers"][0]["config"]["units"] = 5
    header["__metadata__"]["config"] = json.dumps(config)
    return header


DIGEST_MISMATCH = r"do not match their SHA-256 digests"
HEADER_EDITS = {
    # dtype and shape: reinterpretation of the same bytes
    "F32 declared I32": (edit_entry("dense/kernel", dtype="I32"), r"tensors \['dense/kernel'\] " + DIGEST_MISMATCH),
    "F32 declared U32": (edit_entry("dense/bias", dtype="U32"), r"\['dense/bias'\] " + DIGEST_MISMATCH),
    "F32 declared F16, twice the elements": (edit_entry("dense/bias", dtype="F16", shape=[8]), DIGEST_MISMATCH),
    "F32 declared F64 (size no longer fits)": (edit_entry("dense/bias", dtype="F64"),
                                               r"tensor 'dense/bias' is declared F64 of shape \(4,\) \(32 bytes\)"),
    "kernel shape transposed": (edit_entry("dense/kernel", shape=[4, 3]), r"\['dense/kernel'\] " + DIGEST_MISMATCH),
    "kernel shape flattened": (edit_entry("dense/kernel", shape=[12]), r"\['dense/kernel'\] " + DIGEST_MISMATCH),
    "shape with a wrong size": (edit_entry("dense/kernel", shape=[3, 3]), "holds 48"),
    "dtype NumPy cannot hold": (edit_entry("dense/bias", dtype="BF16", shape=[8]), "dtype 'BF16'"),
    "dtype unknown": (edit_entry("dense/bias", dtype="F33"), "dtype 'F33'"),
    "dtype a number": (edit_entry("dense/bias", dtype=32), "dtype 32"),
    "shape of strings": (edit_entry("dense/bias", shape=["4"]), r"shape \['4'\]"),
    "shape of floats": (edit_entry("dense/bias", shape=[4.0]), r"shape \[4.0\]"),
    "negative shape": (edit_entry("dense/bias", shape=[-4]), r"shape \[-4\]"),
    "shape null": (edit_entry("dense/bias", shape=None), "shape None"),
    "shape a table": (edit_entry("dense/bias", shape={"0": 4}), "shape"),
    "shape true": (edit_entry("dense/bias", shape=[True, 4]), "shape"),
    # byte ranges
    "two same-size ranges swapped": (swap_offsets("dense/bias", "dense_1/bias"), DIGEST_MISMATCH),
    "offsets as strings": (edit_entry("dense/bias", data_offsets=["48", "64"]), "data_offsets"),
    "offsets as floats": (edit_entry("dense/bias", data_offsets=[48.0, 64.0]), "data_offsets"),
    "one offset": (edit_entry("dense/bias", data_offsets=[48]), "data_offsets"),
    "three offsets": (edit_entry("dense/bias", data_offsets=[48, 56, 64]), "data_offsets"),
    "reversed offsets": (edit_entry("dense/bias", data_offsets=[64, 48]), "data_offsets"),
    "negative offsets": (edit_entry("dense/bias", data_offsets=[-16, 0]), "data_offsets"),
    "offsets a table": (edit_entry("dense/bias", data_offsets={"begin": 48}), "data_offsets"),
    "range moved out of the data": (shift_range("dense/bias", 10_000), "truncated: its header declares"),
    "two tensors on one range": (lambda h: edit_entry("dense/bias", data_offsets=h["dense_1/bias"]["data_offsets"])(h),
                                 "overlap|belong to no tensor"),
    # entries
    "entry a list": (replace_entry("dense/bias", ["F32", [4], [48, 64]]),
                     r'\'dense/bias\' is described by \["F32", \[4\], \[48, 64\]\]'),
    "entry a string": (replace_entry("dense/bias", "F32"), '\'dense/bias\' is described by "F32", not a table'),
    "entry a number": (replace_entry("dense/bias", 7), "'dense/bias' is described by 7,"),
    "entry null": (replace_entry("dense/bias", None), "'dense/bias' is described by null,"),
    "no dtype": (drop_key("dense/bias", "dtype"), "'dense/bias' has no dtype"),
    "no shape": (drop_key("dense/bias", "shape"), "'dense/bias' has no shape"),
    "no offsets": (drop_key("dense/bias", "data_offsets"), "'dense/bias' has no data_offsets"),
    "tensor renamed": (rename("dense/bias", "dense/bias2"), r"\['dense/bias'\] were written but are not in the file"),
    "tensor removed": (drop_entry("dense_1/bias"), "belong to no tensor|after its last tensor"),
    # metadata
    "config edited": (more_units, r"metadata entries \['config'\] " + DIGEST_MISMATCH),
    "format edited": (edit_metadata(format="nnkit.other"), r"\['format'\] " + DIGEST_MISMATCH),
    "version edited": (edit_metadata(nnkit_version="9.9"), r"\['nnkit_version'\] " + DIGEST_MISMATCH),
    "format a lone surrogate": (edit_metadata(format="\ud800"), "not a valid safetensors file"),
    "metadata entry added": (edit_metadata(note="x"), r"\['note'\] are in the file but were not written with it"),
    "digest record garbled": (edit_metadata(nnkit_sha256="{not json"), "digest record .* is damaged"),
    "digest record a list": (edit_metadata(nnkit_sha256="[]"), "digest record .* is damaged"),
    "digest record renamed": (lambda h: edit_metadata(nnkit_sha257=h["__metadata__"]["nnkit_sha256"],
                                                      nnkit_sha256=None)(h),
                              r"entries \['nnkit_sha257'\], which nnkit files without a digest record never have"),
    "metadata a list": (replace_entry("__metadata__", ["format"]), "__metadata__ must be a table of strings"),
    "metadata of numbers": (edit_metadata(format=1), "__metadata__ must be a table of strings"),
    "header a list": (lambda header: [header], "is not a safetensors file"),
    # edits that change nothing a load returns
    "header re-serialised unchanged": (lambda header: header, None),
    "unknown key in an entry": (edit_entry("dense/bias", comment="bias"), None),
    "digest record removed (read as a file from before digests)": (edit_metadata(nnkit_sha256=None), None),
}


@pytest.mark.parametrize("case", HEADER_EDITS)
def test_header_edits_are_refused_naming_the_file_or_load_the_saved_values(saved, case):
    edit, message = HEADER_EDITS[case]
    for load, content in ((saved.load_weights, saved.weights_file), (saved.load_model, saved.model_file)):
        header, body = split(content)
        if case == "config edited" and "config" not in header["__metadata__"]:
            assert load(content) == "exact"
            continue
        damaged = joined(edit(header), body)
        if message is None:
            assert load(damaged) == "exact"
        else:
            assert load(damaged) == "refused"
            with pytest.raises(WeightsFileError, match=message):
                read_safetensors("edited", damaged)


def test_a_name_that_appears_twice_in_the_header_is_refused(saved):
    header, body = split(saved.weights_file)
    text = json.dumps(header).replace('"dense_1/bias"', '"dense/bias"').encode()
    damaged = len(text).to_bytes(8, "little") + text + body
    with pytest.raises(WeightsFileError, match="'dense/bias' appears twice"):
        read_safetensors("edited", damaged)
    assert saved.load_weights(damaged) == "refused"


def test_bytes_after_the_last_tensor_are_refused(saved):
    with pytest.raises(WeightsFileError, match="8 bytes after its last tensor"):
        read_safetensors("longer", saved.weights_file + bytes(8))


# ---- configurations nnkit cannot rebuild -------------------------------------------------------------------
def first_layer(config):
    return config["model"]["config"]["layers"][0]["config"]


CONFIG_EDITS = {
    "no floatx": lambda config: config.pop("floatx"),
    "floatx unknown": lambda config: config.update(floatx="float33"),
    "unknown layer argument": lambda config: first_layer(config).update(unitz=3),
    "unknown optimizer argument": lambda config: config["compile"]["optimizer"]["config"].update(betaa=0.5),
    "no iterations": lambda config: config["compile"]["optimizer"].pop("iterations"),
    "iterations a word": lambda config: config["compile"]["optimizer"].update(iterations="many"),
    "model a list": lambda config: config.update(model=[1]),
    "no compile entry": lambda config: config.pop("compile"),
}


@pytest.mark.parametrize("case", CONFIG_EDITS)
def test_a_configuration_nnkit_cannot_rebuild_is_a_file_error_naming_the_file(tmp_path, case):
    # Files from before digests: nothing caught the edit while reading, so building the model must.
    header, body = split(open(os.path.join(DATA, "legacy.nnkit"), "rb").read())
    config = json.loads(header["__metadata__"]["config"])
    CONFIG_EDITS[case](config)
    header["__metadata__"]["config"] = json.dumps(config)
    path = tmp_path / "edited.nnkit"
    path.write_bytes(joined(header, body))
    # (a step count that is not a number is caught where the optimizer state is restored: "is damaged")
    with pytest.raises(WeightsFileError, match=re.escape(f"'{path}'") + " (holds a configuration nnkit cannot "
                       "rebuild|is damaged)"):
        load_model(path)
