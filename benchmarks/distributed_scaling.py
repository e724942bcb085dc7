"""Data-parallel costs on this machine: the flat buffer's all-reduce time against its size, and training
throughput for 1 and N processes. Run each under the launcher of your choice; rank 0 prints one JSON line.

    mpiexec -n 2 python benchmarks/distributed_scaling.py allreduce          # CPU, MPI
    python benchmarks/distributed_scaling.py throughput                      # 1 process
    mpiexec -n 2 python benchmarks/distributed_scaling.py throughput         # 2 processes
    python -m nnkit.distribution.launch -n 8 benchmarks/distributed_scaling.py allreduce   # GPUs, NCCL

Set OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) the same for every run you compare.
"""
import argparse
import json
import time

import numpy

import nnkit
from nnkit import backend
from nnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D


def allreduce(sizes, repeats):
    parallel = nnkit.distribution.distribution()
    communicator, xp = parallel.communicator, backend.xp()
    rows = []
    for size in sizes:
        buffer = xp.ones(size, dtype=numpy.float32)
        communicator.allreduce_sum(buffer)  # warm-up (opens NCCL on the GPU)
        times = []
        for _ in range(repeats):
            communicator.barrier()
            start = time.perf_counter()
            communicator.allreduce_sum(buffer)
            if backend.is_gpu():
                backend.cupy.cuda.get_current_stream().synchronize()
            times.append(time.perf_counter() - start)
        median = float(numpy.median(times))
        rows.append({"floats": size, "MB": size * 4 / 1e6, "median_ms": median * 1e3,
                     "algorithm_GB_per_s": size * 4 / median / 1e9})
    return rows


def throughput(samples, batch_size, epochs):
    nnkit.utils.set_random_seed(0)
    rng = numpy.random.default_rng(0)
    x = rng.random((samples, 28, 28, 1), dtype=numpy.float32)
    y = rng.integers(0, 10, samples)
    model = nnkit.Sequential([nnkit.Input(shape=(28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                              Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:batch_size * 2], y[:batch_size * 2], batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    epoch = float(numpy.median(times))
    return {"model": "Keras MNIST CNN", "samples": samples, "global_batch": batch_size,
            "median_epoch_s": epoch, "samples_per_s": samples / epoch}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["allreduce", "throughput"])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000,10000000", help="floats per buffer")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    nnkit.distribution.set_distribution(nnkit.distribution.DataParallel())
    parallel = nnkit.distribution.distribution()
    if args.what == "allreduce":
        result = allreduce([int(s) for s in args.sizes.split(",")], args.repeats)
    else:
        result = throughput(args.samples, args.batch_size, args.epochs)
    if parallel.is_chief:
        print(json.dumps({"processes": parallel.num_processes, "backend": backend.name(), "result": result}))


if __name__ == "__main__":
    main()
