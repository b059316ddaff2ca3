"""models/convert/var_pack.py: official-structure files (random weights, depth 2, a narrow VQVAE with the full
4096 x 32 codebook) -> convert -> a pack that the pipeline's validator accepts, whose graphs (in PyTorch) match the
re-implementations and the official sampling semantics, written atomically, refused cleanly on bad input.

The ONNX files are checked against PyTorch through parity.json: in onnxruntime here when the Python package is
installed, and always by the app's test (DDSTUDIO_TEST_PACKS=<pack> npx vitest run test/integration/packs.test.ts).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import onnx
import pytest
import torch

from convert import pack_common
from convert.checkpoints import CheckpointNotFound, LayoutMismatch, WeightsNotFound
from convert.pack_common import OutputExists, imagenet_classes
from convert.var_arch import PATCH_NUMS, VAE_TINY, VAR_D2_TEST, ScaleResampler, sample_dd, scale_starts
from convert.var_pack import (
    HYBRID_PRESETS,
    GeneratorGraph,
    TeacherScaleGraph,
    convert_var,
    load_checked,
    write_test_checkpoints,
    write_var_test_pack,
)
from ddpipe.export import DecoderGraph, sha256_file, verify_pack_files
from ddpipe.noise import gaussian_noise_batch

from convert_helpers import check_graphs_against_parity

CFG = VAR_D2_TEST
STARTS = scale_starts()
pytestmark = pytest.mark.filterwarnings("ignore:.*restricted unpickler")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("packs") / "var-test"
    stages = []
    start = time.perf_counter()
    write_var_test_pack(out, progress=lambda stage, done, total: stages.append((stage, done, total)))
    seconds = time.perf_counter() - start
    print(f"VAR test pack written in {seconds:.1f} s")
    # The same files again (same seeds), to compare the pack with the models it came from.
    files = write_test_checkpoints(tmp_path_factory.mktemp("official"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = tuple(load_checked(files[role], role, cfg)[0] for role, cfg in (("student", CFG), ("teacher", CFG), ("vae", VAE_TINY)))
    return out, models, files, stages, seconds


def test_pack_validates_and_describes_the_model(built):
    out, (student, teacher, vae), files, stages, seconds = built
    assert seconds < 60
    verify_pack_files(out)  # schema + the sha256 of every file
    assert not list(out.parent.glob(".*partial"))
    assert sorted(p.name for p in out.iterdir()) == [
        "codebook.bin", "decoder.onnx", "generator.onnx", "manifest.json", "parity.json", "teacher_scale.onnx"
    ]
    m = json.loads((out / "manifest.json").read_text())
    assert m["family"] == "var" and "teacherStep" not in m["graphs"]
    assert m["tokens"] == {
        "grid": [16, 16], "count": 680, "codebookSize": 4096, "codebookDim": 32, "normalized": False, "scales": list(PATCH_NUMS)
    }
    # The app's family rule (manifest.ts familyProblems): squares sum to the count, the last scale is the grid.
    assert sum(s * s for s in m["tokens"]["scales"]) == m["tokens"]["count"] and m["tokens"]["scales"][-1] == 16
    assert m["image"] == {"width": 256, "height": 256, "channels": 3}  # the narrow VQVAE upsamples 16x, as VAR's
    assert m["noise"]["name"] == "dd-noise-v1" and m["noise"]["shape"] == [680, 32]
    sampling = m["sampling"]
    assert sampling["splitT"] == 5 and sampling["tLists"] == {"1step": [0], "2step": [0, 5]}
    assert sampling["hybridPresets"] == HYBRID_PRESETS and sampling["hybrid"] == {"start": 3, "end": 5}
    assert [p["steps"] for p in HYBRID_PRESETS] == [
        (p["start"] > 0) + (p["end"] - p["start"]) + (p["end"] < 10) for p in HYBRID_PRESETS
    ]
    assert sampling["teacher"] == {"cfgScale": 2.0, "cfgSchedule": "linear-scale", "temperature": 1.0, "topK": 900, "topP": 0.95}
    scale_graph = m["graphs"]["teacherScale"]
    assert scale_graph["file"] == "teacher_scale.onnx" and list(scale_graph["inputs"]) == ["ids", "scale", "class_ids"]
    assert scale_graph["outputs"]["logits"]["shape"] == ["batch", "scaleTokens", 4096]
    classes = m["conditioning"]["classes"]
    assert len(classes) == 1000 and m["conditioning"]["nullClass"] == 1000
    assert classes[0] == {"index": 0, "name": "tench", "synonyms": ["Tinca tinca"]}
    assert [c["name"] for c in classes] == [c.name for c in imagenet_classes()]
    sources = m["provenance"]["sources"]
    for role in ("student", "teacher", "vae"):
        assert sources[role]["sha256"] == sha256_file(files[role]) and sources[role]["file"] == files[role].name
    assert sources["student"]["weightsKey"] == "trainer.ema_parameters"
    assert m["provenance"]["recomputedBuffers"] == {"student": 4}  # lvl_1L, the mask, 2 zero key biases
    assert "published for d16 only, not for d2" in m["provenance"]["choices"]["hybridPresets"]
    book = np.fromfile(out / "codebook.bin", dtype="<f4").reshape(4096, 32)
    assert np.array_equal(book, vae.codebook().detach().numpy())  # raw, not normalised
    assert [s[1] for s in stages] == list(range(10)) and all(s[2] == 9 for s in stages) and stages[-1][0] == "done"
    for graph in ("generator", "decoder", "teacher_scale"):
        onnx.checker.check_model(onnx.load(str(out / f"{graph}.onnx")))


def _fixture(t: dict) -> torch.Tensor:
    dtype = {"float32": torch.float32, "int64": torch.long, "uint8": torch.uint8}[t["dtype"]]
    return torch.tensor(t["data"], dtype=dtype).reshape(t["dims"])


@torch.no_grad()
def test_fixtures_are_the_reference_models_outputs(built):
    out, (student, teacher, vae), _, _, _ = built
    parity = json.loads((out / "parity.json").read_text())
    assert parity["tolerance"] == 1e-3 and set(parity) == {"tolerance", "generator", "decoder", "teacher_scale", "sampling"}
    book = vae.codebook()

    gen = parity["generator"]
    x = {k: _fixture(v) for k, v in gen["inputs"].items()}
    assert torch.equal(x["noise"], torch.from_numpy(gaussian_noise_batch(7, 2, (680, 32))))
    latents, ids = GeneratorGraph(student, book)(x["noise"], x["prefix_ids"], x["t"], x["split_t"], x["class_ids"])
    assert torch.equal(ids, _fixture(gen["outputs"]["ids"])) and torch.allclose(latents, _fixture(gen["outputs"]["latents"]), atol=1e-5)
    t = int(x["t"])
    assert torch.equal(ids[:, : STARTS[t]], x["prefix_ids"][:, : STARTS[t]])  # the clean prefix passes through

    rgb = _fixture(parity["decoder"]["outputs"]["rgb"])
    ref = torch.clamp(torch.round((vae.decode_latents(latents) + 1) * 127.5), 0, 255).permute(0, 2, 3, 1)
    assert (rgb.int() - ref.int()).abs().max() <= 1 and rgb.shape == (2, 256, 256, 3)

    fx = parity["teacher_scale"]
    ids_in, scale, classes = (_fixture(fx["inputs"][k]) for k in ("ids", "scale", "class_ids"))
    assert int(classes[1]) == 1000  # the null class, as guidance feeds it
    logits = _fixture(fx["outputs"]["logits"])
    cached = teacher.logits_by_scale_cached(vae, ids_in, classes, upto=int(scale))[-1]
    assert logits.shape == (2, 25, 4096) and torch.allclose(logits, cached, atol=1e-4)

    fixtures = parity["sampling"]["student"]
    eps = torch.from_numpy(np.stack([gaussian_noise_batch(s, 1, (680, 32))[0] for s in fixtures["seeds"]]))
    cls = torch.tensor(fixtures["classes"])
    assert torch.equal(sample_dd(student, eps, cls, [0], 5, book)[0], torch.tensor(fixtures["ids1step"]))
    assert torch.equal(sample_dd(student, eps, cls, [0, 5], 5, book)[0], torch.tensor(fixtures["ids2step"]))


@torch.no_grad()
def test_graph_modules_match_the_reference_samplers(built):
    _, (student, teacher, vae), _, _, _ = built
    book = vae.codebook()
    gen = GeneratorGraph(student, book)
    eps = torch.from_numpy(gaussian_noise_batch(42, 3, (680, 32)))
    cls = torch.tensor([3, 500, 999])
    zeros = torch.zeros(3, 680, dtype=torch.long)
    for split in (5, 0, 10):
        lat1, ids1 = gen(eps, zeros, torch.tensor(0), torch.tensor(split), cls)
        ref_ids1, ref_lat1 = sample_dd(student, eps, cls, [0], split, book)
        assert torch.equal(ids1, ref_ids1) and torch.allclose(lat1, ref_lat1, atol=1e-5)
    lat1, ids1 = gen(eps, zeros, torch.tensor(0), torch.tensor(5), cls)
    lat2, ids2 = gen(eps, ids1, torch.tensor(5), torch.tensor(5), cls)  # 2-step: the first step's ids as the prefix
    ref_ids2, ref_lat2 = sample_dd(student, eps, cls, [0, 5], 5, book)
    assert torch.equal(ids2, ref_ids2) and torch.allclose(lat2, ref_lat2, atol=1e-5)

    rgb = DecoderGraph(ScaleResampler(vae))(lat2)
    ref = torch.clamp(torch.round((vae.decode_latents(lat2) + 1) * 127.5), 0, 255).permute(0, 2, 3, 1)
    assert rgb.dtype == torch.uint8 and (rgb.int() - ref.int()).abs().max() <= 1

    # The teacher_scale module at every scale equals the KV-cached loop, and never reads the ids from `scale` on.
    graph = TeacherScaleGraph(teacher, vae)
    ids = torch.randint(0, 4096, (2, 680), generator=torch.Generator().manual_seed(9))
    classes = torch.tensor([3, 1000])
    cached = teacher.logits_by_scale_cached(vae, ids, classes)
    for k in range(10):
        logits = graph(ids, torch.tensor(k), classes)
        assert logits.shape == (2, PATCH_NUMS[k] ** 2, 4096)
        assert torch.allclose(logits, cached[k], atol=1e-4), k
        garbage = ids.clone()
        garbage[:, STARTS[k] :] = -1  # not even valid ids
        assert torch.equal(graph(garbage, torch.tensor(k), classes), logits)


def test_onnx_graphs_match_pytorch(built):
    """ONNX vs the parity fixtures within their tolerance; needs the onnxruntime Python package (the app's vitest
    runs the same fixtures in onnxruntime-node)."""
    check_graphs_against_parity(built[0], ("generator", "decoder", "teacher_scale"))


# ---------------------------------------------------------------- bad input leaves nothing behind


def _nothing_written(out):
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def test_bad_files_are_refused_before_anything_is_written(tmp_path):
    files = write_test_checkpoints(tmp_path / "official")
    out = tmp_path / "packs" / "var-d2"
    with pytest.raises(LayoutMismatch, match=r"var-d2\.pth.*\n(.*\n)*  hint: the file holds 2 blocks, a depth-2 model"):
        convert_var(files["student"], files["teacher"], files["vae"], 16, out)
    _nothing_written(out)
    with pytest.raises(WeightsNotFound, match=r"var_d2\.pth: .* raw state dict of 38 tensors; the file looks like the weights of a VAR teacher"):
        convert_var(files["teacher"], files["student"], files["vae"], 2, out, vae_config=VAE_TINY)
    _nothing_written(out)
    with pytest.raises(WeightsNotFound, match=r"var-d2\.pth: expected a raw state dict .* VAR teacher.*'trainer'.*VAR-DD student checkpoint"):
        convert_var(files["student"], files["student"], files["vae"], 2, out, vae_config=VAE_TINY)
    _nothing_written(out)
    truncated = tmp_path / "var_d2-cut.pth"
    truncated.write_bytes(files["teacher"].read_bytes()[:5000])
    with pytest.raises(Exception, match=r"var_d2-cut\.pth: the file is truncated or damaged"):
        convert_var(files["student"], truncated, files["vae"], 2, out, vae_config=VAE_TINY)
    _nothing_written(out)
    with pytest.raises(CheckpointNotFound, match=r"absent\.pth: no such file \(expected the VAR VQVAE\)"):
        convert_var(files["student"], files["teacher"], tmp_path / "absent.pth", 2, out, vae_config=VAE_TINY)
    with pytest.raises(Exception, match="no VAR-DD model of depth 18"):
        convert_var(files["student"], files["teacher"], files["vae"], 18, out)
    # The official VQVAE's layout (the default) where the narrow one is: every decoder shape differs.
    with pytest.raises(LayoutMismatch, match=r"vae_ch32v4096z32\.pth: does not match VAR VQVAE vae-ch160v4096z32"):
        convert_var(files["student"], files["teacher"], files["vae"], 2, out)
    _nothing_written(out)
    (out / "old").mkdir(parents=True)
    with pytest.raises(OutputExists, match="not empty"):
        convert_var(files["student"], files["teacher"], files["vae"], 2, out, vae_config=VAE_TINY)
    assert sorted(p.name for p in out.iterdir()) == ["old"]


def test_a_failing_export_removes_its_temporary_folder(tmp_path, monkeypatch):
    files = write_test_checkpoints(tmp_path / "official")
    out = tmp_path / "packs" / "var-d2"

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pack_common, "validate_manifest", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        convert_var(files["student"], files["teacher"], files["vae"], 2, out, vae_config=VAE_TINY)
    _nothing_written(out)


# ---------------------------------------------------------------- large graphs and float16


def test_graphs_over_the_inline_limit_keep_their_weights_in_one_data_file(tmp_path, monkeypatch):
    monkeypatch.setattr(pack_common, "INLINE_LIMIT", 4 * 2**20)  # as if the generator and the teacher were over 2 GB
    out = write_var_test_pack(tmp_path / "var-test")
    verify_pack_files(out)
    m = json.loads((out / "manifest.json").read_text())
    assert {"generator.onnx.data", "teacher_scale.onnx.data"} <= set(m["files"]) and "decoder.onnx.data" not in m["files"]
    for graph in ("generator", "teacher_scale"):
        model = onnx.load(str(out / f"{graph}.onnx"), load_external_data=False)
        locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
        assert locations == {f"{graph}.onnx.data"}
        assert (out / f"{graph}.onnx").stat().st_size < 2**20
        onnx.checker.check_model(str(out / f"{graph}.onnx"))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def built16(tmp_path_factory):
    return write_var_test_pack(tmp_path_factory.mktemp("packs16") / "var-test-fp16", fp16=True)


def test_float16_test_pack(built16):
    out = built16
    verify_pack_files(out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["id"] == "var-test-fp16" and m["provenance"]["precision"]["weights"] == "float16"
    graphs = m["provenance"]["precision"]["graphs"]
    assert set(graphs) == {"generator.onnx", "decoder.onnx", "teacher_scale.onnx"}
    assert all(g["weightBytes"][1] < g["weightBytes"][0] for g in graphs.values())
    assert json.loads((out / "parity.json").read_text())["tolerance"] == m["provenance"]["precision"]["parityTolerance"]
    assert not [name for name in m["files"] if name.endswith(".data")]


def _initializers(path) -> dict[str, np.ndarray]:
    return {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


@pytest.mark.parametrize("limit", [None, 2**20], ids=["float16-fits", "float16-over-the-limit"])
def test_float16_from_an_export_with_external_weights(built16, tmp_path, monkeypatch, limit):
    """Graphs over 2 GB (d20, d24) are exported by torch with each weight in a file of its own; the float16
    rewrite reads them from there. Its result is saved in one file when it fits (d20's student) and with a `.data`
    file when it does not (d24's, here with the limit lowered): either way the same graph as from a one-file export."""
    real_export = pack_common._onnx_export

    def export_like_a_large_graph(module, args, path, *rest):
        real_export(module, args, path, *rest)
        onnx.save_model(onnx.load(str(path)), str(path), save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=1024)
        assert len(list(path.parent.iterdir())) > 1  # the weights are beside the graph, as torch leaves them

    monkeypatch.setattr(pack_common, "_onnx_export", export_like_a_large_graph)
    if limit is not None:
        monkeypatch.setattr(pack_common, "INLINE_LIMIT", limit)
    out = write_var_test_pack(tmp_path / "var-test-fp16", fp16=True)
    verify_pack_files(out)
    m = json.loads((out / "manifest.json").read_text())
    graphs = m["provenance"]["precision"]["graphs"]
    assert graphs == json.loads((built16 / "manifest.json").read_text())["provenance"]["precision"]["graphs"]
    over = {file for file, g in graphs.items() if limit is not None and g["weightBytes"][1] > limit}
    assert over == (set(graphs) if limit else set())  # the test graphs are all over 1 MiB in float16
    assert {name for name in m["files"] if name.endswith(".data")} == {f"{file}.data" for file in over}
    for file in graphs:
        model = onnx.load(str(out / file), load_external_data=False)
        locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
        assert locations == ({f"{file}.data"} if file in over else set())
        onnx.checker.check_model(str(out / file))
        reference = onnx.load(str(built16 / file))
        assert list(model.graph.node) == list(reference.graph.node)
        got, want = _initializers(out / file), _initializers(built16 / file)
        assert got.keys() == want.keys()
        assert all(got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]) for k in want)
    assert (out / "parity.json").read_bytes() == (built16 / "parity.json").read_bytes()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
