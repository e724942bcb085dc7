"""A data-parallel job for tests/test_distributed.py, run as ``mpiexec -n N python worker.py CASE OUTDIR`` (or
alone, as the one-process reference). Rank 0 writes what the test compares to OUTDIR.

CASE: mlp | cnn | lstm   train 2 epochs (global batch 64), then evaluate and predict; every step checks that all
                         ranks hold identical weights; rank 0 writes result.npz (weights, History, evaluate, predict).
      files              every rank saves to its own file name; only rank 0's may appear.
      fail               rank 1 raises in the middle of epoch 2.
      mismatch           rank 1 asks for a different batch size.
      rendezvous         (nnkit's launcher, --engine spawn) the TCP rendezvous's exchanges; rank 0 writes
                         rendezvous.json.
      exit               (nnkit's launcher) rank 1 exits with code 3 while rank 0 waits at a barrier.
"""
import json
import os
import sys

import numpy

import nnkit
from nnkit import layers


def data(case):
    rng = numpy.random.default_rng(7)
    count = 200  # 3 full batches of 64 and a last one of 8
    if case == "cnn":
        x = rng.normal(size=(count, 8, 8, 1)).astype("float32")
    elif case == "lstm":
        x = rng.normal(size=(count, 6, 3)).astype("float32")
    else:
        x = rng.normal(size=(count, 12)).astype("float32")
    y = rng.integers(0, 4, size=count)
    return x, y


def model_for(case, input_shape):
    hidden = {
        "mlp": [layers.Dense(32, activation="relu"), layers.Dropout(0.3), layers.Dense(16, activation="tanh")],
        "cnn": [layers.Conv2D(6, 3, activation="relu"), layers.BatchNormalization(synchronized=True),
                layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.2)],
        "lstm": [layers.LSTM(8), layers.Dropout(0.1)],
    }[case]
    return nnkit.Sequential([nnkit.Input(shape=input_shape), *hidden, layers.Dense(4, activation="softmax")])


class SameWeightsEverywhere(nnkit.callbacks.Callback):
    """After every step: every rank's weights equal rank 0's, bit for bit."""

    def on_train_batch_end(self, batch, logs=None):
        parallel = nnkit.distribution.data_parallel()
        if parallel is None:
            return
        mine = numpy.concatenate([numpy.ravel(w) for w in self.model.get_weights()])
        theirs = parallel.communicator.broadcast(mine.copy())
        if not numpy.array_equal(mine, theirs):
            raise AssertionError(f"rank {parallel.rank}: weights differ from rank 0's after step {batch}")


class FailOnRankOne(nnkit.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if nnkit.distribution.distribution().rank == 1 and self.epoch == 1 and batch == 1:
            raise ValueError("injected failure on rank one")


def rendezvous(case, outdir):
    parallel = nnkit.distribution.initialize()
    communicator, rank = parallel.communicator, parallel.rank
    if case == "exit" and rank == 1:
        sys.exit(3)
    gathered = communicator.allgather_object({"rank": rank, "pid": os.getpid()})
    greeting = communicator.broadcast_object("from rank 0" if rank == 0 else None)
    communicator.barrier()
    try:
        communicator.allreduce_sum(numpy.ones(3))
        host_error = None
    except RuntimeError as error:
        host_error = str(error)
    if rank == 0:
        with open(os.path.join(outdir, "rendezvous.json"), "w") as handle:
            json.dump({"ranks": [g["rank"] for g in gathered], "pids": len({g["pid"] for g in gathered}),
                       "greeting": greeting, "host_error": host_error,
                       "devices": nnkit.distribution.list_devices()}, handle)


def main(case, outdir):
    if case in ("rendezvous", "exit"):
        return rendezvous(case, outdir)
    nnkit.distribution.set_distribution(nnkit.distribution.DataParallel())
    rank = nnkit.distribution.distribution().rank
    nnkit.utils.set_random_seed(1 + rank * (case == "mlp"))  # ranks start apart: fit must give them rank 0's state
    kind = case if case in ("mlp", "cnn", "lstm") else "mlp"
    x, y = data(kind)
    model = model_for(kind, x.shape[1:])
    model.compile(optimizer=nnkit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = [SameWeightsEverywhere()]
    batch_size = 64
    if case == "fail":
        callbacks.append(FailOnRankOne())
    if case == "mismatch" and rank == 1:
        batch_size = 32
    if case == "files":
        callbacks.append(nnkit.callbacks.CSVLogger(os.path.join(outdir, f"log_rank{rank}.csv")))
    history = model.fit(x, y, batch_size=batch_size, epochs=2, validation_data=(x[:50], y[:50]), verbose=0,
                        callbacks=callbacks)
    evaluated = model.evaluate(x, y, batch_size=48, verbose=0)
    predicted = model.predict(x, batch_size=48, verbose=0)
    if case == "files":
        model.save(os.path.join(outdir, f"model_rank{rank}.nnkit"))
        model.save_weights(os.path.join(outdir, f"weights_rank{rank}.weights.safetensors"))
    if rank == 0:
        numpy.savez(os.path.join(outdir, "result.npz"), *model.get_weights(), evaluated=numpy.array(evaluated),
                    predicted=predicted, **{f"history_{k}": numpy.array(v) for k, v in history.history.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
