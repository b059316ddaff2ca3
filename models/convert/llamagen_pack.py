"""Official LlamaGen-DD files (student, c2i teacher, VQ-16 tokenizer; see llamagen_arch.py) -> a DD Studio pack.

  convert_llamagen          the three official files -> a checked pack folder (what `python -m convert llamagen` runs)
  write_llamagen_test_pack  random-weight files in the official structure (2-layer B, a tiny decoder with the full
                            codebook) -> a pack; what the app's tests run the engine on
  export_llamagen_pack      loaded models -> a pack (the part both share)

Writes the same files and graph signatures as the pipeline's own exporter (models/ddpipe/export.py, whose ONNX
export, hashing, fixture encoding and manifest validation are reused here), see ../PACK_FORMAT.md:
  generator.onnx     noise, prefix_ids, t, split_t, class_ids -> latents (assembled), ids
  decoder.onnx       latents -> RGB uint8 NHWC
  teacher_step.onnx  ids, class_ids, pos, past_k, past_v -> logits, present_k, present_v
  codebook.bin, parity.json (one fixture per graph, and the student's sampling fixtures), manifest.json

parity.json has no exact-teacher fixtures: those are pairs made with the flow map, and the official training
pairs (and the official map's solver) are not published.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ddpipe.common import PipelineError, atomic_path, save_json
from ddpipe.export import (
    FORMAT_VERSION,
    DecoderGraph,
    _assemble_dynamic,
    _onnx_export,
    _tensor_json,
    git_revision,
    sha256_file,
    validate_manifest,
)
from ddpipe.mapping import SOLVER_NAME
from ddpipe.noise import NOISE_SPEC, gaussian_noise_batch
from ddpipe.student import layer_norm_plain, noise_for

from .checkpoints import CheckpointNotFound, LayoutMismatch, LoadedCheckpoint, load_model
from .llamagen_arch import (
    LLAMAGEN_B,
    LLAMAGEN_B_SHALLOW,
    LLAMAGEN_L,
    VQ16,
    VQ16_TEST,
    LlamaGenConfig,
    LlamaGenDDStudent,
    LlamaGenTeacher,
    VQ16Config,
    VQ16Decoder,
    apply_rope,
    expected_shapes,
    sample_dd,
)

CLASSES_PATH = Path(__file__).resolve().parents[1] / "data" / "imagenet1k-classes.json"

# (stage, stages done, stages in all): what a long conversion reports as it goes.
Progress = Callable[[str, int, int], None]

SIZES = {"B": LLAMAGEN_B, "L": LLAMAGEN_L}
TOKENIZER = VQ16  # both sizes use LlamaGen's VQ-16 (vq_ds16_c2i.pt)
# The file names the official model zoos publish, for messages and the README.
OFFICIAL_FILES = {
    "student": {"B": "llamagen-B.pt", "L": "llamagen-L.pt"},
    "teacher": {"B": "c2i_B_256.pt", "L": "c2i_L_256.pt"},
    "vq": "vq_ds16_c2i.pt",
}
ROLE_NAMES = {"student": "LlamaGen-DD student", "teacher": "LlamaGen c2i teacher", "vq": "VQ-16 tokenizer"}

# The official few-step sampling (LlamaGen/README.md of the DD repository): split_t 80 (B) / 130 (L), t_list
# [0, 80] for both sizes. split_t lives in LlamaGenConfig.
T2 = 80
# The official teacher-involved sampling: teacher_start_t 60 / 40 / 0 with t_list [0, 80] and split_t 180 / 180 /
# 220 gives the published 22 / 42 / 81-step results (published for L only).
HYBRID_PRESETS = [
    {"steps": 22, "start": 60, "end": T2, "splitT": 180},
    {"steps": 42, "start": 40, "end": T2, "splitT": 180},
    {"steps": 81, "start": 0, "end": T2, "splitT": 220},
]
HYBRID = {"start": HYBRID_PRESETS[0]["start"], "end": HYBRID_PRESETS[0]["end"]}
# The official teacher-involved script's defaults: guidance 2.0 (constant), top-k 8000, temperature 1, top-p 1.
TEACHER_SETTINGS = {"cfgScale": 2.0, "temperature": 1.0, "topK": 8000, "topP": 1.0}
# The flow map the app's exact-teacher mode runs: the pipeline's default (models/ddpipe/config.py MappingConfig).
# The official DD mapping's solver is not published (dd-method.md section 1), so this is not the official one.
FLOW = {
    "solver": SOLVER_NAME,
    "steps": 48,
    "rMin": 0.05,
    "rMax": 300.0,
    "schedule": "r_0 = 0, r_k = rMin * (rMax/rMin)^((k-1)/(steps-1)) for k = 1..steps; r = t/(1-t)",
    "dtype": "float64",
}
PARITY_TOLERANCE = 1e-3
# Float16 packs: the fixtures are PyTorch with the float16-stored weights (fp16.emulated_float16), which the CPU
# provider matches to about 1e-5; GPU providers also round activations to float16, measured at up to 8e-3 on the
# test pack's graphs.
FP16_PARITY_TOLERANCE = 2e-2
PARITY_NOISE_SEED = 7  # the app's pack test regenerates the generator fixture's noise from this seed
# The student's sampling fixtures: 8 seeds, classes spread over the table (golden retriever, 207, among them).
SAMPLING_SEEDS = list(range(42, 50))
SAMPLING_CLASSES = [0, 1, 207, 281, 388, 417, 980, 999]

LICENSES_OFFICIAL = [
    {
        "name": "Distilled Decoding (LlamaGen-DD) weights",
        "license": "MIT",
        "attribution": "Microsoft Corporation; E. Liu, X. Ning, Y. Wang, Z. Lin, Distilled Decoding 1 (arXiv 2412.17153); "
        "https://huggingface.co/microsoft/distilled_decoding",
    },
    {
        "name": "LlamaGen c2i GPT and VQ-16 tokenizer weights",
        "license": "MIT",
        "attribution": "FoundationVision, LlamaGen (arXiv 2406.06525); https://github.com/FoundationVision/LlamaGen",
    },
]


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    name: str
    synonyms: tuple[str, ...]


def imagenet_classes(path: Path = CLASSES_PATH) -> list[ImageNetClass]:
    """The 1000 ImageNet-1k classes in index order: display name (the first WordNet lemma) and the other lemmas."""
    data = json.loads(path.read_text())
    classes = data["classes"]
    if [c["index"] for c in classes] != list(range(len(classes))):
        raise PipelineError(f"{path}: classes are not in index order")
    return [ImageNetClass(c["index"], c["synonyms"][0], tuple(c["synonyms"][1:])) for c in classes]


def imagenet_class_names(path: Path = CLASSES_PATH) -> list[str]:
    return [c.name for c in imagenet_classes(path)]


def class_names_license(path: Path = CLASSES_PATH) -> dict:
    source = json.loads(path.read_text())["source"]
    return {
        "package": source["package"],
        "name": "ImageNet-1k class names and synonyms",
        "license": source["license"],
        "attribution": f"{source['homepage']}; {source['wordnet']}",
    }


# ---------------------------------------------------------------- graphs


class GeneratorGraph(nn.Module):
    """LlamaGenDDStudent.forward_forced + assembly with t and split_t as tensors (one graph for every step).

    The forward pass is LlamaGenDDStudent.forward with the continuous head's LayerNorm written out; the forced
    prefix takes prefix_ids as the input's nearest codes (they are: x_t[j] = C[prefix_ids[j]])."""

    def __init__(self, student: LlamaGenDDStudent, book: torch.Tensor):
        super().__init__()
        self.student = student
        self.register_buffer("book", book.float())

    def forward(self, noise, prefix_ids, t, split_t, classes):
        s = self.student
        b, n, _ = noise.shape
        tt = t.reshape(1).expand(b)
        data = torch.arange(n)[None, :] < tt[:, None]
        x = torch.where(data[..., None], self.book[prefix_ids], noise)
        cls = s.cls_embedding(classes)
        h = torch.cat([(cls + s.n_d_embed.weight[1])[:, None], s.tok_embeddings(x) + s.n_d_embed(data.long())], 1)
        h = s.blocks(h)[:, 1:]
        head = s.final_layer_conti
        shift, scale = (head.scale_shift_table[None] + cls[:, None]).unbind(1)
        latents = head.linear(layer_norm_plain(h, head.eps) * (1 + scale[:, None]) + shift[:, None])
        ids, out = _assemble_dynamic(s.output(s.norm(h)), latents, prefix_ids, tt, split_t, self.book)
        return out, ids


class TeacherStepGraph(nn.Module):
    """One KV-cached step of LlamaGenTeacher: slot `pos` (the class at 0, token pos-1 after) -> logits of token pos.

    past_k, past_v (layers, B, heads, pos, head_dim) hold the rotated keys and the values of slots 0 .. pos-1."""

    def __init__(self, teacher: LlamaGenTeacher):
        super().__init__()
        self.teacher = teacher

    def forward(self, ids, classes, pos, past_k, past_v):
        t = self.teacher
        heads, hd = t.cfg.heads, t.cfg.head_dim
        b = ids.shape[0]
        x = torch.where(pos.reshape(1, 1) == 0, t.cls_embedding(classes), t.tok_embeddings(ids))[:, None]
        rope = torch.index_select(t.freqs_cis, 0, pos.reshape(1))
        ks, vs = [], []
        for i, layer in enumerate(t.layers):
            att = layer.attention
            q, k, v = att.wqkv(layer.attention_norm(x)).reshape(b, 1, 3, heads, hd).unbind(2)
            q, k = apply_rope(q, rope), apply_rope(k, rope)
            q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, 1, hd)
            keys = torch.cat([past_k[i], k], 2)
            values = torch.cat([past_v[i], v], 2)
            weights = torch.softmax((q @ keys.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
            x = x + att.wo((weights @ values).transpose(1, 2).reshape(b, 1, -1))
            x = x + layer.feed_forward(layer.ffn_norm(x))
            ks.append(keys)
            vs.append(values)
        return t.output(t.norm(x[:, -1])), torch.stack(ks), torch.stack(vs)


# ---------------------------------------------------------------- manifest


def _io(dtype: str, shape: list) -> dict:
    return {"dtype": dtype, "shape": shape}


def _class_entries(classes: list[ImageNetClass]) -> list[dict]:
    out = []
    for c in classes:
        entry: dict = {"index": c.index, "name": c.name}
        if c.synonyms:
            entry["synonyms"] = list(c.synonyms)
        out.append(entry)
    return out


def build_manifest(
    pack_id: str,
    name: str,
    version: str,
    description: str,
    student: LlamaGenDDStudent,
    vq: VQ16Decoder,
    classes: list[ImageNetClass],
    image_size: int,
    split_t: int,
    sources: dict[str, LoadedCheckpoint],
    licenses: list[dict],
    pack_dir: Path,
    precision: dict | None = None,
) -> dict:
    cfg = student.cfg
    n, d, v = cfg.tokens, cfg.codebook_dim, cfg.vocab
    files = {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(pack_dir.iterdir())
        if p.name != "manifest.json"
    }
    kv = ["layers", "batch", cfg.heads, "past", cfg.head_dim]
    kv_out = ["layers", "batch", cfg.heads, "present", cfg.head_dim]
    published = cfg.name.startswith("L")
    choices = {
        "splitT": f"the official few-step split_t of size {cfg.name.split('-')[0]} ({split_t})",
        "tLists": "the official t_list: [0] and [0, 80] for both sizes",
        "hybridPresets": (
            "the published 22/42/81-step teacher-involved schedules (teacher from 60/40/0 to 80, split_t 180/180/220)"
            if published
            else "the 22/42/81-step schedules published for L; the official schedules are not published for B"
        ),
        "hybrid": "the 22-step preset's start and end",
        "teacher": "the official teacher-involved script's defaults (guidance 2.0, top-k 8000, temperature 1, top-p 1)",
        "flow": "the pipeline's default flow map; the official DD mapping's solver is not published, so the exact "
        "teacher mode follows this map, not the one the student was distilled from",
        "exactTeacher": "no exact-teacher sampling fixtures: they would be held-out training pairs, which are not "
        "published; the student's 1-step and 2-step fixtures are in parity.json",
    }
    provenance = {
        "pipelineRevision": git_revision(Path(__file__).resolve().parents[2]),
        "seed": 0,
        "converter": "models/convert/llamagen_pack.py",
        "sources": {role: ckpt.provenance() for role, ckpt in sources.items()},
        "architecture": {"student": cfg.name, "teacher": cfg.name, "vq": vq.cfg.name},
        "choices": choices,
        "precision": precision or {"weights": "float32"},
        "torch": torch.__version__,
    }
    return {
        "format": "dd-studio-pack",
        "formatVersion": FORMAT_VERSION,
        "id": pack_id,
        "name": name,
        "version": version,
        "description": description,
        "family": "llamagen",
        "conditioning": {"kind": "class", "nullClass": cfg.n_classes, "classes": _class_entries(classes)},
        "image": {"width": image_size, "height": image_size, "channels": 3},
        "tokens": {"grid": [cfg.grid, cfg.grid], "count": n, "codebookSize": v, "codebookDim": d, "normalized": True},
        "noise": {**NOISE_SPEC, "shape": [n, d], "batchSeeds": "seed + i (mod 2^32)"},
        "flow": FLOW,
        "sampling": {
            "splitT": split_t,
            "tLists": {"1step": [0], "2step": [0, T2]},
            "hybrid": HYBRID,
            "hybridPresets": HYBRID_PRESETS,
            "teacher": TEACHER_SETTINGS,
        },
        "graphs": {
            "generator": {
                "file": "generator.onnx",
                "inputs": {
                    "noise": _io("float32", ["batch", n, d]),
                    "prefix_ids": _io("int64", ["batch", n]),
                    "t": _io("int64", []),
                    "split_t": _io("int64", []),
                    "class_ids": _io("int64", ["batch"]),
                },
                "outputs": {"latents": _io("float32", ["batch", n, d]), "ids": _io("int64", ["batch", n])},
            },
            "decoder": {
                "file": "decoder.onnx",
                "inputs": {"latents": _io("float32", ["batch", n, d])},
                "outputs": {"rgb": _io("uint8", ["batch", image_size, image_size, 3])},
            },
            "teacherStep": {
                "file": "teacher_step.onnx",
                "layers": cfg.layers,
                "heads": cfg.heads,
                "headDim": cfg.head_dim,
                "inputs": {
                    "ids": _io("int64", ["batch"]),
                    "class_ids": _io("int64", ["batch"]),
                    "pos": _io("int64", []),
                    "past_k": _io("float32", kv),
                    "past_v": _io("float32", kv),
                },
                "outputs": {
                    "logits": _io("float32", ["batch", v]),
                    "present_k": _io("float32", kv_out),
                    "present_v": _io("float32", kv_out),
                },
            },
        },
        "codebook": {"file": "codebook.bin", "dtype": "float32", "shape": [v, d]},
        "parity": {"file": "parity.json"},
        "files": files,
        "licenses": licenses,
        "provenance": provenance,
    }


# ---------------------------------------------------------------- export


def _stage(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


EXPORT_STAGES = 5  # generator, decoder, teacher step, sampling fixtures, manifest


@torch.no_grad()
def export_llamagen_pack(
    student: LlamaGenDDStudent,
    teacher: LlamaGenTeacher,
    vq: VQ16Decoder,
    out_dir: Path,
    sources: dict[str, LoadedCheckpoint],
    pack_id: str,
    name: str,
    version: str = "1.0.0",
    description: str = "",
    classes: list[ImageNetClass] | None = None,
    split_t: int | None = None,
    licenses: list[dict] | None = None,
    fp16: bool = False,
    progress: Progress | None = None,
    stages: tuple[int, int] = (0, EXPORT_STAGES),
) -> Path:
    """Writes the pack into a temporary folder beside out_dir and renames it over out_dir only when complete.

    `sources` maps a role ('student', 'teacher', 'vq') to its LoadedCheckpoint (from checkpoints.load_model), for
    the provenance. `classes` defaults to the 1000 ImageNet classes; `split_t` to the size's few-step value.
    With `fp16`, the graphs' weights are stored as float16 (see fp16.py) and the fixtures come from PyTorch
    emulating that arithmetic. `stages` is (stages done before this call, stages in all) for `progress`."""
    out_dir = Path(out_dir)
    cfg = student.cfg
    if teacher.cfg != cfg:
        raise PipelineError(f"teacher config {teacher.cfg.name} does not match the student's {cfg.name}")
    book = vq.codebook().detach().float()
    if tuple(book.shape) != (cfg.vocab, cfg.codebook_dim):
        raise PipelineError(f"codebook {tuple(book.shape)} does not match the student's ({cfg.vocab}, {cfg.codebook_dim})")
    classes = imagenet_classes() if classes is None else classes
    if len(classes) != cfg.n_classes:
        raise PipelineError(f"{len(classes)} class names for a model of {cfg.n_classes} classes")
    split_t = cfg.split_t if split_t is None else int(split_t)
    n, d = cfg.tokens, cfg.codebook_dim
    image_size = cfg.grid * 2 ** (len(vq.cfg.ch_mult) - 1)
    done, total = stages

    # The parity fixtures are PyTorch's outputs for the graphs as written: with float16 weights, PyTorch computes
    # with the rounded weights (the import is lazy: only float16 packs need onnx in this process).
    if fp16:
        from .fp16 import emulated_float16 as reference
        from .fp16 import to_float16_weights
    else:
        reference = nullcontext
    converted: dict[str, dict] = {}

    def export(module, args, file, inputs, outputs, axes):
        _onnx_export(module, args, tmp_dir / file, inputs, outputs, axes)
        if fp16:
            converted[file] = to_float16_weights(tmp_dir / file)
        with reference():
            return module(*args)

    tmp_dir = out_dir.parent / f".{out_dir.name}.partial"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    try:
        b = 2
        noise = torch.from_numpy(gaussian_noise_batch(PARITY_NOISE_SEED, b, (n, d)))
        class_ids = torch.tensor([0, cfg.n_classes - 1], dtype=torch.long)
        prefix = torch.randint(0, cfg.vocab, (b, n), generator=torch.Generator().manual_seed(3))
        t = torch.tensor(T2, dtype=torch.long)
        split = torch.tensor(split_t, dtype=torch.long)
        batch = {0: "batch"}

        _stage(progress, "exporting the generator (DD student)", done, total)
        generator = GeneratorGraph(student.eval(), book).eval()
        latents, ids = export(
            generator,
            (noise, prefix, t, split, class_ids),
            "generator.onnx",
            ["noise", "prefix_ids", "t", "split_t", "class_ids"],
            ["latents", "ids"],
            {k: batch for k in ("noise", "prefix_ids", "class_ids", "latents", "ids")},
        )

        _stage(progress, "exporting the decoder (VQ-16)", done + 1, total)
        rgb = export(DecoderGraph(vq.eval()).eval(), (latents,), "decoder.onnx", ["latents"], ["rgb"], {"latents": batch, "rgb": batch})

        _stage(progress, "exporting the teacher step", done + 2, total)
        past_len = 3
        kv_shape = (cfg.layers, b, cfg.heads, past_len, cfg.head_dim)
        past_k = torch.randn(kv_shape, generator=torch.Generator().manual_seed(4)) * 0.5
        past_v = torch.randn(kv_shape, generator=torch.Generator().manual_seed(5)) * 0.5
        step_ids = torch.tensor([5, 9], dtype=torch.long)
        pos = torch.tensor(past_len, dtype=torch.long)
        kv_axes = {0: "layers", 1: "batch", 3: "past"}
        present_axes = {0: "layers", 1: "batch", 3: "present"}
        step_logits, present_k, present_v = export(
            TeacherStepGraph(teacher.eval()).eval(),
            (step_ids, class_ids, pos, past_k, past_v),
            "teacher_step.onnx",
            ["ids", "class_ids", "pos", "past_k", "past_v"],
            ["logits", "present_k", "present_v"],
            {"ids": batch, "class_ids": batch, "past_k": kv_axes, "past_v": kv_axes, "logits": batch, "present_k": present_axes, "present_v": present_axes},
        )

        with atomic_path(tmp_dir / "codebook.bin") as tmp:
            tmp.write_bytes(book.numpy().astype("<f4").tobytes())

        _stage(progress, "computing the sampling fixtures", done + 3, total)
        seeds = SAMPLING_SEEDS
        fixture_classes = [c % cfg.n_classes for c in SAMPLING_CLASSES]
        eps = torch.from_numpy(noise_for(seeds, n, d))
        cls = torch.tensor(fixture_classes, dtype=torch.long)
        with reference():
            ids1 = sample_dd(student, eps, cls, [0], split_t, book)[0]
            ids2 = sample_dd(student, eps, cls, [0, T2], split_t, book)[0]

        parity = {
            "tolerance": FP16_PARITY_TOLERANCE if fp16 else PARITY_TOLERANCE,
            "generator": {
                "inputs": {"noise": _tensor_json(noise), "prefix_ids": _tensor_json(prefix), "t": _tensor_json(t), "split_t": _tensor_json(split), "class_ids": _tensor_json(class_ids)},
                "outputs": {"latents": _tensor_json(latents), "ids": _tensor_json(ids)},
            },
            "decoder": {"inputs": {"latents": _tensor_json(latents)}, "outputs": {"rgb": _tensor_json(rgb)}},
            "teacher_step": {
                "inputs": {"ids": _tensor_json(step_ids), "class_ids": _tensor_json(class_ids), "pos": _tensor_json(pos), "past_k": _tensor_json(past_k), "past_v": _tensor_json(past_v)},
                "outputs": {"logits": _tensor_json(step_logits), "present_k": _tensor_json(present_k), "present_v": _tensor_json(present_v)},
            },
            "sampling": {
                "student": {"classes": fixture_classes, "seeds": seeds, "ids1step": ids1.tolist(), "ids2step": ids2.tolist()},
            },
        }
        with atomic_path(tmp_dir / "parity.json") as tmp:
            tmp.write_text(json.dumps(parity, separators=(",", ":")))

        _stage(progress, "writing the manifest", done + 4, total)
        precision = {"weights": "float32"}
        if fp16:
            precision = {
                "weights": "float16",
                "what": "MatMul, Gemm and Conv run in float16 with float16 weights; embedding tables stored as float16; "
                "norms, softmax, the residual stream and the codebook in float32; graph inputs and outputs float32",
                "graphs": converted,
                "parityTolerance": FP16_PARITY_TOLERANCE,
            }
        manifest = build_manifest(
            pack_id, name, version, description, student, vq, classes, image_size, split_t, sources, licenses or [], tmp_dir, precision
        )
        validate_manifest(manifest, tmp_dir / "manifest.json")
        save_json(tmp_dir / "manifest.json", manifest)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise

    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp_dir.rename(out_dir)
    _stage(progress, "complete", total, total)
    return out_dir


# ---------------------------------------------------------------- from official files


class OutputExists(PipelineError):
    """The output folder exists and is not empty: a conversion never writes over anything."""


def check_output_dir(out: Path) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise OutputExists(f"{out}: the output is {what}; name a new folder (nothing is ever written over)")
    return out


def _role_of(present: set[str]) -> str | None:
    """Which kind of official file a set of state-dict keys looks like ('student', 'teacher', 'vq', 'var')."""
    if "final_layer_conti.linear.weight" in present and "n_d_embed.weight" in present:
        return "student"
    if any(k.startswith("decoder.") for k in present):
        return "vq"
    if "tok_embeddings.weight" in present and "layers.0.attention.wqkv.weight" in present:
        return "teacher"
    if any(k.startswith("blocks.") or k == "word_embed.weight" for k in present):
        return "var"
    return None


LOOKS_LIKE = {**ROLE_NAMES, "var": "VAR model (use `var`, not `llamagen`)"}


def _hint(err: LayoutMismatch, role: str, expected: dict[str, tuple[int, ...]], cfg) -> str | None:
    """Why a file does not fit, when it is recognisably another official file or another size."""
    present = (set(expected) - set(err.missing)) | set(err.extra)
    looks = _role_of(present)
    if looks is not None and looks != role:
        return f"this file looks like the {LOOKS_LIKE[looks]}, not the {ROLE_NAMES[role]}: check which file went where"
    widths = {c.dim: size for size, c in SIZES.items()}
    for key, _, got in err.mismatched:
        if key == "norm.weight" and len(got) == 1 and got[0] in widths:
            size = widths[got[0]]
            return f"its width {got[0]} is that of LlamaGen-{size}, not {cfg.name}: convert it as size {size}"
    return None


def load_checked(path: Path, role: str, cfg) -> tuple[nn.Module, LoadedCheckpoint]:
    """checkpoints.load_model, with a hint added to a layout error when the file is another role or size."""
    try:
        return load_model(Path(path), role, cfg)
    except LayoutMismatch as err:
        hint = _hint(err, role, expected_shapes(role, cfg), cfg)
        if hint is None:
            raise
        raise LayoutMismatch(f"{err}\n  hint: {hint}", err.missing, err.extra, err.mismatched) from None


def _convert(
    files: dict[str, Path],
    cfg: LlamaGenConfig,
    vq_cfg: VQ16Config,
    out: Path,
    pack_id: str,
    name: str,
    description: str,
    licenses: list[dict],
    fp16: bool,
    progress: Progress | None,
) -> Path:
    out = check_output_dir(out)
    for role, path in files.items():
        if not Path(path).is_file():
            raise CheckpointNotFound(f"{path}: no such file (expected the {ROLE_NAMES[role]})")
    total = 3 + EXPORT_STAGES
    _stage(progress, "reading the student checkpoint", 0, total)
    student, s_info = load_checked(files["student"], "student", cfg)
    _stage(progress, "reading the teacher checkpoint", 1, total)
    teacher, t_info = load_checked(files["teacher"], "teacher", cfg)
    _stage(progress, "reading the VQ tokenizer checkpoint", 2, total)
    vq, v_info = load_checked(files["vq"], "vq", vq_cfg)
    return export_llamagen_pack(
        student,
        teacher,
        vq,
        out,
        {"student": s_info, "teacher": t_info, "vq": v_info},
        pack_id,
        name,
        description=description,
        licenses=licenses,
        fp16=fp16,
        progress=progress,
        stages=(3, total),
    )


def default_pack_id(size: str, fp16: bool = False) -> str:
    return f"llamagen-{size.lower()}-dd" + ("-fp16" if fp16 else "")


def convert_llamagen(
    student: Path,
    teacher: Path,
    vq: Path,
    size: str,
    out: Path,
    *,
    pack_id: str | None = None,
    fp16: bool = False,
    progress: Progress | None = None,
) -> Path:
    """The official LlamaGen-DD student, its LlamaGen c2i teacher and the VQ-16 tokenizer -> a pack folder `out`.

    `size` is 'B' or 'L'. Every file is read safely and checked against that size's layout before anything is
    written; errors (checkpoints.CheckpointError, ddpipe.common.PipelineError) name the file and what was
    expected. `out` must not exist or be empty. Returns `out`."""
    if size not in SIZES:
        raise PipelineError(f"size {size!r}: expected one of {', '.join(SIZES)}")
    cfg = SIZES[size]
    precision = " Graph weights in float16 for GPU providers." if fp16 else ""
    description = (
        f"LlamaGen-{size} distilled with Distilled Decoding (ImageNet 256x256, 1000 classes), converted from the "
        f"official checkpoints: 1 or 2 steps, the LlamaGen-{size} teacher for the hybrid, AR and exact-teacher "
        f"modes.{precision} The exact-teacher mode uses this app's flow map, not the unpublished official one."
    )
    return _convert(
        {"student": Path(student), "teacher": Path(teacher), "vq": Path(vq)},
        cfg,
        TOKENIZER,
        out,
        pack_id or default_pack_id(size, fp16),
        f"LlamaGen-{size} DD" + (" (float16)" if fp16 else ""),
        description,
        [*LICENSES_OFFICIAL, class_names_license()],
        fp16,
        progress,
    )


# ---------------------------------------------------------------- the test pack

TEST_PACK_ID = "llamagen-test"
# What the official student files carry besides the weights (an argparse Namespace of training arguments), so the
# test files go through the same loading path.
TEST_TRAIN_ARGS = argparse.Namespace(gpt_model="GPT-B", image_size=256, t_list="0,80", ema=True)


def _randomized(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The model's state with every tensor drawn afresh (norm weights around 1, the rest small), seeded."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        noise = torch.randn(value.shape, generator=g)
        parts = key.split(".")
        is_norm = len(parts) > 1 and parts[-1] == "weight" and "norm" in parts[-2]
        state[key] = 1 + 0.1 * noise if is_norm else 0.05 * noise
    return state


def write_test_checkpoints(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Random-weight files in the official structure: the 2-layer B student (weights under 'ema', with training
    arguments), the 2-layer B teacher (under 'model') and a narrow VQ-16 with the full codebook (under 'model', with
    encoder-side keys that the converter ignores). Returns their paths by role."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = LLAMAGEN_B_SHALLOW
    vq_state = _randomized(VQ16Decoder(VQ16_TEST), seed + 3)
    vq_state["encoder.conv_in.weight"] = torch.zeros(8, 3, 3, 3)
    vq_state["quant_conv.weight"] = torch.zeros(VQ16_TEST.codebook_dim, VQ16_TEST.z_channels, 1, 1)
    vq_state["quantize.codebook_used"] = torch.zeros(65536)
    files = {
        "student": folder / OFFICIAL_FILES["student"]["B"],
        "teacher": folder / OFFICIAL_FILES["teacher"]["B"],
        "vq": folder / OFFICIAL_FILES["vq"],
    }
    torch.save({"ema": _randomized(LlamaGenDDStudent(cfg), seed + 1), "args": TEST_TRAIN_ARGS, "steps": 1000}, files["student"])
    torch.save({"model": _randomized(LlamaGenTeacher(cfg), seed + 2)}, files["teacher"])
    torch.save({"model": vq_state}, files["vq"])
    return files


def convert_test_checkpoints(
    files: dict[str, Path],
    out: Path,
    *,
    pack_id: str | None = None,
    fp16: bool = False,
    progress: Progress | None = None,
) -> Path:
    """write_test_checkpoints' files -> the test pack, through the same loading, checks and export as official files."""
    return _convert(
        files,
        LLAMAGEN_B_SHALLOW,
        VQ16_TEST,
        Path(out),
        pack_id or TEST_PACK_ID + ("-fp16" if fp16 else ""),
        "LlamaGen-DD test pack (random weights)" + (" (float16)" if fp16 else ""),
        "Random weights in the official LlamaGen-DD structure (2-layer B width, a narrow VQ-16 decoder with the full "
        "codebook): for testing the converter and the engine; its images are noise.",
        [class_names_license()],
        fp16,
        progress,
    )


def write_llamagen_test_pack(out: Path, *, fp16: bool = False, progress: Progress | None = None) -> Path:
    """A small LlamaGen-DD pack with random weights, made the way an official one is: official-structure files
    (write_test_checkpoints) in a temporary folder, read and checked by the same loader, converted. 256 tokens of
    the full 16384-code codebook, 256 x 256 images, a 2-layer B-width student and teacher. Takes about 10 s."""
    import warnings

    with tempfile.TemporaryDirectory(prefix="llamagen-test-files-") as folder:
        files = write_test_checkpoints(Path(folder))
        with warnings.catch_warnings():
            # The student file's training arguments make the loader announce its restricted reader: expected here.
            warnings.filterwarnings("ignore", message=".*restricted unpickler")
            return convert_test_checkpoints(files, out, fp16=fp16, progress=progress)
