#!/usr/bin/env bash
# The LlamaGen-B-shaped speed comparison on a GPU box (PyTorch with CUDA, no Node.js, no network), in one run:
#   1. random-weight files in the official structure (DD student B: 12 layers, width 768; c2i GPT-B teacher;
#      the full VQ-16 decoder), converted to a pack by the converter, as a user's official files would be
#   2. PyTorch eager on the same files: DD 1-step and 2-step (argmax inside), VQ decode, teacher AR over 256
#      tokens with a KV cache and guidance; CUDA synchronised, medians
#   3. the engine's benchmark (main/bench/runBench.ts, through scripts/bench-modes.ts) on that pack, batch 1,
#      modes 1step, 2step and ar: once with the providers the app would choose (auto: WebGPU through Vulkan on
#      Linux) and once on the CPU provider
#   4. one result file and a table against the targets (engine DD 1-step within 2x of eager, AR / 1-step >= 200x,
#      engine AR within 2x of eager AR)
# Nothing is installed or built on the box: Node, onnxruntime-node (linux-x64) and the Vulkan loaders come from
# .devcarry (`bash ../shared/device/prepare.sh` on the development machine), the engine runs from its TypeScript
# sources (Node 22 strips the types), and its two other dependencies travel as node_modules/zod and
# node_modules/fflate. So the box needs the working tree plus these git-ignored paths (about 50 MB):
#   .devcarry/node.xz .devcarry/nm.tar.xz .devcarry/gl .devcarry/enter.sh node_modules/zod node_modules/fflate
# and the command is: bash models/gpu/bench-llamagen-b.sh
# It writes under $OUT: result.json (everything), table.md, torch.json, engine-<ep>.json, log.txt.
# Expected: 4 to 5 minutes on an H100/H200 box (unpacking .devcarry 0.2; files and pack 1 to 1.5, 83 s on 2 CPU
# cores; PyTorch 0.5; engine on WebGPU 1, on the CPU 0.5 to 1); each stage is cut off by what is left of BUDGET_S,
# and a rerun on the same box reuses the files and the pack.
# Environment: OUT (/tmp/out), WORK (/tmp/llamagen-b-bench), SIZE (B, or shallow for a quick check of the path),
# DEVICE (cuda when there is one), ENGINE_EPS ("auto cpu"), MODES (1step,2step,ar; exact is the CPU flow map on
# top of ar), DD_SAMPLES (20), TEACHER_SAMPLES (3), TORCH_DD_REPS (30), TORCH_AR_REPS (3), TORCH_THREADS (0: torch's
# default), BUDGET_S (480), TORCH_CAP_S (150) and ENGINE_CAP_S (240, per provider), PYTHON (python3). On a CPU-only
# machine, e.g. (models/gpu/RESULTS-cpu.md):
#   DEVICE=cpu ENGINE_EPS=cpu TORCH_THREADS=2 MODES=1step,2step,ar,exact BUDGET_S=3000 TORCH_CAP_S=1200 \
#     ENGINE_CAP_S=1500 bash models/gpu/bench-llamagen-b.sh
set -uo pipefail
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/llamagen-b-bench}
size=${SIZE:-B}
engine_eps=${ENGINE_EPS:-auto cpu}
modes=${MODES:-1step,2step,ar}
python=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
start=$(date +%s)
deadline=$((start + ${BUDGET_S:-480}))
mkdir -p "$out" "$work"
log=$out/log.txt
: >"$log"

say() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$log"; }

# stage NAME CAP_S COMMAND...: runs COMMAND with its output in the log, for at most CAP_S seconds and never past
# the deadline; returns its exit status (124 when cut off).
stage() {
  local name=$1 cap=$2 left
  shift 2
  left=$((deadline - $(date +%s)))
  if ((left < 20)); then
    say "$name: skipped, the time budget is spent"
    return 124
  fi
  ((cap > left)) && cap=$left
  say "$name: starting (at most $cap s)"
  timeout "$cap" "$@" >>"$log" 2>&1
  local status=$?
  say "$name: exit $status"
  return $status
}

cd "$root" || exit 2
node_ok() { command -v node >/dev/null && (($(node -p 'process.versions.node.split(".")[0]') >= 22)); }
# The box has no Node: .devcarry/enter.sh unpacks it, onnxruntime-node and the Vulkan loaders (into /, so only
# where no Node is installed: never on a development machine).
if ! node_ok && [[ -f .devcarry/enter.sh ]]; then
  # shellcheck source=/dev/null
  source .devcarry/enter.sh >>"$log" 2>&1 || say "warning: .devcarry/enter.sh failed (see log.txt)"
fi
if ! node_ok; then
  say "no Node.js 22 here: carry .devcarry (bash ../shared/device/prepare.sh) with the working tree"
  exit 2
fi
# ESM imports resolve from node_modules beside the sources, not through NODE_PATH: link the carried runtime there.
mkdir -p node_modules
for pkg in onnxruntime-node onnxruntime-common; do
  if [[ ! -e node_modules/$pkg && -d ${NODE_PATH:-/tmp/n/node_modules}/$pkg ]]; then
    ln -s "${NODE_PATH:-/tmp/n/node_modules}/$pkg" "node_modules/$pkg"
  fi
done
for pkg in onnxruntime-node zod fflate; do
  if [[ ! -f node_modules/$pkg/package.json ]]; then
    say "node_modules/$pkg is missing: carry node_modules/zod and node_modules/fflate, and .devcarry for onnxruntime-node"
    exit 2
  fi
done

export PYTHONPATH=$root/models PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
helper=$root/models/gpu/llamagen_b_bench.py
device=${DEVICE:-$("$python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}
"$python" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA")' 2>&1 | tee -a "$log"
say "node $(node --version), size $size, PyTorch device $device, engine providers: $engine_eps"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$log" 2>&1 || true

if [[ -f $work/pack/manifest.json ]]; then
  say "reusing the pack in $work/pack"
else
  rm -rf "$work/files" "$work/pack"
  stage files 120 "$python" "$helper" files --size "$size" --out "$work/files" || exit 3
  stage pack 300 "$python" "$helper" pack --size "$size" --files "$work/files" --out "$work/pack" || exit 3
fi

stage torch "${TORCH_CAP_S:-150}" "$python" "$helper" torch --size "$size" --files "$work/files" --device "$device" \
  --dd-reps "${TORCH_DD_REPS:-30}" --ar-reps "${TORCH_AR_REPS:-3}" --threads "${TORCH_THREADS:-0}" --out "$out/torch.json"

engines=()
for ep in $engine_eps; do
  if stage "engine-$ep" "${ENGINE_CAP_S:-240}" node scripts/bench-modes.ts --pack-dir "$work/pack" --modes "$modes" --ep "$ep" \
    --dd-samples "${DD_SAMPLES:-20}" --teacher-samples "${TEACHER_SAMPLES:-3}" --warm-up 2 --memory-images 5 \
    --out "$out/engine-$ep.json"; then
    engines+=(--engine "$ep=$out/engine-$ep.json")
  fi
done

if [[ -f $out/torch.json ]]; then
  "$python" "$helper" report --torch "$out/torch.json" "${engines[@]}" --out "$out/result.json" >"$out/table.md" 2>>"$log"
  tee -a "$log" <"$out/table.md"
else
  say "no PyTorch timings (see log.txt): no report"
fi
say "done"
