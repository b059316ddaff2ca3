#!/usr/bin/env bash
# Trains and evaluates the emoji32-large variant on a GPU box (PyTorch 2.x with CUDA, no Node.js, no network).
# It starts from the CPU build's dataset, tokenizer and classifier (models/gpu/prepare-large.sh packs them into
# .devcarry/large/, which travels with the working tree) and runs the teacher, pairs and student stages, then the
# evaluation on the GPU. Everything it returns fits the transfer limits (8 files, 16 MiB each) in $OUT:
#   log.txt            the whole log, written as it goes (a run cut short still reports how far it got)
#   teacher-fp16.pt    the weights as float16; the evaluation ran on exactly these, rounded back to float32
#   student-fp16.pt
#   pairs-tail.npz     the last 20,000 pairs (the held-out ones included), for the export's fixtures
#   results.tgz        every stage's metrics, eval.json and the sample grids
# On the development machine, `bash models/gpu/import-large.sh <folder>` exports the pack and files the results.
# Environment: LARGE_CONFIG (default emoji32-large), DEVICE (default cuda), TRAIN_LIMIT_S and EVAL_LIMIT_S.
set -uo pipefail
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/work-large}
config=${LARGE_CONFIG:-emoji32-large}
device=${DEVICE:-cuda}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work" "$out"
tar -xf "$root/.devcarry/large/work.tar" -C "$work" || exit 2
cd "$root/models"
export PYTHONPATH=$PWD DDSTUDIO_PROGRESS=0 PYTHONUNBUFFERED=1
log=$out/log.txt
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')" | tee "$log"
start=$(date +%s)
timeout "${TRAIN_LIMIT_S:-450}" python3 -m ddpipe build "$config" --work "$work" --out "$work/pack" --stop-after student >> "$log" 2>&1
echo "build exit $? after $(($(date +%s) - start)) s" | tee -a "$log"
python3 gpu/large_results.py round "$work" "$out" 2>&1 | tee -a "$log"
if [[ -f $work/student/final.pt ]]; then
  timeout "${EVAL_LIMIT_S:-120}" python3 -m ddpipe eval "$config" --work "$work" --grids "$work/eval" --no-pack --device "$device" >> "$log" 2>&1
  echo "eval exit $? after $(($(date +%s) - start)) s" | tee -a "$log"
fi
python3 gpu/large_results.py pack "$work" "$out" 2>&1 | tee -a "$log"
grep -v -i warning "$log" | tail -n 30
