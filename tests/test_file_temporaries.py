"""No litter: a save killed mid-write leaves a temporary file, and the next save or load of that path removes it;
a temporary that a running save is still writing, or that is not nnkit's for that path, stays. Saved files get
the permissions a plain write would give them."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy
import pytest

import nnkit
from nnkit import layers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = socket.gethostname()


def model(units=3):
    return nnkit.Sequential([nnkit.Input(shape=(4,)), layers.Dense(units, kernel_initializer="ones")])


def temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".nnkit-tmp"))


def dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def start_python(script, *args, cwd, **options):
    env = dict(os.environ, PYTHONPATH=REPO, NNKIT_BACKEND="cpu")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], cwd=cwd, env=env,
                            text=True, **options)


# The save is killed after its bytes are written, before the rename: its temporary file stays behind.
KILLED_SAVE = """
    import os, signal, sys
    import nnkit
    from nnkit import layers

    path, method = sys.argv[1], sys.argv[2]
    model = nnkit.Sequential([nnkit.Input(shape=(4,)), layers.Dense(3, kernel_initializer="zeros")])
    model.compile(optimizer="adam", loss="mse")

    def killed(descriptor):
        os.kill(os.getpid(), signal.SIGKILL)
    os.fsync = killed
    getattr(model, method)(path)
"""


@pytest.mark.parametrize("method, name", [("save_weights", "w.weights.safetensors"), ("save", "m.nnkit")])
def test_the_next_save_removes_the_temporaries_of_saves_killed_by_sigkill(tmp_path, method, name):
    path = tmp_path / name
    left = []
    for _ in range(2):  # a crash loop: each killed save removes the previous one's temporary, leaves its own
        killed = start_python(KILLED_SAVE, path, method, cwd=tmp_path, stderr=subprocess.PIPE)
        assert killed.wait() == -signal.SIGKILL, killed.stderr.read()
        killed.stderr.close()
        (temporary,) = temporaries(tmp_path)
        assert temporary.startswith(f".{name}.{killed.pid}@{HOST}.") and temporary not in left
        left.append(temporary)

    saved = model()
    saved.compile(optimizer="adam", loss="mse")
    getattr(saved, method)(path)
    assert os.listdir(tmp_path) == [name]
    restored = model()
    restored.load_weights(path)
    numpy.testing.assert_array_equal(restored.get_weights()[0], numpy.ones((4, 3), "float32"))


def test_the_next_load_removes_them_too(tmp_path):
    path = tmp_path / "w.weights.safetensors"
    model().save_weights(path)
    killed = start_python(KILLED_SAVE, path, "save_weights", cwd=tmp_path)
    assert killed.wait() == -signal.SIGKILL
    assert len(temporaries(tmp_path)) == 1
    model().load_weights(path)
    assert os.listdir(tmp_path) == ["w.weights.safetensors"]


# Saves a 20 MB weights file over and over, until it is killed at an arbitrary point.
SAVING_LOOP = """
    import sys
    import nnkit
    from nnkit import layers

    model = nnkit.Sequential([nnkit.Input(shape=(1000,)), layers.Dense(5000)])
    print("saving", flush=True)
    while True:
        model.save_weights(sys.argv[1])
"""


def test_saves_killed_at_arbitrary_moments_leave_nothing_after_the_next_save(tmp_path):
    path = tmp_path / "big.weights.safetensors"
    for delay in (0.05, 0.4):
        saving = start_python(SAVING_LOOP, path, cwd=tmp_path, stdout=subprocess.PIPE)
        assert saving.stdout.readline() == "saving\n"
        time.sleep(delay)
        saving.send_signal(signal.SIGKILL)
        saving.wait()
        saving.stdout.close()
    model().save_weights(path)
    assert os.listdir(tmp_path) == ["big.weights.safetensors"]


# A save that stops after writing its temporary file and waits for a line on stdin before finishing.
PAUSED_SAVE = """
    import os, sys
    import nnkit
    from nnkit import layers

    model = nnkit.Sequential([nnkit.Input(shape=(4,)), layers.Dense(3, kernel_initializer="zeros")])
    real_fsync = os.fsync

    def paused(descriptor):
        print("written", flush=True)
        sys.stdin.readline()
        real_fsync(descriptor)
    os.fsync = paused
    model.save_weights(sys.argv[1])
"""


def test_a_save_running_in_another_process_keeps_its_temporary(tmp_path):
    path = tmp_path / "w.weights.safetensors"
    running = start_python(PAUSED_SAVE, path, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert running.stdout.readline() == "written\n"
        (theirs,) = temporaries(tmp_path)
        model().save_weights(path)
        model().load_weights(path)
        assert temporaries(tmp_path) == [theirs]
    finally:
        running.stdin.write("go on\n")
        running.stdin.close()
        assert running.wait(timeout=120) == 0
        running.stdout.close()
    assert os.listdir(tmp_path) == ["w.weights.safetensors"]
    numpy.testing.assert_array_equal(nnkit.models.files.read_safetensors(path)[0]["dense/kernel"],
                                     numpy.zeros((4, 3), "float32"))  # the later rename wins, whole


def test_only_nnkit_temporaries_of_that_path_from_this_machine_and_a_dead_process_are_removed(tmp_path):
    pid = dead_pid()
    stale = f".w.weights.safetensors.{pid}@{HOST}.0123abcd.nnkit-tmp"
    kept = [f".w.weights.safetensors.{pid}@another-machine.0123abcd.nnkit-tmp",  # its pid means nothing here
            f".w.weights.safetensors.{os.getpid()}@{HOST}.0123abcd.nnkit-tmp",  # a save in this process
            f".other.weights.safetensors.{pid}@{HOST}.0123abcd.nnkit-tmp",  # another path's
            ".w.weights.safetensors.k2j4_x9a.tmp",  # not named as nnkit's: nnkit cannot tell whose it is
            "w.weights.safetensors.0123abcd.nnkit-tmp.keep"]
    for name in [stale, *kept]:
        (tmp_path / name).write_bytes(b"partial")
    model().save_weights(tmp_path / "w.weights.safetensors")
    assert sorted(os.listdir(tmp_path)) == sorted(kept + ["w.weights.safetensors"])


@pytest.mark.skipif(os.name != "posix", reason="POSIX file locks")
def test_a_temporary_whose_writer_still_holds_its_lock_stays_though_its_pid_looks_dead(tmp_path):
    # As for a writer in another pid namespace (a container) on a machine of the same name.
    import fcntl
    temporary = tmp_path / f".w.weights.safetensors.{dead_pid()}@{HOST}.0123abcd.nnkit-tmp"
    temporary.write_bytes(b"partial")
    with open(temporary, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        model().save_weights(tmp_path / "w.weights.safetensors")
        assert temporary.exists()
    model().save_weights(tmp_path / "w.weights.safetensors")
    assert os.listdir(tmp_path) == ["w.weights.safetensors"]


# ---- permissions -------------------------------------------------------------------------------------------
@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)
    previous = os.umask(0o022)
    yield set_umask
    os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_gets_the_permissions_of_the_umask(tmp_path, umask):
    for mask, mode in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        umask(mask)
        path = tmp_path / f"w{mask:o}.weights.safetensors"
        model().save_weights(path)
        assert os.stat(path).st_mode & 0o777 == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_replaced_file_keeps_its_permissions(tmp_path, umask):
    path = tmp_path / "m.nnkit"
    model().save(path)
    os.chmod(path, 0o640)
    model(units=2).save(path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert nnkit.models.load_model(path).layers[0].units == 2
