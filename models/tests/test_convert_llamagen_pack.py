"""models/convert/llamagen_pack.py: official-structure files (random weights, 2-layer student and teacher, a narrow
VQ-16 decoder with the full 16384 x 8 codebook) -> the converter -> a pack that the pipeline's validator accepts,
whose graphs (in PyTorch) match the re-implementations, with the official sampling settings and the student's
sampling fixtures; and the same as float16 weights. The app's test replays the packs in onnxruntime-node
(test/integration/convertedPacks.test.ts); this file checks them with the onnxruntime Python package when present.
"""

from __future__ import annotations

import json
import time

import numpy as np
import onnx
import pytest
import torch

from convert.checkpoints import load_model
from convert.fp16 import emulated_float16
from convert.llamagen_arch import LLAMAGEN_B_SHALLOW, VQ16_TEST, sample_dd
from convert.llamagen_pack import (
    FP16_PARITY_TOLERANCE,
    DecoderGraph,
    GeneratorGraph,
    TeacherStepGraph,
    convert_test_checkpoints,
    imagenet_classes,
    write_test_checkpoints,
)
from ddpipe.export import verify_pack_files
from ddpipe.noise import gaussian_noise_batch
from ddpipe.student import noise_for

from convert_helpers import check_graphs_against_parity

CFG = LLAMAGEN_B_SHALLOW


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_test_checkpoints(tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="module")
def models(files):
    with pytest.warns(UserWarning, match="restricted unpickler"):  # the student file holds training arguments
        student, s_info = load_model(files["student"], "student", CFG)
    teacher, t_info = load_model(files["teacher"], "teacher", CFG)
    vq, v_info = load_model(files["vq"], "vq", VQ16_TEST)
    return student, teacher, vq, (s_info, t_info, v_info)


def build(files, tmp_path_factory, fp16: bool):
    out = tmp_path_factory.mktemp("packs") / ("llamagen-test-fp16" if fp16 else "llamagen-test")
    stages = []
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="restricted unpickler"):
        convert_test_checkpoints(files, out, fp16=fp16, progress=lambda *s: stages.append(s))
    print(f"pack {'(fp16) ' if fp16 else ''}written in {time.perf_counter() - start:.1f} s")
    return out, stages


@pytest.fixture(scope="module")
def built(files, tmp_path_factory):
    return build(files, tmp_path_factory, fp16=False)


@pytest.fixture(scope="module")
def built16(files, tmp_path_factory):
    return build(files, tmp_path_factory, fp16=True)


def test_pack_validates_and_describes_the_model(built, models):
    out, stages = built
    _, _, vq, infos = models
    verify_pack_files(out)  # schema + the sha256 of every file
    assert not list(out.parent.glob(".*partial"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["id"] == "llamagen-test" and m["family"] == "llamagen"
    assert m["tokens"] == {"grid": [16, 16], "count": 256, "codebookSize": 16384, "codebookDim": 8, "normalized": True}
    assert m["image"] == {"width": 256, "height": 256, "channels": 3}
    assert m["noise"]["name"] == "dd-noise-v1" and m["noise"]["shape"] == [256, 8]
    assert m["graphs"]["teacherStep"]["layers"] == 2 and m["graphs"]["teacherStep"]["headDim"] == 64
    sources = m["provenance"]["sources"]
    for role, info in zip(("student", "teacher", "vq"), infos):
        assert sources[role]["sha256"] == info.sha256 and sources[role]["file"] == info.path.name
    assert sources["student"]["file"] == "llamagen-B.pt" and sources["student"]["loader"] == "restricted-unpickler"
    assert m["provenance"]["precision"] == {"weights": "float32"}
    book = np.fromfile(out / "codebook.bin", dtype="<f4").reshape(16384, 8)
    assert np.allclose(book, vq.codebook().detach().numpy()) and np.allclose(np.linalg.norm(book, axis=1), 1, atol=1e-5)
    # Progress: every stage in order, ending at total / total.
    assert [s[1] for s in stages] == list(range(9)) and {s[2] for s in stages} == {8}
    assert stages[0][0] == "reading the student checkpoint" and stages[-1][0] == "complete"


def test_official_sampling_settings_and_classes(built):
    m = json.loads((built[0] / "manifest.json").read_text())
    s = m["sampling"]
    assert s["splitT"] == 80 and s["tLists"] == {"1step": [0], "2step": [0, 80]}
    assert s["hybridPresets"] == [
        {"steps": 22, "start": 60, "end": 80, "splitT": 180},
        {"steps": 42, "start": 40, "end": 80, "splitT": 180},
        {"steps": 81, "start": 0, "end": 80, "splitT": 220},
    ]
    assert s["hybrid"] == {"start": 60, "end": 80}
    assert s["teacher"] == {"cfgScale": 2.0, "temperature": 1.0, "topK": 8000, "topP": 1.0}
    choices = m["provenance"]["choices"]
    assert "not published for B" in choices["hybridPresets"] and "exactTeacher" in choices
    classes = m["conditioning"]["classes"]
    assert len(classes) == 1000 and m["conditioning"]["nullClass"] == 1000
    assert classes[0] == {"index": 0, "name": "tench", "synonyms": ["Tinca tinca"]}
    assert classes[207]["name"] == "golden retriever" and "synonyms" not in classes[207]
    assert [c["name"] for c in classes] == [c.name for c in imagenet_classes()]
    assert sum("synonyms" in c for c in classes) == 492  # classes with more than one WordNet lemma


@torch.no_grad()
def test_graphs_match_the_reimplementations(models):
    student, teacher, vq, _ = models
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
    assert rgb.dtype == torch.uint8 and rgb.shape == (2, 256, 256, 3)
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


@torch.no_grad()
def test_sampling_fixtures_are_the_students_1_and_2_step_ids(built, models):
    student, _, vq, _ = models
    fx = json.loads((built[0] / "parity.json").read_text())["sampling"]
    assert set(fx) == {"student"}  # no exact-teacher pairs exist for official checkpoints
    s = fx["student"]
    assert len(s["seeds"]) == len(s["classes"]) == 8 and 207 in s["classes"]
    eps = torch.from_numpy(noise_for(s["seeds"], 256, 8))
    cls = torch.tensor(s["classes"])
    one = sample_dd(student, eps, cls, [0], 80, vq.codebook())[0]
    two = sample_dd(student, eps, cls, [0, 80], 80, vq.codebook())[0]
    assert one.tolist() == s["ids1step"] and two.tolist() == s["ids2step"]
    assert one[:, :80].tolist() == two[:, :80].tolist() and one.tolist() != two.tolist()


def test_float16_pack_keeps_float32_inputs_and_outputs(built, built16):
    out, out16 = built[0], built16[0]
    verify_pack_files(out16)
    m = json.loads((out16 / "manifest.json").read_text())
    m32 = json.loads((out / "manifest.json").read_text())
    assert m["id"] == "llamagen-test-fp16" and m["graphs"] == m32["graphs"]
    precision = m["provenance"]["precision"]
    assert precision["weights"] == "float16" and precision["parityTolerance"] == FP16_PARITY_TOLERANCE
    parity = json.loads((out16 / "parity.json").read_text())
    assert parity["tolerance"] == FP16_PARITY_TOLERANCE
    for graph in ("generator", "decoder", "teacher_step"):
        model = onnx.load(str(out16 / f"{graph}.onnx"))
        onnx.checker.check_model(model, full_check=True)
        float_io = [v for v in [*model.graph.input, *model.graph.output] if v.type.tensor_type.elem_type in (1, 10)]
        assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in float_io), graph
        by_type: dict[int, int] = {}
        for init in model.graph.initializer:
            by_type[init.data_type] = by_type.get(init.data_type, 0) + int(np.prod(init.dims))
        # Nearly all weights are float16; what stays float32 is small (norm weights, rotary tables, the codebook).
        assert by_type[onnx.TensorProto.FLOAT16] > 0.8 * sum(by_type.values()), (graph, by_type)
        stats = precision["graphs"][f"{graph}.onnx"]
        assert stats["nodes"] > 0 and stats["weightBytes"][1] < 0.6 * stats["weightBytes"][0]
    size = lambda d: sum(p.stat().st_size for p in d.glob("*.onnx"))  # noqa: E731
    assert size(out16) < 0.55 * size(out)
    assert m["files"]["codebook.bin"] == m32["files"]["codebook.bin"]  # the codebook stays exact


@torch.no_grad()
def test_float16_reference_is_close_to_float32(models):
    """The fixtures of a float16 pack (PyTorch with float16-rounded weights) stay near the float32 model."""
    student, _, vq, _ = models
    book = vq.codebook()
    gen = GeneratorGraph(student, book)
    eps = torch.from_numpy(gaussian_noise_batch(1, 2, (256, 8)))
    args = (eps, torch.zeros(2, 256, dtype=torch.long), torch.tensor(0), torch.tensor(80), torch.tensor([5, 6]))
    lat32, ids32 = gen(*args)
    with emulated_float16():
        lat16, ids16 = gen(*args)
    assert not torch.equal(lat32, lat16)  # the weights really are rounded
    assert (lat32 - lat16).abs().max() < FP16_PARITY_TOLERANCE
    assert (ids32 == ids16).float().mean() > 0.95
    assert gen(*args)[0].equal(lat32)  # and nothing stays patched


@pytest.mark.parametrize("which", ["float32", "float16"])
def test_onnx_graphs_match_pytorch(built, built16, which):
    """ONNX vs the parity fixtures (PyTorch's outputs) within the recorded tolerance; needs the onnxruntime Python
    package (the app's test does the same with onnxruntime-node)."""
    out = (built if which == "float32" else built16)[0]
    parity = json.loads((out / "parity.json").read_text())
    assert set(parity) == {"tolerance", "generator", "decoder", "teacher_step", "sampling"}
    check_graphs_against_parity(out, ("generator", "decoder", "teacher_step"))
