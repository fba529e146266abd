#!/usr/bin/env bash
# On the GPU machine: environment facts + Inductor capture for the CPU test fixtures.
#   scripts/device-capture.sh           every problem, default + max-autotune-triton (tests/fixtures/inductor/)
#   scripts/device-capture.sh dynamic   the shape-general set, static and dynamic (tests/fixtures/inductor_dynamic/)
set -u
export PYTHONPATH=$PWD/server:${PYTHONPATH:-}
OUT=${OUT:-/tmp/out}
nvidia-smi -L; python3 -c "import torch,triton,sys;print(sys.version.split()[0],torch.__version__,triton.__version__)"
cap=/tmp/capture; mkdir -p $cap
export TORCHINDUCTOR_COMPILE_THREADS=2
if [ "${1:-}" = dynamic ]; then
  # pointwise, softmax, layer norm, group norm, GEMM + epilogue, bmm, conv, attention
  set_=05_silu,22_softmax,25_layer_norm,27_group_norm,28_linear_bias_gelu,31_batched_matmul,32_conv2d_relu,40_attention

  for p in ${set_//,/ }; do
    python3 scripts/capture_inductor.py benchmarks/problems -o $cap --modes default --only $p --budget-s 300 > $cap/log-static-$p.txt 2>&1 &
    python3 scripts/capture_inductor.py benchmarks/problems -o $cap --modes default --only $p --dynamic --budget-s 300 > $cap/log-dynamic-$p.txt 2>&1 &
  done
  python3 scripts/capture_inductor.py benchmarks/problems -o $cap --modes max-autotune-triton --dynamic \
    --only 28_linear_bias_gelu --budget-s 200 > $cap/log-mat-dynamic.txt 2>&1 &
  wait
  cat $cap/log-*.txt | grep -v Warning | grep -E "^[0-9a-z_]+ +(default|max)" | sort
  tar czf $OUT/capture-dynamic.tgz -C $cap .
  ls -la $OUT
  exit 0
fi
python3 -m tritonize.cli.main doctor 2>&1 | tee $OUT/doctor.txt
python3 -m pip list 2>/dev/null | grep -iE "^(pytest|pygls|lsprotocol|cattrs|platformdirs|transformers|matplotlib|numpy) " > $OUT/pip.txt
N=${SHARDS:-8}
for i in $(seq 0 $((N-1))); do
  python3 scripts/capture_inductor.py benchmarks/problems examples -o $cap --modes default --shard $i/$N --budget-s 330 > $cap/log-default-$i.txt 2>&1 &
done
python3 scripts/capture_inductor.py benchmarks/problems examples -o $cap --modes max-autotune-triton --only linear,matmul,conv,attention --budget-s 300 > $cap/log-mat.txt 2>&1 &
wait
cat $cap/log-*.txt | grep -v Warning | tail -80
tar czf $OUT/capture.tgz -C $cap .
ls -la $OUT
