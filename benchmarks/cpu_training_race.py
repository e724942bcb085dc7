"""CPU training race: nnkit (NumPy + compiled kernels) against PyTorch and Keras 3 on JAX, each in its own process.

    python benchmarks/cpu_training_race.py                       # all four models, every library found
    python benchmarks/cpu_training_race.py --models cnn,mlp --rounds 3 --threads 1

What is compared, per model: the same data, the same model and the same initial weights (nnkit's, converted to
each library's layout), trained through each library's ordinary loop: nnkit's and Keras' ``fit``, a PyTorch loop
over a ``randperm`` of the training set. Each (library, model) run is a fresh process; the runs of a round are
interleaved in a rotating order, and a library's figure is the median over rounds of the median epoch time of a
run (its first epoch, which compiles or warms up, is left out). A "step" is one training step on one fixed batch
(nnkit's ``train_step``, ``zero_grad/forward/backward/step`` in PyTorch, Keras' ``train_on_batch``), the median of
``--steps`` after a warm-up. The test accuracy after the run's epochs is printed beside the times.

Threads are pinned the same way for every library: the process is bound to the first ``--threads`` CPUs of this
machine (``sched_setaffinity``) and OMP/OpenBLAS/MKL/nnkit are told that count through their environment variables
(PyTorch also through ``torch.set_num_threads``, XLA through ``intra_op_parallelism_threads``); each worker
reports the BLAS thread pools it found (threadpoolctl, where installed).

Models (Keras definitions; sparse categorical cross-entropy or binary cross-entropy, Adam, lr 1e-3):
    cnn      the Keras MNIST CNN: Conv2D(32, 3, relu), MaxPooling2D(2), Flatten, Dense(128, relu), Dense(10), batch 64
    convnet  keras-io "Simple MNIST convnet": Conv2D(32, 3, relu), MaxPooling2D(2), Conv2D(64, 3, relu),
             MaxPooling2D(2), Flatten, Dropout(0.5), Dense(10), batch 128
    mlp      784-128(relu)-Dropout(0.2)-10, batch 64
    lstm     a text classifier: Embedding(1000, 32), LSTM(64), Dense(1, sigmoid) over 80 tokens, batch 64

Data: MNIST when its four IDX files are in ``--mnist-dir`` (or ``$NNKIT_DATA_DIR/mnist``); otherwise the real
handwritten digits nnkit ships (1,437 training images of 8x8, scaled to 28x28 and shifted by up to 2 pixels to fill
``--samples`` images; 360 test images). Nothing is downloaded. The LSTM reads token sequences drawn at random
whose class is whether they hold more "positive" than "negative" marker tokens (no text corpus is reachable
offline); a step's time does not depend on the token values.
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
LIBRARIES = ("nnkit", "torch", "keras-jax")
#: Also accepted by --libraries: nnkit with its compiled CPU kernels switched off (NNKIT_CPU_KERNELS=0).
KNOWN_LIBRARIES = LIBRARIES + ("nnkit-numpy",)
MODELS = {"cnn": 64, "convnet": 128, "mlp": 64, "lstm": 64}  # model -> batch size
VOCABULARY, TOKENS, MARKERS = 1000, 80, 20


# ---- the parent: prepare once, then run every (library, model) in its own process, interleaved ---------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is left out of the median")
    parser.add_argument("--steps", type=int, default=30, help="single steps timed per run")
    parser.add_argument("--samples", type=int, default=4096, help="training images (or sequences) per epoch")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--python", default=sys.executable, help="interpreter with nnkit and torch")
    parser.add_argument("--keras-python", default=os.environ.get("KERAS_PYTHON", "/work/kerasenv/bin/python"),
                        help="interpreter with keras and jax (skipped when it has no jax)")
    parser.add_argument("--worker", nargs=3, metavar=("LIBRARY", "MODEL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args)

    models = [m for m in args.models.split(",") if m]
    libraries = [lib for lib in args.libraries.split(",") if lib]
    for name, known, kind in ((models, MODELS, "model"), (libraries, KNOWN_LIBRARIES, "library")):
        unknown = sorted(set(name) - set(known))
        if unknown:
            parser.error(f"unknown {kind} {unknown}; expected some of {list(known)}")
    cpus = sorted(os.sched_getaffinity(0))[:args.threads]
    if len(cpus) < args.threads:
        parser.error(f"--threads {args.threads}: this process may run on only {len(cpus)} CPUs")
    libraries = [lib for lib in libraries if library_available(lib, args)]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="nnkit-race-"))
    try:
        print("command:", " ".join([pathlib.Path(sys.executable).name] + sys.argv), flush=True)
        print(f"machine: {machine_summary()}; pinned to CPUs {cpus}", flush=True)
        data_note = spawn(args, "nnkit", "prepare", workdir, cpus)["data"]
        print(f"data: {data_note}", flush=True)
        results = {}
        for round_index in range(args.rounds):
            for model in models:
                shift = round_index % len(libraries)
                for library in libraries[shift:] + libraries[:shift]:
                    result = spawn(args, library, model, workdir, cpus)
                    results.setdefault((model, library), []).append(result)
                    print(f"  round {round_index + 1} {model:8s} {library:10s} epoch {result['epoch']:.3f} s  "
                          f"step {result['step'] * 1e3:.2f} ms  accuracy {result['accuracy']:.3f}", flush=True)
        print_table(results, models, libraries, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def library_available(library, args):
    if library == "keras-jax":
        probe = [args.keras_python, "-c", "import jax, keras"]
    else:
        probe = [args.python, "-c", f"import {library.split('-')[0]}"]
    try:
        found = subprocess.run(probe, capture_output=True, env=worker_env(args, library, 1)).returncode == 0
    except OSError:
        found = False
    if not found:
        print(f"skipping {library}: `{' '.join(probe)}` failed", flush=True)
    return found


def worker_env(args, library, threads):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NNKIT_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NNKIT_BACKEND"] = "cpu"
    if library == "nnkit-numpy":
        env["NNKIT_CPU_KERNELS"] = "0"
    if library == "keras-jax":
        env["KERAS_BACKEND"] = "jax"
        env["JAX_PLATFORMS"] = "cpu"
        env["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                            f"intra_op_parallelism_threads={threads}")
    return env


def spawn(args, library, model, workdir, cpus):
    python = args.keras_python if library == "keras-jax" else args.python
    command = [python, str(pathlib.Path(__file__).resolve()), "--worker", library, model, str(workdir),
               "--epochs", str(args.epochs), "--steps", str(args.steps), "--samples", str(args.samples),
               "--threads", str(len(cpus))] + (["--mnist-dir", args.mnist_dir] if args.mnist_dir else [])
    done = subprocess.run(command, capture_output=True, text=True, env=worker_env(args, library, len(cpus)),
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    if done.returncode != 0:
        raise SystemExit(f"{library} {model} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_summary():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs, load average {load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"


def print_table(results, models, libraries, args):
    print(f"\nMedian over {args.rounds} rounds of each run's median epoch time (epochs 2..{args.epochs} of "
          f"{args.samples} samples) and median single-step time; ratio = library / PyTorch; accuracy = test "
          f"accuracy after {args.epochs} epochs (per round)\n")
    print("| model | library | epoch | vs torch | step | vs torch | accuracy |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for model in models:
        torch_runs = results.get((model, "torch"))
        for library in libraries:
            runs = results[(model, library)]
            epoch = statistics.median(r["epoch"] for r in runs)
            step = statistics.median(r["step"] for r in runs)
            if torch_runs:
                epoch_ratio = f"{epoch / statistics.median(r['epoch'] for r in torch_runs):.2f}x"
                step_ratio = f"{step / statistics.median(r['step'] for r in torch_runs):.2f}x"
            else:
                epoch_ratio = step_ratio = "-"
            accuracy = ", ".join(f"{r['accuracy']:.3f}" for r in runs)
            print(f"| {model} (batch {MODELS[model]}) | {runs[0]['label']} | {epoch:.3f} s | {epoch_ratio} | "
                  f"{step * 1e3:.2f} ms | {step_ratio} | {accuracy} |")
    print()
    for library in libraries:
        runs = [r for model in models for r in results[(model, library)]]
        print(f"{library}: {runs[0]['versions']}; thread pools: {runs[0]['threads']}")


# ---- the workers ---------------------------------------------------------------------------------------------------

def run_worker(args):
    library, model, workdir = args.worker
    workdir = pathlib.Path(workdir)
    if model == "prepare":
        result = {"data": prepare(workdir, args)}
    else:
        result = run(trainer(library, model, workdir, args.threads), args)
        result["threads"] = blas_threads()
    print(json.dumps(result))


def blas_threads():
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl not installed"
    return ", ".join(f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpoolctl.threadpool_info())


def prepare(workdir, args):
    """Writes data.npz (every model's data) and <model>.npz (nnkit's initial weights) into ``workdir``."""
    import numpy
    images, note = image_data(args, numpy)
    rng = numpy.random.default_rng(0)
    tokens = rng.integers(MARKERS * 2, VOCABULARY, (args.samples + 1000, TOKENS))
    marks = rng.integers(0, MARKERS * 2, tokens.shape)
    placed = rng.random(tokens.shape) < 0.1
    tokens = numpy.where(placed, marks, tokens)
    positive = (placed & (marks < MARKERS)).sum(axis=1) > (placed & (marks >= MARKERS)).sum(axis=1)
    numpy.savez(workdir / "data.npz", **images, tokens_train=tokens[:args.samples],
                labels_train=positive[:args.samples].astype(numpy.float32), tokens_test=tokens[args.samples:],
                labels_test=positive[args.samples:].astype(numpy.float32))
    for model in MODELS:
        weights = nnkit_model(model).get_weights()
        numpy.savez(workdir / f"{model}.npz", *weights)
    return note


def image_data(args, numpy):
    import nnkit
    from nnkit.primitives import image
    directory = args.mnist_dir or (os.path.join(os.environ["NNKIT_DATA_DIR"], "mnist")
                                   if os.environ.get("NNKIT_DATA_DIR") else None)
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    if directory and all(os.path.exists(os.path.join(directory, name)) for name in names):
        (x_train, y_train), (x_test, y_test) = nnkit.datasets.mnist.load_data(directory)
        x_train, x_test = x_train[:args.samples] / 255.0, x_test[:2000] / 255.0
        note = f"MNIST from {directory}: {len(x_train)} training images, {len(x_test)} test images"
    else:
        (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
        rows = image.interpolation_matrix(8, 28)

        def upscale(x):  # (N, 8, 8) in 0..16 -> (N, 28, 28) in 0..1, bilinear
            return image.resize((x / 16.0)[..., None], rows, rows)[..., 0]
        rng = numpy.random.default_rng(1)
        pick = numpy.arange(args.samples) % len(x_train)
        x_train, y_train = upscale(x_train.astype(numpy.float64))[pick], y_train[pick]
        shifts = rng.integers(-2, 3, (args.samples, 2))
        x_train = numpy.stack([shifted(numpy, x, dy, dx) for x, (dy, dx) in zip(x_train, shifts)])
        x_test = upscale(x_test.astype(numpy.float64))
        note = (f"nnkit's real handwritten digits (no MNIST files found), scaled to 28x28: {len(x_train)} training "
                f"images (the 1,437 shifted by up to 2 pixels), {len(x_test)} test images")
    return {"x_train": x_train.astype(numpy.float32)[..., None], "y_train": y_train.astype(numpy.int64),
            "x_test": x_test.astype(numpy.float32)[..., None], "y_test": y_test.astype(numpy.int64)}, note


def shifted(numpy, x, dy, dx):
    out = numpy.zeros_like(x)
    H, W = x.shape
    out[max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = x[max(-dy, 0):H - max(dy, 0),
                                                                   max(-dx, 0):W - max(dx, 0)]
    return out


def load(workdir, model):
    import numpy
    data = dict(numpy.load(workdir / "data.npz"))
    weights = numpy.load(workdir / f"{model}.npz")
    weights = [weights[f"arr_{i}"] for i in range(len(weights.files))]
    if model == "lstm":
        return data["tokens_train"], data["labels_train"], data["tokens_test"], data["labels_test"], weights
    if model == "mlp":
        flat = {k: data[k].reshape(len(data[k]), -1) for k in ("x_train", "x_test")}
        return flat["x_train"], data["y_train"], flat["x_test"], data["y_test"], weights
    return data["x_train"], data["y_train"], data["x_test"], data["y_test"], weights


def keras_layers(ns, model):
    """The model's layers from a namespace with Keras' names (``nnkit.layers`` or ``keras.layers``)."""
    if model == "cnn":
        return [ns.Input(shape=(28, 28, 1)), ns.Conv2D(32, 3, activation="relu"), ns.MaxPooling2D(2), ns.Flatten(),
                ns.Dense(128, activation="relu"), ns.Dense(10, activation="softmax")]
    if model == "convnet":
        return [ns.Input(shape=(28, 28, 1)), ns.Conv2D(32, 3, activation="relu"), ns.MaxPooling2D(2),
                ns.Conv2D(64, 3, activation="relu"), ns.MaxPooling2D(2), ns.Flatten(), ns.Dropout(0.5),
                ns.Dense(10, activation="softmax")]
    if model == "mlp":
        return [ns.Input(shape=(784,)), ns.Dense(128, activation="relu"), ns.Dropout(0.2),
                ns.Dense(10, activation="softmax")]
    return [ns.Input(shape=(TOKENS,)), ns.Embedding(VOCABULARY, 32), ns.LSTM(64), ns.Dense(1, activation="sigmoid")]


def compile_args(model):
    loss = "binary_crossentropy" if model == "lstm" else "sparse_categorical_crossentropy"
    return {"loss": loss, "metrics": ["accuracy"]}


def nnkit_model(model):
    import nnkit
    nnkit.utils.set_random_seed(0)
    network = nnkit.Sequential(keras_layers(nnkit.layers, model))
    network.compile(optimizer=nnkit.optimizers.Adam(learning_rate=1e-3), **compile_args(model))
    return network


def median_time(function, count, warm_up=5):
    for _ in range(warm_up):
        function()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(trainer, args):
    """``--epochs`` timed epochs, the test accuracy, then ``--steps`` timed single steps: the worker's result."""
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        trainer.epoch()
        times.append(time.perf_counter() - start)
    accuracy = trainer.accuracy()
    step = median_time(trainer.step, args.steps)
    return {"label": trainer.label, "versions": trainer.versions(), "epochs": times,
            "epoch": statistics.median(times[1:] or times), "step": step, "accuracy": float(accuracy)}


class NnkitTrainer:
    """nnkit's ordinary loop: ``fit`` one epoch at a time; a step is the public ``train_step`` on one batch."""

    def __init__(self, model, workdir, label="nnkit (NumPy)"):
        from nnkit import backend
        self.label = label
        self.x, self.y, self.x_test, self.y_test, weights = load(workdir, model)
        self.batch_size = MODELS[model]
        self.network = nnkit_model(model)
        self.network.set_weights(weights)
        self.batch = (backend.to_device(self.x[:self.batch_size], dtype=backend.floatx()),
                      backend.to_device(self.y[:self.batch_size]))

    def epoch(self):
        self.network.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)

    def step(self):
        self.network.train_step(self.batch)

    def accuracy(self):
        return self.network.evaluate(self.x_test, self.y_test, verbose=0)[1]

    def versions(self):
        import numpy
        from nnkit import _cpu
        compiled = "compiled kernels" if _cpu.unavailable_reason() is None else "NumPy only"
        return f"nnkit (NumPy {numpy.__version__}, {compiled}, {_cpu.num_threads()} kernel threads)"


def torch_model(torch, model, weights):
    """The model in PyTorch (NCHW inside; NHWC data is permuted on the way in), holding nnkit's weights."""
    nn = torch.nn
    if model == "cnn":
        layers = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(13 * 13 * 32, 128),
                  nn.ReLU(), nn.Linear(128, 10)]
        shapes = {4: (13, 13, 32)}
    elif model == "convnet":
        layers = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Dropout(0.5), nn.Linear(5 * 5 * 64, 10)]
        shapes = {8: (5, 5, 64)}
    elif model == "mlp":
        layers = [nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)]
        shapes = {}
    else:
        return torch_lstm_classifier(torch, weights)
    network = nn.Sequential(*layers)
    parameters = iter(weights)
    with torch.no_grad():
        for index, layer in enumerate(network):
            if isinstance(layer, nn.Conv2d):
                layer.weight.copy_(torch.from_numpy(next(parameters).transpose(3, 2, 0, 1).copy()))
                layer.bias.copy_(torch.from_numpy(next(parameters)))
            elif isinstance(layer, nn.Linear):
                kernel = next(parameters)
                if index in shapes:  # nnkit flattens (h, w, c), torch (c, h, w): reorder the rows
                    h, w, c = shapes[index]
                    kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
                layer.weight.copy_(torch.from_numpy(kernel.T.copy()))
                layer.bias.copy_(torch.from_numpy(next(parameters)))
    return network


def torch_lstm_classifier(torch, weights):
    """Embedding -> LSTM(64) (last output) -> Linear(1); Keras' gate order (i, f, c, o) is PyTorch's (i, f, g, o)."""
    embeddings, kernel, recurrent_kernel, bias, dense_kernel, dense_bias = weights

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCABULARY, 32)
            self.lstm = torch.nn.LSTM(32, 64, batch_first=True)
            self.dense = torch.nn.Linear(64, 1)

        def forward(self, tokens):
            outputs, _ = self.lstm(self.embedding(tokens))
            return self.dense(outputs[:, -1]).squeeze(1)
    network = Classifier()
    with torch.no_grad():
        for parameter, value in ((network.embedding.weight, embeddings), (network.lstm.weight_ih_l0, kernel.T),
                                 (network.lstm.weight_hh_l0, recurrent_kernel.T), (network.lstm.bias_ih_l0, bias),
                                 (network.lstm.bias_hh_l0, 0 * bias), (network.dense.weight, dense_kernel.T),
                                 (network.dense.bias, dense_bias)):
            parameter.copy_(torch.from_numpy(value.copy()))
    return network


class TorchTrainer:
    """PyTorch's ordinary loop: a ``randperm`` of the training set in batches, zero_grad/forward/backward/step."""
    label = "PyTorch (CPU)"

    def __init__(self, model, workdir, threads):
        import torch
        self.torch = torch
        torch.set_num_threads(threads)
        x, y, x_test, y_test, weights = load(workdir, model)
        self.network = torch_model(torch, model, weights)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=1e-3, eps=1e-7)  # Keras' epsilon
        self.binary = model == "lstm"
        self.loss_fn = torch.nn.BCEWithLogitsLoss() if self.binary else torch.nn.CrossEntropyLoss()
        nchw = (lambda a: a.transpose(0, 3, 1, 2).copy()) if x.ndim == 4 else (lambda a: a)
        self.x, self.x_test = torch.from_numpy(nchw(x)), torch.from_numpy(nchw(x_test))
        self.y, self.y_test = torch.from_numpy(y), torch.from_numpy(y_test)
        self.batch_size = MODELS[model]

    def train_on(self, x_batch, y_batch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.network(x_batch), y_batch)
        loss.backward()
        self.optimizer.step()

    def epoch(self):
        order = self.torch.randperm(len(self.x))
        for begin in range(0, len(self.x), self.batch_size):
            index = order[begin:begin + self.batch_size]
            self.train_on(self.x[index], self.y[index])

    def step(self):
        self.train_on(self.x[:self.batch_size], self.y[:self.batch_size])

    def accuracy(self):
        self.network.eval()
        with self.torch.no_grad():
            outputs = self.network(self.x_test)
        self.network.train()
        predicted = (outputs > 0).float() if self.binary else outputs.argmax(dim=1)
        return (predicted == self.y_test).float().mean().item()

    def versions(self):
        return f"PyTorch {self.torch.__version__} ({self.torch.get_num_threads()} threads)"


class KerasTrainer:
    """Keras 3's ordinary loop (on JAX here): ``fit`` one epoch at a time; a step is ``train_on_batch``."""
    label = "Keras 3 on JAX"

    def __init__(self, model, workdir):
        import keras
        self.keras = keras
        self.x, self.y, self.x_test, self.y_test, weights = load(workdir, model)
        self.batch_size = MODELS[model]
        self.network = keras.Sequential(keras_layers(keras.layers, model))
        self.network.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), **compile_args(model))
        self.network.set_weights(weights)

    def epoch(self):
        self.network.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)

    def step(self):
        self.network.train_on_batch(self.x[:self.batch_size], self.y[:self.batch_size])

    def accuracy(self):
        return self.network.evaluate(self.x_test, self.y_test, verbose=0)[1]

    def versions(self):
        import jax
        return f"Keras {self.keras.__version__} on {self.keras.backend.backend()} (JAX {jax.__version__}, CPU)"


def trainer(library, model, workdir, threads):
    if library == "nnkit":
        return NnkitTrainer(model, workdir)
    if library == "nnkit-numpy":
        return NnkitTrainer(model, workdir, label="nnkit (NumPy only)")
    if library == "torch":
        return TorchTrainer(model, workdir, threads)
    return KerasTrainer(model, workdir)


if __name__ == "__main__":
    main()
