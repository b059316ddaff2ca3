"""What a GPU run of the large variant sends back, and how it is unpacked again on the development machine.

    python3 gpu/large_results.py round WORK OUT    # on the GPU box, after training, before the evaluation
    python3 gpu/large_results.py pack WORK OUT     # on the GPU box, last
    python3 gpu/large_results.py unpack RETURNED WORK   # here: rebuild a work folder the export can use

The weights travel as float16 (a file may hold 16 MiB). `round` also writes them back, rounded, over the work
folder's float32 weights, so the evaluation on the box scores exactly the model that the export packs here.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

from ddpipe.common import PipelineError, atomic_path, load_torch, save_torch

PAIRS_TAIL = 20_000
STAGES = ("teacher", "student")


def round_weights(work: Path, out: Path) -> None:
    for stage in STAGES:
        path = work / stage / "final.pt"
        if not path.exists():
            print(f"round: {stage} has no final weights (the run stopped before the stage ended)")
            continue
        state = load_torch(path, stage)
        half = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
        save_torch(out / f"{stage}-fp16.pt", {**state, "model": half})
        save_torch(path, {**state, "model": {k: v.float() if v.is_floating_point() else v for k, v in half.items()}})
        print(f"round: {stage} weights as float16 -> {out / f'{stage}-fp16.pt'}")
    pairs_path = work / "pairs" / "pairs.npz"
    if pairs_path.exists():
        pairs = np.load(pairs_path)
        tail = {k: pairs[k][-PAIRS_TAIL:] for k in ("tokens", "classes", "seeds")}
        with atomic_path(out / "pairs-tail.npz") as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, tokens=tail["tokens"].astype(np.int16), classes=tail["classes"], seeds=tail["seeds"], n_val=pairs["n_val"])


def pack_results(work: Path, out: Path) -> None:
    with atomic_path(out / "results.tgz") as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for path in sorted(work.rglob("*")):
                if path.suffix in (".json", ".jsonl") or (path.suffix == ".png" and path.parent.name == "eval"):
                    tar.add(path, arcname=str(path.relative_to(work)))
    print("pack:", sorted(p.name for p in out.iterdir()))


def unpack(returned: Path, work: Path) -> None:
    """Turns the returned files into work/{teacher,student}/final.pt, work/pairs/pairs.npz and the metrics."""
    for stage in STAGES:
        src = returned / f"{stage}-fp16.pt"
        if not src.exists():
            raise PipelineError(f"{src} is missing: the GPU run did not finish its {stage}")
        state = load_torch(src, f"{stage} (float16)")
        (work / stage).mkdir(parents=True, exist_ok=True)
        save_torch(work / stage / "final.pt", {**state, "model": {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}})
    pairs = np.load(returned / "pairs-tail.npz")
    (work / "pairs").mkdir(parents=True, exist_ok=True)
    with atomic_path(work / "pairs" / "pairs.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, tokens=pairs["tokens"].astype(np.int64), classes=pairs["classes"], seeds=pairs["seeds"], n_val=pairs["n_val"])
    with tarfile.open(returned / "results.tgz") as tar:
        for member in tar.getmembers():
            # Only plain files with relative names inside the work folder (the archive is ours, but still).
            if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                raise PipelineError(f"results.tgz: refusing entry {member.name!r}")
        tar.extractall(work)
    print(f"unpacked into {work}")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("round", "pack", "unpack"):
        print(__doc__, file=sys.stderr)
        return 2
    action, a, b = argv[0], Path(argv[1]), Path(argv[2])
    try:
        {"round": round_weights, "pack": pack_results, "unpack": unpack}[action](a, b)
    except PipelineError as err:
        print(f"large_results: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
