"""models/convert/llamagen_pack.py: official-structure files (random weights, 2-layer student and teacher, a tiny
VQ decoder with the full 16384 x 8 codebook) -> checkpoints.load_model -> a pack that the pipeline's validator
accepts, whose graphs (in PyTorch) match the re-implementations, and whose ONNX files match PyTorch in
onnxruntime when the Python package is installed (the app's test replays parity.json in onnxruntime-node:
DDSTUDIO_TEST_PACKS=<pack> npx vitest run test/integration/packs.test.ts).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from convert.checkpoints import load_model
from convert.llamagen_arch import (
    LLAMAGEN_B_SHALLOW,
    VQ16_TINY,
    LlamaGenDDStudent,
    LlamaGenTeacher,
    VQ16Decoder,
    sample_dd,
)
from convert.llamagen_pack import (
    DecoderGraph,
    GeneratorGraph,
    TeacherStepGraph,
    export_llamagen_pack,
    imagenet_class_names,
)
from ddpipe.export import verify_pack_files
from ddpipe.noise import gaussian_noise_batch

CFG = LLAMAGEN_B_SHALLOW
VQ_CFG = replace(VQ16_TINY, name="VQ-16-tiny-16k", codebook_size=16384)


def randomized(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The model's state with every tensor perturbed (norm weights around 1, the rest small), seeded."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in model.state_dict().items():
        noise = torch.randn(v.shape, generator=g)
        is_norm = k.endswith(".weight") and "norm" in k.split(".")[-2] if "." in k else False
        state[k] = 1 + 0.1 * noise if is_norm else 0.05 * noise
    return state


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = tmp_path_factory.mktemp("official")
    torch.save({"ema": randomized(LlamaGenDDStudent(CFG), 1), "steps": 10}, src / "llamagen-B.pt")
    torch.save({"model": randomized(LlamaGenTeacher(CFG), 2)}, src / "c2i_B_256.pt")
    torch.save({"model": randomized(VQ16Decoder(VQ_CFG), 3)}, src / "vq_ds16_c2i.pt")
    student, s_info = load_model(src / "llamagen-B.pt", "student", CFG)
    teacher, t_info = load_model(src / "c2i_B_256.pt", "teacher", CFG)
    vq, v_info = load_model(src / "vq_ds16_c2i.pt", "vq", VQ_CFG)
    out = tmp_path_factory.mktemp("packs") / "llamagen-b-test"
    start = time.perf_counter()
    export_llamagen_pack(
        student, teacher, vq, out, {"student": s_info, "teacher": t_info, "vq": v_info}, "llamagen-b-test", "LlamaGen-B DD (test)"
    )
    print(f"pack written in {time.perf_counter() - start:.1f} s")
    return out, student, teacher, vq, (s_info, t_info, v_info)


def test_pack_validates_and_describes_the_model(built):
    out, _, _, vq, infos = built
    verify_pack_files(out)  # schema + the sha256 of every file
    assert not list(out.parent.glob(".*partial"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["tokens"] == {"grid": [16, 16], "count": 256, "codebookSize": 16384, "codebookDim": 8, "normalized": True}
    assert m["image"] == {"width": 32, "height": 32, "channels": 3}  # the tiny decoder upsamples 2x (VQ-16: 256)
    assert m["noise"]["name"] == "dd-noise-v1" and m["noise"]["shape"] == [256, 8]
    assert m["sampling"]["splitT"] == 80 and m["sampling"]["tLists"] == {"1step": [0], "2step": [0, 80]}
    classes = m["conditioning"]["classes"]
    assert len(classes) == 1000 and m["conditioning"]["nullClass"] == 1000
    assert classes[0]["name"] == "tench" and [c["name"] for c in classes] == imagenet_class_names()
    assert m["graphs"]["teacherStep"]["layers"] == 2 and m["graphs"]["teacherStep"]["headDim"] == 64
    sources = m["provenance"]["sources"]
    for role, info in zip(("student", "teacher", "vq"), infos):
        assert sources[role]["sha256"] == info.sha256 and sources[role]["file"] == info.path.name
    book = np.fromfile(out / "codebook.bin", dtype="<f4").reshape(16384, 8)
    assert np.allclose(book, vq.codebook().detach().numpy()) and np.allclose(np.linalg.norm(book, axis=1), 1, atol=1e-5)


@torch.no_grad()
def test_graphs_match_the_reimplementations(built):
    _, student, teacher, vq, _ = built
    book = vq.codebook()
    gen = GeneratorGraph(student, book)
    eps = torch.from_numpy(gaussian_noise_batch(42, 2, (256, 8)))
    cls = torch.tensor([3, 998])
    zeros = torch.zeros(2, 256, dtype=torch.long)
    split = torch.tensor(80)
    lat1, ids1 = gen(eps, zeros, torch.tensor(0), split, cls)
    ref_ids1, ref_lat1 = sample_dd(student, eps, cls, [0], 80, book)
    assert torch.equal(ids1, ref_ids1) and torch.allclose(lat1, ref_lat1, atol=1e-5)
    lat2, ids2 = gen(eps, ids1, torch.tensor(80), split, cls)
    ref_ids2, ref_lat2 = sample_dd(student, eps, cls, [0, 80], 80, book)
    assert torch.equal(ids2, ref_ids2) and torch.allclose(lat2, ref_lat2, atol=1e-5)

    rgb = DecoderGraph(vq)(lat1)
    assert rgb.dtype == torch.uint8 and rgb.shape == (2, 32, 32, 3)
    ref = torch.clamp(torch.round((vq.decode_latents(lat1) + 1) * 127.5), 0, 255).permute(0, 2, 3, 1)
    assert torch.equal(rgb, ref.to(torch.uint8))

    # The cached teacher step, run from pos 0 with empty caches, gives the full forward's logits at every slot.
    step = TeacherStepGraph(teacher)
    ids = torch.randint(0, 16384, (2, 5), generator=torch.Generator().manual_seed(0))
    full = teacher(ids, cls)  # (2, 6, V)
    k = v = torch.zeros(CFG.layers, 2, CFG.heads, 0, CFG.head_dim)
    for pos in range(6):
        prev = ids[:, pos - 1] if pos else torch.zeros(2, dtype=torch.long)
        logits, k, v = step(prev, cls, torch.tensor(pos), k, v)
        assert k.shape[3] == pos + 1
        assert torch.allclose(logits, full[:, pos], atol=1e-4)


def test_onnx_graphs_match_pytorch(built):
    """ONNX vs the parity fixtures (PyTorch's outputs) within 1e-3; needs the onnxruntime Python package."""
    out = built[0]
    parity = json.loads((out / "parity.json").read_text())
    assert parity["tolerance"] == 1e-3 and set(parity) == {"tolerance", "generator", "decoder", "teacher_step"}
    ort = pytest.importorskip("onnxruntime")
    types = {"float32": np.float32, "int64": np.int64, "uint8": np.uint8}
    for graph in ("generator", "decoder", "teacher_step"):
        sess = ort.InferenceSession(str(out / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
        fx = parity[graph]
        feeds = {k: np.array(v["data"], dtype=types[v["dtype"]]).reshape(v["dims"]) for k, v in fx["inputs"].items()}
        names = list(fx["outputs"])
        for name, got in zip(names, sess.run(names, feeds)):
            want = np.array(fx["outputs"][name]["data"]).reshape(fx["outputs"][name]["dims"])
            limit = {"uint8": 1, "int64": 0}.get(fx["outputs"][name]["dtype"], 1e-3)
            assert np.abs(got.astype(np.float64) - want).max() <= limit, f"{graph}.{name}"
