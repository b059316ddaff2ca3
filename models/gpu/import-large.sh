#!/usr/bin/env bash
# Turns what models/gpu/train-large.sh returned into a pack here: rebuilds the work folder (the CPU build's
# dataset, tokenizer and classifier plus the returned weights, pairs and metrics), exports the pack, seals the
# GPU evaluation into it and files the grids under models/eval/<pack>.
#   bash models/gpu/import-large.sh <folder with the returned files> [config, default emoji32-large] [CPU work folder]
set -euo pipefail
returned=$(cd "$1" && pwd)
config=${2:-emoji32-large}
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${3:-$root/models/.cache/work/emoji32}
work=$root/models/.cache/work/$config
pack=$root/models/.cache/packs/$config
python=${PYTHON:-/usr/bin/python3}
rm -rf "$work" "$pack"
mkdir -p "$work/vq" "$work/classifier"
cp "$src/dataset.npz" "$src/tokens.npz" "$work/"
cp "$src/vq/final.pt" "$src/vq/metrics.json" "$work/vq/"
cp "$src/classifier/final.pt" "$src/classifier/metrics.json" "$work/classifier/"
cd "$root/models"
export PYTHONPATH=$PWD
"$python" gpu/large_results.py unpack "$returned" "$work"
"$python" -m ddpipe build "$config" --work "$work" --out "$pack"
"$python" -m ddpipe attach-eval "$pack" "$work/eval/eval.json"
id=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['pack']['id'])" "configs/$config.json")
mkdir -p "eval/$id"
cp "$work/eval/"*.png "$work/eval/eval.json" "$work/eval/metrics.jsonl" "eval/$id/"
echo "pack: $pack; results: models/eval/$id"
