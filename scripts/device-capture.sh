#!/usr/bin/env bash
# On the GPU machine: environment facts + Inductor capture for the CPU test fixtures.
set -u
export PYTHONPATH=$PWD/server:${PYTHONPATH:-}
OUT=${OUT:-/tmp/out}
nvidia-smi -L; python3 -c "import torch,triton,sys;print(sys.version.split()[0],torch.__version__,triton.__version__)"
python3 -m tritonize.cli.main doctor 2>&1 | tee $OUT/doctor.txt
python3 -m pip list 2>/dev/null | grep -iE "^(pytest|pygls|lsprotocol|cattrs|platformdirs|transformers|matplotlib|numpy) " > $OUT/pip.txt
cap=/tmp/capture; mkdir -p $cap
export TORCHINDUCTOR_COMPILE_THREADS=2
N=${SHARDS:-8}
for i in $(seq 0 $((N-1))); do
  python3 scripts/capture_inductor.py benchmarks/problems examples -o $cap --modes default --shard $i/$N --budget-s 330 > $cap/log-default-$i.txt 2>&1 &
done
python3 scripts/capture_inductor.py benchmarks/problems examples -o $cap --modes max-autotune-triton --only linear,matmul,conv,attention --budget-s 300 > $cap/log-mat.txt 2>&1 &
wait
cat $cap/log-*.txt | grep -v Warning | tail -80
tar czf $OUT/capture.tgz -C $cap .
ls -la $OUT
