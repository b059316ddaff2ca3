#!/usr/bin/env bash
# Runs the refine stage (ddpipe/refine.py) on a GPU box for a large variant trained earlier by train-large.sh,
# then the evaluation on the GPU. It travels with .devcarry/large/work.tar (prepare-large.sh) and
# .devcarry/large-run/: that run's returned files plus the config to use (refine-config.json). Returns log.txt,
# refine.tgz (the refine metrics, eval.json, grids) and student-fp16.pt (the refined student) in $OUT.
set -uo pipefail
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/work-large}
device=${DEVICE:-cuda}
root=$(cd "$(dirname "$0")/../.." && pwd)
run=${RUN_DIR:-$root/.devcarry/large-run}
mkdir -p "$work" "$out"
tar -xf "${CARRY_TAR:-$root/.devcarry/large/work.tar}" -C "$work" || exit 2
cd "$root/models"
export PYTHONPATH=$PWD DDSTUDIO_PROGRESS=0 PYTHONUNBUFFERED=1
log=$out/log.txt
python3 gpu/large_results.py unpack "$run" "$work" > "$log" 2>&1 || { cat "$log"; exit 2; }
start=$(date +%s)
timeout "${TRAIN_LIMIT_S:-240}" python3 -m ddpipe build emoji32-large --config "$run/refine-config.json" --work "$work" --out "$work/pack" --stop-after refine >> "$log" 2>&1
echo "refine exit $? after $(($(date +%s) - start)) s" | tee -a "$log"
if [[ -f $work/refine/final.pt ]]; then
  mv "$work/eval" "$work/eval-before"
  # Round the refined student to float16 first, as train-large.sh does: the evaluation scores what travels back.
  python3 - "$work" "$out" <<'PY' 2>&1 | tee -a "$log"
import sys
from pathlib import Path
from ddpipe.common import load_torch, save_torch
work, out = Path(sys.argv[1]), Path(sys.argv[2])
path = work / "refine" / "final.pt"
state = load_torch(path, "refined student")
half = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
save_torch(out / "student-fp16.pt", {**state, "model": half})
save_torch(path, {**state, "model": {k: v.float() if v.is_floating_point() else v for k, v in half.items()}})
PY
  timeout "${EVAL_LIMIT_S:-100}" python3 -m ddpipe eval emoji32-large --config "$run/refine-config.json" --work "$work" --grids "$work/eval" --no-pack --device "$device" >> "$log" 2>&1
  echo "eval exit $? after $(($(date +%s) - start)) s" | tee -a "$log"
  python3 - "$work" "$out" <<'PY' 2>&1 | tee -a "$log"
import sys, tarfile
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
with tarfile.open(out / "refine.tgz", "w:gz") as tar:
    for path in sorted((work / "refine").glob("*.json*")) + sorted((work / "eval").glob("*")):
        tar.add(path, arcname=str(path.relative_to(work)))
print("returned:", sorted(p.name for p in out.iterdir()))
PY
fi
grep -v -i warning "$log" | tail -n 25
