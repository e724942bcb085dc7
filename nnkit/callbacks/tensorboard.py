"""TensorBoard: the event files Keras' callback writes (scalars, weight histograms, the model's config), through
the ``tensorboard`` package alone: its event-file writer and summary protos, no TensorFlow."""
import json
import os
import time

from .base import Callback

INSTALL_HINT = 'pip install "nnkit-keras[tensorboard]"'


class TensorBoard(Callback):
    """Writes what Keras 3's TensorBoard callback writes, for ``tensorboard --logdir=log_dir``:

    - ``log_dir/train``: ``epoch_<name>`` for every training log, ``epoch_learning_rate`` and (with
      ``write_steps_per_second``) ``epoch_steps_per_second``, at step = epoch (from 0); with an ``update_freq`` in
      batches, ``batch_<name>`` (the epoch's running means) every ``update_freq`` steps, at step = the step count
      of this fit (from 1); the model's config (tag ``keras``, TensorBoard's Keras graph view) with ``write_graph``;
      ``<model name>/<weight>/histogram`` every ``histogram_freq`` epochs, the weight named as in nnkit's weight
      files (``sequential/dense_1/kernel/histogram``; Keras uses the layers' own names, which differ when other
      layers of the class were made before).
    - ``log_dir/validation``: ``epoch_<name>`` of the ``val_`` logs (without the prefix), and
      ``evaluation_<name>_vs_iterations`` at step = optimizer iterations after every evaluation (fit's validation
      or ``evaluate(callbacks=[...])``).

    Needs the ``tensorboard`` package (``pip install "nnkit-keras[tensorboard]"``); without it, creating the callback
    raises an ImportError saying so. TensorFlow is not needed.

    Args:
        log_dir: the folder of the event files (not to be shared with other runs' callbacks).
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the model's config for TensorBoard's graph view. Sequential models only: TensorBoard
            reads functional graphs from Keras' own config layout (``inbound_nodes``), which nnkit's differs from.
        write_images: not supported (Keras draws weights as images through TensorFlow's PNG encoder); True is a
            ValueError.
        write_steps_per_second: also log the training steps per second.
        update_freq: ``"epoch"`` (default), ``"batch"`` (every step) or an integer number of steps.
        profile_batch: 0 only: profiling needs TensorFlow or JAX (Keras refuses it on its torch and numpy
            backends too).
        embeddings_freq: 0 only (the projector is not supported).
        embeddings_metadata: None only.

    Example:
        >>> model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[TensorBoard("logs/run1")])
    """
    chief_only = True  # rank 0 alone writes in a data-parallel job

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self._protos = _tensorboard_modules()
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer (epochs). Received: "
                             f"histogram_freq={histogram_freq!r}")
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq <= 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer (steps). "
                             f"Received: update_freq={update_freq!r}")
        unsupported = {"write_images": write_images, "profile_batch": profile_batch,
                       "embeddings_freq": embeddings_freq, "embeddings_metadata": embeddings_metadata}
        for name, value in unsupported.items():
            if value:
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported by nnkit (it needs TensorFlow); "
                                 f"leave it at its default.")
        self.histogram_freq, self.write_graph, self.write_images = histogram_freq, write_graph, write_images
        self.write_steps_per_second, self.update_freq = write_steps_per_second, update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._in_fit = False

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        if self.write_graph and type(model).__name__ == "Sequential":
            self._write_model_config()

    # ---- training ----------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_start_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        step = self._global_train_batch
        if self.write_steps_per_second:
            self._scalar("train", "batch_steps_per_second", 1.0 / (time.perf_counter() - self._batch_start), step)
        for name, value in dict(logs or {}).items():
            self._scalar("train", f"batch_{name}", value, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {name: value for name, value in logs.items() if not name.startswith("val_")}
        train["learning_rate"] = self.model.optimizer.current_learning_rate()  # a schedule's value now
        if self.write_steps_per_second:
            train["steps_per_second"] = ((self._iterations() - self._epoch_start_iterations)
                                         / (time.perf_counter() - self._epoch_start))
        for name, value in train.items():
            self._scalar("train", f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self._scalar("validation", f"epoch_{name[4:]}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    # ---- evaluation --------------------------------------------------------------------------------------
    def on_test_end(self, logs=None):
        if self.model.optimizer is not None:
            for name, value in dict(logs or {}).items():
                self._scalar("validation", f"evaluation_{name}_vs_iterations", value, self._iterations())
        if not self._in_fit:  # evaluate(callbacks=[...]) ends here
            self._close_writers()

    # ---- writing -----------------------------------------------------------------------------------------
    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = self._protos["EventFileWriter"](os.path.join(self.log_dir, run))
        return self._writers[run]

    def _write(self, run, summary, step):
        event = self._protos["Event"](wall_time=time.time(), step=int(step), summary=summary)
        self._writer(run).add_event(event)

    def _scalar(self, run, tag, value, step):
        self._write(run, self._protos["scalar_pb"](tag, float(value)), step)

    def _write_histograms(self, epoch):
        for spec, value in zip(self.model._weight_specs, self.model.get_weights()):
            tag = f"{self.model.name}/{spec.name}/histogram"
            self._write("train", self._protos["histogram_pb"](tag, value), epoch)

    def _write_model_config(self):
        """The model's config as Keras' ``keras_model_summary`` writes it: a string tensor, plugin
        ``graph_keras_model``, at step 0."""
        from ..layers.serialization import serialize
        protos = self._protos
        metadata = protos["SummaryMetadata"](plugin_data=protos["SummaryMetadata"].PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = protos["make_tensor_proto"](json.dumps(serialize(self.model)).encode("utf-8"))
        summary = protos["Summary"]()
        summary.value.add(tag="keras", metadata=metadata, tensor=tensor)
        self._write("train", summary, 0)
        self._writer("train").flush()

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _iterations(self):
        optimizer = self.model.optimizer
        return 0 if optimizer is None else int(optimizer.iterations)


def _tensorboard_modules():
    """The parts of the ``tensorboard`` package the callback writes with, or an ImportError naming the extra."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util.tensor_util import make_tensor_proto
    except ImportError as error:
        raise ImportError(f"nnkit.callbacks.TensorBoard writes its event files with the tensorboard package, which "
                          f"could not be imported ({error}). Install it with: {INSTALL_HINT} (TensorFlow is not "
                          f"needed).") from None
    return {"Event": Event, "Summary": Summary, "SummaryMetadata": SummaryMetadata, "histogram_pb": histogram_pb,
            "scalar_pb": scalar_pb, "EventFileWriter": EventFileWriter, "make_tensor_proto": make_tensor_proto}
