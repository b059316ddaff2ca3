"""Loaded LlamaGen-DD models (student, teacher, VQ-16 decoder; see llamagen_arch.py) -> a DD Studio pack folder.

Writes the same files and graph signatures as the pipeline's own exporter (models/ddpipe/export.py, whose ONNX
export, hashing, fixture encoding and manifest validation are reused here), see ../PACK_FORMAT.md:
  generator.onnx     noise, prefix_ids, t, split_t, class_ids -> latents (assembled), ids
  decoder.onnx       latents -> RGB uint8 NHWC
  teacher_step.onnx  ids, class_ids, pos, past_k, past_v -> logits, present_k, present_v
  codebook.bin, parity.json (one fixture per graph), manifest.json

The teacher is required: the app's manifest schema (format version 1) requires graphs.teacherStep.
parity.json has no end-to-end `sampling` fixtures: the exact-teacher ones need pairs made with the pack's flow
map, which the official student was not distilled with (see the README's gaps).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

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
from ddpipe.student import layer_norm_plain

from .checkpoints import LoadedCheckpoint
from .llamagen_arch import LlamaGenDDStudent, LlamaGenTeacher, VQ16Decoder, apply_rope

CLASSES_PATH = Path(__file__).resolve().parents[1] / "data" / "imagenet1k-classes.json"

# dd-method.md sections 1 and 4: the official LlamaGen teacher settings and the 2-step t_list [0, 80].
T2 = 80
TEACHER_SETTINGS = {"cfgScale": 2.0, "temperature": 1.0, "topK": 8000, "topP": 1.0}
# Not in dd-method.md: the official hybrid schedule's (start, end). 20 teacher tokens ending at t2 gives the
# published 22-step count (1 + 20 + 1); recorded as a choice in the manifest's provenance.
HYBRID = {"start": T2 - 20, "end": T2}
# The flow map the app's exact-teacher mode runs: the pipeline's default (models/ddpipe/config.py MappingConfig).
# The official DD mapping's solver is unconfirmed (dd-method.md section 1), so this is not the official one.
FLOW = {
    "solver": SOLVER_NAME,
    "steps": 48,
    "rMin": 0.05,
    "rMax": 300.0,
    "schedule": "r_0 = 0, r_k = rMin * (rMax/rMin)^((k-1)/(steps-1)) for k = 1..steps; r = t/(1-t)",
    "dtype": "float64",
}
PARITY_TOLERANCE = 1e-3
PARITY_NOISE_SEED = 7  # the app's pack test regenerates the generator fixture's noise from this seed


def imagenet_class_names(path: Path = CLASSES_PATH) -> list[str]:
    """The 1000 ImageNet-1k names in index order; the display name is the first synonym."""
    classes = json.loads(path.read_text())["classes"]
    if [c["index"] for c in classes] != list(range(len(classes))):
        raise PipelineError(f"{path}: classes are not in index order")
    return [c["synonyms"][0] for c in classes]


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
        normed = s.norm(h)
        head = s.final_layer_conti
        shift, scale = (head.scale_shift_table[None] + cls[:, None]).unbind(1)
        hc = normed if s.cfg.conti_after_final_norm else h
        latents = head.linear(layer_norm_plain(hc, head.eps) * (1 + scale[:, None]) + shift[:, None])
        ids, out = _assemble_dynamic(s.output(normed), latents, prefix_ids, tt, split_t, self.book)
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


def _io(dtype: str, shape: list) -> dict:
    return {"dtype": dtype, "shape": shape}


def build_manifest(
    pack_id: str,
    name: str,
    version: str,
    description: str,
    student: LlamaGenDDStudent,
    vq: VQ16Decoder,
    class_names: list[str],
    image_size: int,
    split_t: int,
    sources: dict[str, LoadedCheckpoint],
    licenses: list[dict],
    pack_dir: Path,
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
    return {
        "format": "dd-studio-pack",
        "formatVersion": FORMAT_VERSION,
        "id": pack_id,
        "name": name,
        "version": version,
        "description": description,
        "family": "llamagen",
        "conditioning": {
            "kind": "class",
            "nullClass": cfg.n_classes,
            "classes": [{"index": i, "name": c} for i, c in enumerate(class_names)],
        },
        "image": {"width": image_size, "height": image_size, "channels": 3},
        "tokens": {"grid": [cfg.grid, cfg.grid], "count": n, "codebookSize": v, "codebookDim": d, "normalized": True},
        "noise": {**NOISE_SPEC, "shape": [n, d], "batchSeeds": "seed + i (mod 2^32)"},
        "flow": FLOW,
        "sampling": {
            "splitT": split_t,
            "tLists": {"1step": [0], "2step": [0, T2]},
            "hybrid": HYBRID,
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
        "provenance": {
            "pipelineRevision": git_revision(Path(__file__).resolve().parents[2]),
            "seed": 0,
            "converter": "models/convert/llamagen_pack.py",
            "sources": {role: ckpt.provenance() for role, ckpt in sources.items()},
            "architecture": {"student": cfg.name, "vq": vq.cfg.name, "contiAfterFinalNorm": cfg.conti_after_final_norm},
            "choices": {
                "hybrid": "start = t2 - 20 (the published 22-step hybrid); the official value is not confirmed",
                "flow": "the pipeline's default flow map; the official DD mapping's solver is not confirmed",
            },
            "torch": torch.__version__,
        },
    }


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
    class_names: list[str] | None = None,
    split_t: int | None = None,
    licenses: list[dict] | None = None,
) -> Path:
    """Writes the pack into a temporary folder beside out_dir and renames it over out_dir only when complete.

    `sources` maps a role ('student', 'teacher', 'vq') to its LoadedCheckpoint (from checkpoints.load_model), for
    the provenance. `class_names` defaults to the 1000 ImageNet names; `split_t` to the size's few-step value."""
    out_dir = Path(out_dir)
    cfg = student.cfg
    if teacher.cfg != cfg:
        raise PipelineError(f"teacher config {teacher.cfg.name} does not match the student's {cfg.name}")
    book = vq.codebook().detach().float()
    if tuple(book.shape) != (cfg.vocab, cfg.codebook_dim):
        raise PipelineError(f"codebook {tuple(book.shape)} does not match the student's ({cfg.vocab}, {cfg.codebook_dim})")
    class_names = imagenet_class_names() if class_names is None else class_names
    if len(class_names) != cfg.n_classes:
        raise PipelineError(f"{len(class_names)} class names for a model of {cfg.n_classes} classes")
    split_t = cfg.split_t if split_t is None else int(split_t)
    n, d = cfg.tokens, cfg.codebook_dim
    image_size = cfg.grid * 2 ** (len(vq.cfg.ch_mult) - 1)

    tmp_dir = out_dir.parent / f".{out_dir.name}.partial"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)

    b = 2
    noise = torch.from_numpy(gaussian_noise_batch(PARITY_NOISE_SEED, b, (n, d)))
    classes = torch.tensor([0, cfg.n_classes - 1], dtype=torch.long)
    prefix = torch.randint(0, cfg.vocab, (b, n), generator=torch.Generator().manual_seed(3))
    t = torch.tensor(T2, dtype=torch.long)
    split = torch.tensor(split_t, dtype=torch.long)
    batch = {0: "batch"}

    generator = GeneratorGraph(student.eval(), book).eval()
    _onnx_export(
        generator,
        (noise, prefix, t, split, classes),
        tmp_dir / "generator.onnx",
        ["noise", "prefix_ids", "t", "split_t", "class_ids"],
        ["latents", "ids"],
        {k: batch for k in ("noise", "prefix_ids", "class_ids", "latents", "ids")},
    )
    latents, ids = generator(noise, prefix, t, split, classes)

    decoder = DecoderGraph(vq.eval()).eval()
    _onnx_export(decoder, (latents,), tmp_dir / "decoder.onnx", ["latents"], ["rgb"], {"latents": batch, "rgb": batch})
    rgb = decoder(latents)

    step = TeacherStepGraph(teacher.eval()).eval()
    past_len = 3
    kv_shape = (cfg.layers, b, cfg.heads, past_len, cfg.head_dim)
    past_k = torch.randn(kv_shape, generator=torch.Generator().manual_seed(4)) * 0.5
    past_v = torch.randn(kv_shape, generator=torch.Generator().manual_seed(5)) * 0.5
    step_ids = torch.tensor([5, 9], dtype=torch.long)
    pos = torch.tensor(past_len, dtype=torch.long)
    kv_axes = {0: "layers", 1: "batch", 3: "past"}
    present_axes = {0: "layers", 1: "batch", 3: "present"}
    _onnx_export(
        step,
        (step_ids, classes, pos, past_k, past_v),
        tmp_dir / "teacher_step.onnx",
        ["ids", "class_ids", "pos", "past_k", "past_v"],
        ["logits", "present_k", "present_v"],
        {"ids": batch, "class_ids": batch, "past_k": kv_axes, "past_v": kv_axes, "logits": batch, "present_k": present_axes, "present_v": present_axes},
    )
    step_logits, present_k, present_v = step(step_ids, classes, pos, past_k, past_v)

    with atomic_path(tmp_dir / "codebook.bin") as tmp:
        tmp.write_bytes(book.numpy().astype("<f4").tobytes())

    parity = {
        "tolerance": PARITY_TOLERANCE,
        "generator": {
            "inputs": {"noise": _tensor_json(noise), "prefix_ids": _tensor_json(prefix), "t": _tensor_json(t), "split_t": _tensor_json(split), "class_ids": _tensor_json(classes)},
            "outputs": {"latents": _tensor_json(latents), "ids": _tensor_json(ids)},
        },
        "decoder": {"inputs": {"latents": _tensor_json(latents)}, "outputs": {"rgb": _tensor_json(rgb)}},
        "teacher_step": {
            "inputs": {"ids": _tensor_json(step_ids), "class_ids": _tensor_json(classes), "pos": _tensor_json(pos), "past_k": _tensor_json(past_k), "past_v": _tensor_json(past_v)},
            "outputs": {"logits": _tensor_json(step_logits), "present_k": _tensor_json(present_k), "present_v": _tensor_json(present_v)},
        },
    }
    with atomic_path(tmp_dir / "parity.json") as tmp:
        tmp.write_text(json.dumps(parity, separators=(",", ":")))

    manifest = build_manifest(
        pack_id, name, version, description, student, vq, class_names, image_size, split_t, sources, licenses or [], tmp_dir
    )
    validate_manifest(manifest, tmp_dir / "manifest.json")
    save_json(tmp_dir / "manifest.json", manifest)

    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp_dir.rename(out_dir)
    return out_dir
