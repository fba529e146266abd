#!/usr/bin/env bash
# `make gpu-test`: every GPU-marked test and the GPU benchmarks, in one go, on a CUDA machine.
# Uses the machine's python3 (with torch); missing light packages can come as wheels in .whl/.
# Output goes to $OUT (or ./gpu-out). Choose stages with STAGES="doctor tests hostile verify-bench ...".
# Narrow a stage: GPU_TESTS (pytest paths), LLM_ARGS, BANDWIDTH_ARGS, BENCH_PATHS, BENCH_ARGS, BENCH_TIMEOUT.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
PY=${PYTHON:-python3}
if ! $PY -c "import pygls, lsprotocol, platformdirs, pytest_lsp" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/server:${PYTHONPATH:-}
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_COMPILE_THREADS=${TORCHINDUCTOR_COMPILE_THREADS:-4}
STAGES=${STAGES:-"doctor tests hostile verify-bench bandwidth llm-bench lsp-bench bench"}
status=0
stage() { echo; echo "=== $1 ($(date +%T))"; }
for s in $STAGES; do
  case $s in
    doctor) stage doctor; $PY -m tritonize.cli.main doctor 2>&1 | tee "$OUT/doctor.txt" ;;
    tests) stage "pytest -m gpu"
      TRITONIZE_GPU_TESTS=1 $PY -m pytest -m gpu -p no:cacheprovider -q -rs --timeout 300 ${GPU_TESTS:-tests} 2>&1 | tee "$OUT/gpu-tests.txt" | tail -60
      [ "${PIPESTATUS[0]}" = 0 ] || status=1 ;;
    hostile) stage "hostile suite (CPU + CUDA cases)"
      $PY scripts/hostile_figures.py --gpu --json "$OUT/hostile.json" 2>&1 | tee "$OUT/hostile.txt" | tail -40 ;;
    verify-bench) stage "verifier throughput"
      $PY benchmarks/verify_throughput.py 2>&1 | tee "$OUT/verify-bench.txt" | tail -30 ;;
    bandwidth) stage "template kernels vs copy bandwidth / matmul"
      $PY benchmarks/template_bandwidth.py ${BANDWIDTH_ARGS:-} 2>&1 | tee "$OUT/bandwidth.txt" | tail -40 ;;
    llm-bench) stage "transformers throughput (8B-shaped, random weights)"
      $PY benchmarks/llm_throughput.py ${LLM_ARGS:-} --json "$OUT/llm.json" 2>&1 | tee "$OUT/llm-bench.txt" | tail -30 ;;
    lsp-bench) stage "LSP latency"
      $PY benchmarks/lsp_latency.py 2>&1 | tee "$OUT/lsp-bench.txt" | tail -30 ;;
    bench) stage "tritonize bench (our problem set)"
      # Results survive between device calls as one archive: bring $OUT/bench-results.tgz back and put
      # it in .bench-carry/ (carried) to resume where the last call stopped.
      bdir=${BENCH_DIR:-/tmp/bench-results}; mkdir -p "$bdir"
      [ -f .bench-carry/bench-results.tgz ] && tar xzf .bench-carry/bench-results.tgz -C "$bdir"
      timeout ${BENCH_TIMEOUT:-480} $PY -m tritonize.cli.main bench ${BENCH_PATHS:-benchmarks/problems} --generators ${BENCH_GENERATORS:-template,inductor} \
        ${BENCH_ARGS:-} --resume --results-dir "$bdir" --json-out "$OUT/bench.json" --markdown "$OUT/bench.md" --plot "$OUT/bench.png" \
        > "$OUT/bench.txt" 2>&1
      tail -70 "$OUT/bench.txt"
      tar czf "$OUT/bench-results.tgz" -C "$bdir" . ;;
    *) echo "unknown stage $s"; status=2 ;;
  esac
done
exit $status
