"""What the converter tests (test_convert_*.py) share: full-size layouts in tiny files, and the pack's ONNX graphs
replayed on its parity fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from convert import llamagen_arch, var_arch

ORT_MISSING = "no onnxruntime Python package; the app's convertedPacks.test.ts replays parity.json in onnxruntime-node"


def fake_state(kind: str, cfg) -> dict[str, torch.Tensor]:
    """Every key `kind` has at `cfg` (a LlamaGen or a VAR config) with its shape, as zero-stride views of one
    number: a full-size layout in a tiny file."""
    arch = var_arch if isinstance(cfg, (var_arch.VARConfig, var_arch.VAEConfig)) else llamagen_arch
    return {k: torch.zeros(()).expand(*shape) for k, shape in arch.expected_shapes(kind, cfg).items()}


def save(obj, path: Path, legacy: bool = False) -> Path:
    """torch.save (in the pre-1.6 format with `legacy`); returns `path`."""
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def check_graphs_against_parity(pack: Path, graphs: tuple[str, ...]) -> None:
    """Runs each of `graphs` from `pack` in onnxruntime (CPU) on its parity.json fixture: ids exact, RGB within 1,
    floats within the recorded tolerance. Skips, saying why, where the onnxruntime Python package is missing."""
    ort = pytest.importorskip("onnxruntime", reason=ORT_MISSING)
    parity = json.loads((pack / "parity.json").read_text())
    types = {"float32": np.float32, "int64": np.int64, "uint8": np.uint8}
    for graph in graphs:
        sess = ort.InferenceSession(str(pack / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
        fx = parity[graph]
        feeds = {k: np.array(v["data"], dtype=types[v["dtype"]]).reshape(v["dims"]) for k, v in fx["inputs"].items()}
        names = list(fx["outputs"])
        for name, got in zip(names, sess.run(names, feeds)):
            want = np.array(fx["outputs"][name]["data"]).reshape(fx["outputs"][name]["dims"])
            limit = {"uint8": 1, "int64": 0}.get(fx["outputs"][name]["dtype"], parity["tolerance"])
            assert np.abs(got.astype(np.float64) - want).max() <= limit, f"{graph}.{name}"
