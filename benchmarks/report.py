"""Turn a pytest-benchmark JSON of benchmarks/test_kernels.py into a table of time, effective GB/s and the
fraction of the device's measured copy bandwidth, and write it as the GPU section of benchmarks/RESULTS.md
(other sections of that file are kept as they are).

    python3 benchmarks/report.py OUT.json [--results benchmarks/RESULTS.md] [--command "..."]
"""
import argparse
import json
import pathlib
import sys

BEGIN = "<!-- gpu-kernels: begin (written by benchmarks/report.py) -->"
END = "<!-- gpu-kernels: end -->"
COPY_GROUP_PREFIX = "copy"


def load(path):
    with open(path) as stream:
        return json.load(stream)


def copy_bandwidth(benchmarks):
    """Bytes per second of the device-to-device copy benchmark (median), or None."""
    for bench in benchmarks:
        if bench.get("extra_info", {}).get("reference") == "copy":
            return bench["extra_info"]["bytes"] / bench["stats"]["median"]
    return None


def format_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def table(benchmarks, copy):
    """Markdown rows grouped by benchmark group, fastest first, with each variant's speed-up of nnkit."""
    groups = {}
    for bench in benchmarks:
        groups.setdefault(bench.get("group") or bench["name"], []).append(bench)
    lines = ["| benchmark | variant | median | GB/s | of copy bandwidth | nnkit is faster by |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for group, members in groups.items():
        members.sort(key=lambda b: b["stats"]["median"])
        nnkit = [b for b in members if b.get("extra_info", {}).get("variant", "").startswith("nnkit")]
        nnkit_time = nnkit[0]["stats"]["median"] if nnkit else None
        for bench in members:
            info = bench.get("extra_info", {})
            median = bench["stats"]["median"]
            nbytes = info.get("bytes", 0)
            rate = nbytes / median if nbytes else None
            gbs = f"{rate / 1e9:.0f}" if rate else ""
            fraction = f"{rate / copy:.0%}" if rate and copy and not info.get("variant", "").startswith("numpy") else ""
            ratio = "" if nnkit_time is None or bench in nnkit else f"{median / nnkit_time:.2f}x"
            lines.append(f"| {group} | {info.get('variant', bench['name'])} | {format_time(median)} | {gbs} | "
                         f"{fraction} | {ratio} |")
    return lines


def section(data, command):
    machine = data.get("machine_info", {})
    gpu = machine.get("gpu", {})
    commit = data.get("commit_info", {})
    benchmarks = data.get("benchmarks", [])
    copy = copy_bandwidth(benchmarks)

    def version(v):
        return f"{v // 1000}.{v % 1000 // 10}" if isinstance(v, int) else "?"
    header = [BEGIN, "## GPU kernels", "",
              f"- device: {gpu.get('name', 'unknown GPU')} (compute capability {gpu.get('compute_capability', '?')}), "
              f"CuPy {gpu.get('cupy', '?')}, CUDA runtime {version(gpu.get('cuda_runtime'))}, "
              f"driver {version(gpu.get('cuda_driver'))}" + (f", torch {gpu['torch']}" if "torch" in gpu else ""),
              f"- host: {machine.get('cpu', {}).get('brand_raw', machine.get('processor', '?'))}, "
              f"Python {machine.get('python_version', '?')}",
              f"- date: {data.get('datetime', '?')}",
              f"- commit: {commit.get('id', '?')}" + (" (with uncommitted changes)" if commit.get("dirty") else ""),
              f"- command: `{command}`",
              f"- measured copy bandwidth: {copy / 1e9:.0f} GB/s (read + write)" if copy else
              "- measured copy bandwidth: not in this run",
              "",
              "GB/s counts the least memory traffic a call needs (e.g. 28 bytes per parameter for Adam); "
              "'nnkit is faster by' is the variant's median time over nnkit's. Every timed call ends with a "
              "device synchronisation.",
              ""]
    return header + table(benchmarks, copy) + ["", END]


def write_section(results_path, lines):
    """Replace the GPU section of ``results_path`` (or append it), keeping every other section."""
    path = pathlib.Path(results_path)
    text = path.read_text() if path.exists() else "# nnkit benchmark results\n"
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="pytest-benchmark JSON (--benchmark-json)")
    parser.add_argument("--results", default=str(pathlib.Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--command", default="bash benchmarks/gpu_run.sh")
    parser.add_argument("--commit", help="the commit measured, when the JSON lacks it (a run outside a git checkout)")
    args = parser.parse_args(argv)
    data = load(args.json)
    if args.commit:
        data["commit_info"] = {"id": args.commit}
    if not data.get("benchmarks"):
        print(f"{args.json} holds no benchmarks.", file=sys.stderr)
        return 1
    lines = section(data, args.command)
    write_section(args.results, lines)
    print("\n".join(lines[1:-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
