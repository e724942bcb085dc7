"""BackupAndRestore: an interrupted ``fit`` (an exception, a kill) resumes where its last backup left it."""
import json
import os
import warnings

import numpy

from .. import backend, distribution
from .base import Callback
from ._saving import batch_save_due, check_folder_can_be_made, check_save_freq

METADATA = "training_metadata.json"
ENTRY_KEYS = ("file", "epoch", "step", "generators")
BACKUP_PREFIX, BACKUP_SUFFIX = "backup-", ".nnkit"


class BackupAndRestore(Callback):
    """Backs up the training state into ``backup_dir`` and restores it when ``fit`` starts again, so that an
    interrupted and resumed run ends with the weights of an uninterrupted one (Keras 3's callback).

    A backup is an nnkit model file (``model.save``: weights, optimizer slots and iteration count) plus
    ``training_metadata.json`` naming it with the epoch (and step) to resume at and the state of nnkit's global
    random generators. Each file is written atomically and the metadata last, so a kill at any moment leaves the
    previous backup whole; files a kill orphaned are removed at the next start or backup.

    On restore, ``fit`` starts at the epoch after the last backup (Keras' ``model._initial_epoch``); with an
    integer ``save_freq`` it also skips the steps of that epoch done before the backup (nnkit's addition: Keras
    restarts the epoch from its first batch). The shuffling order and dropout masks drawn from nnkit's global
    generators (``nnkit.utils.set_random_seed``) continue as they would have, on the CPU backend; CuPy's generator
    state cannot be saved, so on the GPU, and for layers given their own ``seed=``, they are drawn afresh. After a
    mid-epoch resume, that epoch's logs average only the steps run after it.

    The model must be the same architecture, compiled with the same optimizer; a backup that does not fit is a
    clear error. The learning rate must be one ``model.save`` can store (a number or a schedule).

    Args:
        backup_dir: the folder for the backup; no other callback or run may write there.
        save_freq: ``"epoch"`` (default): back up after every epoch; or a positive integer: after every that many
            batches, counted across epochs.
        double_checkpoint: keep the previous backup too; when the latest cannot be read, the previous one is
            restored (with a warning).
        delete_checkpoint: delete the backup when ``fit`` finishes (not when it raised or its loss diverged).
            Only the files this callback wrote are removed, and ``backup_dir`` when that leaves it empty (Keras
            removes the whole folder).

    Example:
        >>> backup = BackupAndRestore("/tmp/backup")
        >>> model.fit(x, y, epochs=10, callbacks=[backup])  # killed in epoch 5, run again: resumes at epoch 5
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore: backup_dir must name a folder. Received: backup_dir={backup_dir!r}")
        check_save_freq(save_freq, "BackupAndRestore")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, METADATA)
        self._backups = []  # the metadata's entries, newest first
        self._serial = 0
        self._batches_since_save = 0
        self._epoch = 0
        self._epoch_begin_generators = None
        self._generators_at_resumed_step = None

    # ---- restoring ---------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        check_folder_can_be_made(self._metadata_path, "BackupAndRestore")
        self._backups, self._serial, self._batches_since_save = [], 0, 0
        self._generators_at_resumed_step = None
        if os.path.exists(self._metadata_path):
            metadata = self._read_metadata()
            self._serial = metadata["serial"]
            self._backups = self._restore_newest(metadata["backups"])
        self._remove_unlisted_backups()

    def _read_metadata(self):
        files = _files()
        try:
            metadata = json.loads(files.read_bytes(self._metadata_path))
            complete = isinstance(metadata.get("serial"), int) and all(
                isinstance(entry, dict) and all(key in entry for key in ENTRY_KEYS) for entry in metadata["backups"])
        except (ValueError, KeyError, TypeError, AttributeError):
            complete = False
        if not complete:
            raise files.WeightsFileError(f"BackupAndRestore: '{self._metadata_path}' is not the metadata of a "
                                         f"backup (damaged, or written by something else). Remove it to start "
                                         f"afresh.")
        return metadata

    def _restore_newest(self, backups):
        """Restore the newest backup that can be read; returns the backups kept from there on."""
        for index, entry in enumerate(backups):
            try:
                self._restore(entry)
                return backups[index:]
            except (_files().WeightsFileError, OSError) as error:
                if index == len(backups) - 1:
                    raise
                warnings.warn(f"BackupAndRestore: the latest backup cannot be read ({error}); restoring the "
                              f"previous one.", stacklevel=3)
        return []

    def _restore(self, entry):
        from ..models import saving  # (the layer above callbacks: imported when used, as the trainer is loaded)
        files = _files()
        path = os.path.join(self.backup_dir, entry["file"])
        tensors, metadata = files.read_safetensors(path)
        try:
            iterations = json.loads(metadata["config"])["compile"]["optimizer"]["iterations"]
        except (KeyError, TypeError, ValueError):
            raise files.WeightsFileError(f"'{path}' is not a backup written by BackupAndRestore (it holds no "
                                         f"optimizer state).") from None
        self.model.load_weights(path)  # each checks the whole file against the model before it writes
        saving._restore_optimizer_state(self.model, tensors, iterations, path)
        self.model._initial_epoch, self.model._initial_step = entry["epoch"], entry["step"]
        _set_generator_states(entry["generators"])  # the shuffling order of the resumed epoch is drawn from these
        if entry["step"]:
            self._generators_at_resumed_step = entry["generators_at_step"]

    def on_train_batch_begin(self, batch, logs=None):
        if self._generators_at_resumed_step is not None:  # the first step run after a mid-epoch resume
            _set_generator_states(self._generators_at_resumed_step)
            self._generators_at_resumed_step = None

    # ---- backing up --------------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_begin_generators = _generator_states()

    def on_train_batch_end(self, batch, logs=None):
        if not batch_save_due(self):
            return
        if batch + 1 == self.params.get("steps"):  # the epoch's last step: resume at the next epoch
            self._back_up(self._epoch + 1, 0, _generator_states())
        else:
            self._back_up(self._epoch, batch + 1, self._epoch_begin_generators, _generator_states())

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._back_up(epoch + 1, 0, _generator_states())

    def _back_up(self, epoch, step, generators, generators_at_step=None):
        """Write the model to a new file, then the metadata that names it (the moment the backup counts), then
        remove the files no longer named."""
        self._serial += 1
        name = f"{BACKUP_PREFIX}{self._serial}{BACKUP_SUFFIX}"
        self.model.save(os.path.join(self.backup_dir, name))
        entry = {"file": name, "epoch": epoch, "step": step, "generators": generators}
        if step:
            entry["generators_at_step"] = generators_at_step
        self._backups = ([entry] + self._backups[:1]) if self.double_checkpoint else [entry]
        if not distribution.is_chief():
            return  # in a data-parallel job every process restores, rank 0 alone writes
        _files().atomic_write(self._metadata_path, json.dumps({"serial": self._serial, "backups": self._backups}
                                                           ).encode("utf-8"))
        self._remove_unlisted_backups()

    # ---- cleaning up -------------------------------------------------------------------------------------
    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not numpy.isfinite((logs or {}).get("loss", 0.0)):
            return  # fit raises after this on a diverged loss: keep the backup of the last good epoch
        self._backups = []
        if not distribution.is_chief():
            return
        self._remove_unlisted_backups()
        if os.path.exists(self._metadata_path):
            os.remove(self._metadata_path)
        if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)

    def _remove_unlisted_backups(self):
        """Delete the backup files the metadata does not name (superseded ones, or one a kill orphaned)."""
        if not os.path.isdir(self.backup_dir) or not distribution.is_chief():
            return
        listed = {entry["file"] for entry in self._backups}
        for name in os.listdir(self.backup_dir):
            if name.startswith(BACKUP_PREFIX) and name.endswith(BACKUP_SUFFIX) and name not in listed:
                os.remove(os.path.join(self.backup_dir, name))


def _files():
    """nnkit.models.files (atomic writes, checked reads), from the layer above callbacks, imported when used."""
    from ..models import files
    return files


def _generators():
    """nnkit's global generators whose state can be saved (NumPy's; CuPy's cannot)."""
    found = {"host": backend.host_rng(), "device": backend.device_rng()}
    return {name: generator for name, generator in found.items() if isinstance(generator, numpy.random.Generator)}


def _generator_states():
    return {name: generator.bit_generator.state for name, generator in _generators().items()}


def _set_generator_states(states):
    generators = _generators()
    for name, state in states.items():
        if name in generators:
            generators[name].bit_generator.state = state
