#!/usr/bin/env bash
# The GPU check, in one script, from the repository root on a CUDA machine (no installs, no network):
#     bash benchmarks/gpu_run.sh
# 1. copy bandwidth, 2. python3 -m nnkit.selftest, 3. python3 -m pytest -m gpu -q, 4. the kernel benchmarks
# (pytest-benchmark JSON into $OUT), 5. benchmarks/report.py -> benchmarks/RESULTS.md (also copied to $OUT).
# Each stage has a time limit; the whole run stays well under 9 minutes. A short summary comes last.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset CUPY_TF32               # full float32 GEMMs, as the tests expect
OUT="${OUT:-$PWD/benchmarks/out}"
mkdir -p "$OUT"

status() { if [ "$1" -eq 0 ]; then echo "ok"; elif [ "$1" -eq 124 ]; then echo "TIMED OUT"; else echo "FAILED (exit $1)"; fi; }

echo "== 1/5 copy bandwidth"
timeout 60 python3 - <<'EOF' 2>&1 | tee "$OUT/bandwidth.txt"
import cupy
src = cupy.ones(64 * 2**20, cupy.float32)
dst = cupy.empty_like(src)
for _ in range(3):
    dst[...] = src
start, stop = cupy.cuda.Event(), cupy.cuda.Event()
start.record()
for _ in range(20):
    dst[...] = src
stop.record()
stop.synchronize()
seconds = cupy.cuda.get_elapsed_time(start, stop) / 1e3 / 20
print(f"device-to-device copy: {2 * src.nbytes / seconds / 1e9:.0f} GB/s (read + write, 256 MiB)")
EOF
bandwidth_rc=${PIPESTATUS[0]}

echo "== 2/5 python3 -m nnkit.selftest"
timeout 120 python3 -m nnkit.selftest 2>&1 | tee "$OUT/selftest.txt"
selftest_rc=${PIPESTATUS[0]}

echo "== 3/5 python3 -m pytest -m gpu -q"
timeout 180 python3 -m pytest -m gpu -q -p no:cacheprovider --durations=5 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -40
pytest_rc=${PIPESTATUS[0]}

echo "== 4/5 benchmarks"
timeout 240 python3 -m pytest benchmarks/test_kernels.py benchmarks/test_attention_gpu.py -q -p no:cacheprovider \
    --benchmark-json="$OUT/benchmarks.json" --benchmark-max-time=0.25 --benchmark-min-rounds=5 \
    --benchmark-columns=median,min,max,rounds --benchmark-sort=name 2>&1 | tee "$OUT/benchmarks.txt" | tail -60
bench_rc=${PIPESTATUS[0]}

echo "== 5/5 report"
report_rc=1
if [ -s "$OUT/benchmarks.json" ]; then
    python3 benchmarks/report.py "$OUT/benchmarks.json" --results benchmarks/RESULTS.md \
        --command "bash benchmarks/gpu_run.sh" > "$OUT/report.txt" 2>&1
    report_rc=$?
    cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
    cat "$OUT/report.txt"
fi

echo
echo "== summary"
echo "copy bandwidth: $(status $bandwidth_rc) - $(tail -1 "$OUT/bandwidth.txt")"
echo "selftest:       $(status $selftest_rc) - $(tail -1 "$OUT/selftest.txt")"
echo "pytest -m gpu:  $(status $pytest_rc) - $(grep -E '(passed|failed|error)' "$OUT/pytest_gpu.txt" | tail -1)"
echo "benchmarks:     $(status $bench_rc) - $(grep -E '(passed|failed|error)' "$OUT/benchmarks.txt" | tail -1)"
echo "report:         $(status $report_rc) - benchmarks/RESULTS.md (copy in $OUT/RESULTS.md)"
[ $selftest_rc -eq 0 ] && [ $pytest_rc -eq 0 ] && [ $bench_rc -eq 0 ] && [ $report_rc -eq 0 ]
