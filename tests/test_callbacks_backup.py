"""BackupAndRestore: a fit interrupted by an exception or a kill, run again, ends with the weights of an
uninterrupted run (float64, shuffled batches, dropout, Adam), by epoch and by batch."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy
import pytest

import nnkit
from nnkit import backend, layers
from nnkit.callbacks import BackupAndRestore, Callback
from nnkit.models.files import WeightsFileError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS, BATCH = 4, 16  # 64 samples: 4 steps per epoch


def data():
    rng = numpy.random.default_rng(3)
    x = rng.normal(size=(64, 5))
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.1 * rng.normal(size=(64, 1)))
    return x, y


def model(seed):
    nnkit.utils.set_random_seed(seed)
    network = nnkit.Sequential([nnkit.Input(shape=(5,)), layers.Dense(8, activation="tanh"), layers.Dropout(0.25),
                                layers.Dense(1)])
    network.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="mse")
    return network


def uninterrupted():
    backend.set_floatx("float64")
    network = model(seed=7)
    network.fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return network.get_weights()


class Interrupt(Callback):
    """Raises before step ``step`` of epoch ``epoch`` (a crash in the middle of training)."""

    def __init__(self, epoch, step=0):
        super().__init__()
        self.at, self.epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt(f"interrupted before epoch {self.epoch} step {batch}")


class Seen(Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.steps.append((self.epoch, batch))


def interrupted_then_resumed(backup_dir, save_freq, at, **options):
    """Train until ``at`` = (epoch, step), then, as a new process would, with other seeds and fresh weights, fit
    again with the same BackupAndRestore folder; returns the final weights and the steps the second fit ran."""
    backend.set_floatx("float64")
    with pytest.raises(KeyboardInterrupt):
        model(seed=7).fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=[
            BackupAndRestore(backup_dir, save_freq=save_freq, **options), Interrupt(*at)])
    assert os.path.exists(os.path.join(backup_dir, "training_metadata.json"))
    resumed, seen = model(seed=99), Seen()
    history = resumed.fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                          callbacks=[BackupAndRestore(backup_dir, save_freq=save_freq, **options), seen])
    return resumed.get_weights(), seen.steps, history


def assert_same(expected, actual):
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual):
        assert got.dtype == numpy.float64
        numpy.testing.assert_array_equal(got, want)


def test_an_epoch_backup_resumes_at_the_next_epoch_with_the_same_result(tmp_path):
    expected = uninterrupted()
    weights, steps, history = interrupted_then_resumed(str(tmp_path / "backup"), "epoch", at=(2, 3))
    assert history.epoch == [2, 3] and steps[0] == (2, 0)  # epochs 0 and 1 were backed up; 2 runs again
    assert_same(expected, weights)
    assert not os.path.exists(tmp_path / "backup")  # deleted once fit finished (delete_checkpoint=True)


def test_a_batch_backup_resumes_at_the_next_step_with_the_same_result(tmp_path):
    expected = uninterrupted()
    # save_freq=3: backups after global steps 3, 6, 9 (epoch 2 step 0); interrupted before epoch 2 step 2
    weights, steps, history = interrupted_then_resumed(str(tmp_path / "backup"), 3, at=(2, 2))
    assert steps[:3] == [(2, 1), (2, 2), (2, 3)] and history.epoch == [2, 3]
    assert_same(expected, weights)


def test_a_backup_after_an_epochs_last_step_resumes_at_the_next_epoch(tmp_path):
    expected = uninterrupted()
    weights, steps, _ = interrupted_then_resumed(str(tmp_path / "backup"), 4, at=(2, 1))  # backups at epoch ends
    assert steps[0] == (2, 0)
    assert_same(expected, weights)


def test_without_the_optimizer_state_the_result_differs(tmp_path):
    """What the comparisons above rest on: a restart from the weights alone (a fresh Adam) ends elsewhere."""
    backend.set_floatx("float64")
    first = model(seed=7)
    first.fit(*data(), epochs=2, batch_size=BATCH, verbose=0)
    restarted = model(seed=7)
    restarted.set_weights(first.get_weights())
    restarted.fit(*data(), epochs=EPOCHS, initial_epoch=2, batch_size=BATCH, verbose=0)
    assert not numpy.array_equal(restarted.get_weights()[0], uninterrupted()[0])


def test_delete_checkpoint_false_keeps_one_backup_of_the_last_epoch(tmp_path):
    backend.set_floatx("float64")
    network = model(seed=7)
    network.fit(*data(), epochs=2, batch_size=BATCH, verbose=0,
                callbacks=[BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    metadata = json.loads((tmp_path / "training_metadata.json").read_text())
    assert [(b["epoch"], b["step"]) for b in metadata["backups"]] == [(2, 0)]
    assert sorted(os.listdir(tmp_path)) == [metadata["backups"][0]["file"], "training_metadata.json"]
    restored = nnkit.models.load_model(tmp_path / metadata["backups"][0]["file"])
    assert_same(network.get_weights(), restored.get_weights())
    # A later fit with the same folder resumes after epoch 2: with epochs=2 nothing is left to run.
    assert model(seed=1).fit(*data(), epochs=2, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))]).epoch == []


def test_double_checkpoint_restores_the_previous_backup_when_the_latest_is_damaged(tmp_path):
    expected = uninterrupted()
    backend.set_floatx("float64")
    backup_dir = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model(seed=7).fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=[
            BackupAndRestore(backup_dir, double_checkpoint=True), Interrupt(3)])
    metadata = json.loads(open(os.path.join(backup_dir, "training_metadata.json")).read())
    latest, previous = metadata["backups"]
    assert (latest["epoch"], previous["epoch"]) == (3, 2)
    with open(os.path.join(backup_dir, latest["file"]), "r+b") as stream:
        stream.truncate(100)
    resumed, seen = model(seed=99), Seen()
    with pytest.warns(UserWarning, match="the latest backup cannot be read .*truncated|the latest backup cannot be"):
        resumed.fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                    callbacks=[BackupAndRestore(backup_dir, double_checkpoint=True), seen])
    assert seen.steps[0] == (2, 0)
    assert_same(expected, resumed.get_weights())


def test_a_file_orphaned_by_a_kill_is_removed_and_the_backup_it_would_have_replaced_is_used(tmp_path):
    backend.set_floatx("float64")
    with pytest.raises(KeyboardInterrupt):
        model(seed=7).fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                          callbacks=[BackupAndRestore(str(tmp_path), delete_checkpoint=False), Interrupt(2)])
    (tmp_path / "backup-3.nnkit").write_bytes(b"half a file")  # killed before the metadata named it
    seen = Seen()
    model(seed=99).fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                       callbacks=[BackupAndRestore(str(tmp_path), delete_checkpoint=False), seen])
    assert seen.steps[0] == (2, 0)
    assert sorted(os.listdir(tmp_path)) == ["backup-4.nnkit", "training_metadata.json"]


def test_a_backup_of_another_architecture_is_refused_before_training(tmp_path):
    backend.set_floatx("float64")
    model(seed=7).fit(*data(), epochs=1, verbose=0, callbacks=[BackupAndRestore(str(tmp_path),
                                                                                delete_checkpoint=False)])
    other = nnkit.Sequential([nnkit.Input(shape=(5,)), layers.Dense(3), layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    seen = Seen()
    with pytest.raises(WeightsFileError, match="do not fit model"):
        other.fit(*data(), epochs=2, verbose=0, callbacks=[BackupAndRestore(str(tmp_path)), seen])
    assert seen.steps == []


def test_damaged_metadata_is_a_clear_error(tmp_path):
    (tmp_path / "training_metadata.json").write_text('{"serial": 1, "backups": [{"file": "x"}]}')
    with pytest.raises(WeightsFileError, match="training_metadata.json' is not the metadata of a backup"):
        model(seed=1).fit(*data(), epochs=1, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])


@pytest.mark.parametrize("arguments, message", [
    ({"backup_dir": ""}, "backup_dir must name a folder"),
    ({"backup_dir": "b", "save_freq": 0}, "save_freq must be 'epoch' or a positive integer"),
])
def test_bad_arguments_are_refused_at_construction(arguments, message):
    with pytest.raises(ValueError, match=message):
        BackupAndRestore(**arguments)


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy
    import nnkit
    sys.path.insert(0, sys.argv[3])
    from test_callbacks_backup import BATCH, EPOCHS, data, model
    from nnkit.callbacks import BackupAndRestore, LambdaCallback

    nnkit.backend.set_floatx("float64")
    backup_dir, out = sys.argv[1], sys.argv[2]
    kill = LambdaCallback(on_train_batch_begin=lambda batch, logs: os.kill(os.getpid(), signal.SIGKILL)
                          if os.environ.get("KILL_AT") == f"{len(steps)}" else None)
    steps = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    network = model(seed=int(os.environ["SEED"]))
    network.fit(*data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                callbacks=[BackupAndRestore(backup_dir, save_freq=5), count, kill])
    numpy.save(out, numpy.concatenate([w.ravel() for w in network.get_weights()]))
""")


def test_a_killed_process_resumes_in_a_new_one_with_the_same_result(tmp_path):
    expected = numpy.concatenate([w.ravel() for w in uninterrupted()])
    env = dict(os.environ, PYTHONPATH=REPO, NNKIT_BACKEND="cpu")
    arguments = [sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "backup"), str(tmp_path / "w.npy"),
                 os.path.dirname(os.path.abspath(__file__))]
    killed = subprocess.run(arguments, env=dict(env, SEED="7", KILL_AT="11"), capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # after 11 steps; the backup holds 10
    resumed = subprocess.run(arguments, env=dict(env, SEED="99"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    numpy.testing.assert_array_equal(numpy.load(tmp_path / "w.npy"), expected)
