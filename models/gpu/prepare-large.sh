#!/usr/bin/env bash
# Packs what the GPU run of emoji32-large reuses from the CPU build of emoji32 into .devcarry/large/work.tar:
# the rendered dataset, the VQ tokenizer and its token sequences, and the FID-emoji classifier. Sharing them keeps
# the two variants' tokenizer, classes and FID-emoji features identical, so their numbers compare directly.
#   bash models/gpu/prepare-large.sh [source work folder, default models/.cache/work/emoji32]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${1:-$root/models/.cache/work/emoji32}
files=(dataset.npz vq/final.pt vq/metrics.json tokens.npz classifier/final.pt classifier/metrics.json)
for f in "${files[@]}"; do
  [[ -f $src/$f ]] || { echo "prepare-large: $src/$f is missing (build the CPU pack first: npm run models:build -- emoji32)" >&2; exit 2; }
done
mkdir -p "$root/.devcarry/large"
tar -cf "$root/.devcarry/large/work.tar.tmp" -C "$src" "${files[@]}"
mv "$root/.devcarry/large/work.tar.tmp" "$root/.devcarry/large/work.tar"
du -h "$root/.devcarry/large/work.tar"
