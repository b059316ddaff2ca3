#!/usr/bin/env bash
# Trains the emoji32-large variant on a GPU box (PyTorch 2.x with CUDA, no Node.js, no network).
# The rendered dataset travels as .devcarry/dataset.npz (models/.cache/work/emoji32/dataset.npz from a CPU run).
# Stops after the student; the weights come back (as float16, to fit the transfer limits) and the export and the
# evaluation run on the development machine: `python -m ddpipe build emoji32-large` then `... eval emoji32-large`.
set -euo pipefail
out=${OUT:-/tmp/out}
work=/tmp/work-large
mkdir -p "$work" "$out"
cp .devcarry/dataset.npz "$work/dataset.npz"
cd models
export PYTHONPATH=$PWD DDSTUDIO_PROGRESS=0
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name(0))"
start=$(date +%s)
# The log goes to $OUT as it is written: a run cut short by its time limit still reports how far it got.
python3 -m ddpipe build emoji32-large --work "$work" --out /tmp/pack-large --stop-after student > "$out/log.txt" 2>&1 || true
grep -v Warning "$out/log.txt" | tail -n 40
echo "gpu pipeline: $(($(date +%s) - start)) s"
python3 - "$work" "$out" <<'PY'
import sys, tarfile, torch, numpy as np
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
for stage in ("vq", "teacher", "student"):
    state = torch.load(work / stage / "final.pt", map_location="cpu", weights_only=False)
    state["model"] = {k: (v.half() if v.is_floating_point() else v) for k, v in state["model"].items()}
    torch.save(state, out / f"{stage}-final-fp16.pt")
pairs = np.load(work / "pairs" / "pairs.npz")
np.savez_compressed(out / "pairs.npz", **{k: pairs[k] for k in pairs.files})
with tarfile.open(out / "metrics.tgz", "w:gz") as tar:
    for path in sorted(work.rglob("*.json*")):
        tar.add(path, arcname=str(path.relative_to(work)))
    tar.add(work / "tokens.npz", arcname="tokens.npz")
print("packed", sorted(p.name for p in out.iterdir()))
PY
