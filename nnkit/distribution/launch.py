"""Start a data-parallel job on this machine: ``python -m nnkit.distribution.launch -n N train.py [args...]``.

On a machine with GPUs it starts N processes itself, one per GPU, with torchrun's variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); they meet at a TCP rendezvous served by rank 0 and
reduce over NCCL, so no MPI is needed. On the CPU, where the reductions run on MPI, it hands the job to
``mpiexec`` (the ``mpich`` wheel of ``nnkit-keras[distributed]`` provides one). ``--engine`` chooses explicitly.

When a process fails, the launcher stops the others and exits with the failed one's code, naming its rank.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time


def _free_port():
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def _has_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device: all mean "no GPU here"
        return False


def _mpiexec():
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside_python if os.path.exists(beside_python) else shutil.which("mpiexec")


def _stop(processes, grace=10.0):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spawn(count, command, master_port=None, master_addr="127.0.0.1"):
    """Run ``command`` (a list) in ``count`` processes with torchrun's variables; returns the job's exit code: 0,
    or the first failed process's (the others are stopped)."""
    port = master_port or _free_port()
    processes = []
    for rank in range(count):
        environment = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(count), LOCAL_RANK=str(rank),
                           LOCAL_WORLD_SIZE=str(count), MASTER_ADDR=master_addr, MASTER_PORT=str(port))
        processes.append(subprocess.Popen(command, env=environment))
    try:
        while True:
            codes = [process.poll() for process in processes]
            failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                rank, code = failed[0]
                print(f"nnkit.distribution.launch: rank {rank} exited with code {code}; stopping the other "
                      f"processes.", file=sys.stderr, flush=True)
                _stop(processes)
                return code
            if all(code == 0 for code in codes):
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(processes)
        return 130


def main(argv=None):
    """The command line: parse ``argv`` and run the job; returns its exit code."""
    parser = argparse.ArgumentParser(prog="python -m nnkit.distribution.launch", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--nproc", type=int, required=True, help="number of processes")
    parser.add_argument("--engine", choices=["auto", "spawn", "mpi"], default="auto",
                        help="spawn: start the processes here (GPUs, NCCL); mpi: hand them to mpiexec; auto: spawn "
                             "when a GPU is found, else mpi")
    parser.add_argument("--master-port", type=int, help="rendezvous port (default: a free one)")
    parser.add_argument("script", help="the training script")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the script's arguments")
    args = parser.parse_args(argv)
    if args.nproc < 1:
        parser.error(f"-n must be a positive number of processes. Received: {args.nproc}")
    command = [sys.executable, args.script, *args.arguments]
    engine = args.engine if args.engine != "auto" else ("spawn" if _has_gpu() else "mpi")
    if engine == "mpi":
        mpiexec = _mpiexec()
        if mpiexec is None:
            parser.error("no GPU was found, and training on the CPU across processes runs on MPI, but there is no "
                         "mpiexec: pip install 'nnkit-keras[distributed]' (mpi4py and the mpich wheel), or pass "
                         "--engine spawn on a machine with GPUs.")
        return subprocess.call([mpiexec, "-n", str(args.nproc), *command])
    return spawn(args.nproc, command, args.master_port)


if __name__ == "__main__":
    sys.exit(main())
