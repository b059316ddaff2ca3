"""Stage 7: export a versioned model pack — ONNX graphs (opset 17, dynamic batch), the codebook, a manifest
with the sha256 of every file, and parity fixtures (fixed inputs with PyTorch's outputs) that the app's tests
replay through onnxruntime-node.

Graphs return what the app needs, never full logits over every position:
  generator.onnx     noise, prefix_ids, t, split_t, class -> latents (assembled), ids
  decoder.onnx       latents -> RGB uint8 NHWC (scaling, rounding and clamping inside the graph)
  teacher_step.onnx  ids, class, pos, past_k, past_v -> logits of the next token, present_k, present_v

Besides the graphs, examples.png holds a few real training images per class (one row per class) for the app's
class picker.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .common import PipelineError, atomic_path, save_json
from .config import PipelineConfig
from .noise import NOISE_SPEC, gaussian_noise_batch
from .student import Student, assemble
from .teacher import Teacher
from .vq import VQTokenizer

FORMAT_VERSION = 1
OPSET = 17
EXAMPLES_FILE = "examples.png"
EXAMPLES_PER_CLASS = 4


class GeneratorGraph(nn.Module):
    def __init__(self, student: Student, book: torch.Tensor):
        super().__init__()
        self.student = student
        self.register_buffer("book", book.float())

    def forward(self, noise, prefix_ids, t, split_t, classes):
        b, n, _ = noise.shape
        tt = t.reshape(1).expand(b)
        clean = (torch.arange(n)[None, :] < tt[:, None])[..., None]
        x = torch.where(clean, self.book[prefix_ids], noise)
        logits, latents = self.student(x, tt, classes)
        ids, out = _assemble_dynamic(logits, latents, prefix_ids, tt, split_t, self.book)
        return out, ids


def _assemble_dynamic(logits, latents, prefix_ids, t, split_t, book):
    n = logits.shape[1]
    j = torch.arange(n)[None, :]
    prefix = j < t[:, None]
    ids = torch.where(prefix, prefix_ids, logits.argmax(-1))
    discrete = (j < split_t.reshape(1, 1)) | prefix
    return ids, torch.where(discrete[..., None], book[ids], latents)


class DecoderGraph(nn.Module):
    """Latents -> RGB uint8 NHWC, scaling and clamping in the graph. Any tokenizer with decode_latents fits
    (the pipeline's VQ here, the converters' LlamaGen VQ-16 decoder)."""

    def __init__(self, vq: nn.Module):
        super().__init__()
        self.vq = vq

    def forward(self, latents):
        images = self.vq.decode_latents(latents)  # (B, 3, H, W) in about [-1, 1]
        rgb = torch.clamp(torch.round((images + 1.0) * 127.5), 0.0, 255.0)
        return rgb.permute(0, 2, 3, 1).to(torch.uint8)


class TeacherStepGraph(nn.Module):
    """One KV-cached teacher step with the position as a tensor, so one graph serves every step."""

    def __init__(self, teacher: Teacher):
        super().__init__()
        self.teacher = teacher

    def forward(self, ids, classes, pos, past_k, past_v):
        t = self.teacher
        emb = torch.where(pos.reshape(1, 1) == 0, t.cls_embedding(classes), t.tok_embeddings(ids))
        past = [(past_k[i], past_v[i]) for i in range(past_k.shape[0])]
        h, present = t.backbone.forward_cached(emb[:, None], pos.reshape(1), past)
        logits = t.output(h[:, -1])
        return logits, torch.stack([k for k, _ in present]), torch.stack([v for _, v in present])


class TextEncoderGraph(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, prompt_ids):
        return self.encoder(prompt_ids)


class TextGeneratorGraph(GeneratorGraph):
    """The generator of a text pack: the condition slots come in as `cond` (text_encoder.onnx's output)."""

    def forward(self, noise, prefix_ids, t, split_t, cond):
        b, n, _ = noise.shape
        tt = t.reshape(1).expand(b)
        clean = (torch.arange(n)[None, :] < tt[:, None])[..., None]
        x = torch.where(clean, self.book[prefix_ids], noise)
        logits, latents = self.student.forward_cond(x, tt, cond)
        ids, out = _assemble_dynamic(logits, latents, prefix_ids, tt, split_t, self.book)
        return out, ids


class TeacherPrefillGraph(nn.Module):
    """A text pack's first teacher step: the prompt slots in one pass -> logits of token 0 and the KV cache."""

    def __init__(self, teacher: Teacher):
        super().__init__()
        self.teacher = teacher

    def forward(self, cond):
        t = self.teacher
        h, present = t.backbone.forward_cached(cond, 0, None)
        return t.output(h[:, -1]), torch.stack([k for k, _ in present]), torch.stack([v for _, v in present])


class TextTeacherStepGraph(nn.Module):
    """A text pack's teacher step pos >= 1: token q_{pos-1} at sequence slot prefix - 1 + pos."""

    def __init__(self, teacher: Teacher):
        super().__init__()
        self.teacher = teacher

    def forward(self, ids, pos, past_k, past_v):
        t = self.teacher
        past = [(past_k[i], past_v[i]) for i in range(past_k.shape[0])]
        slot = pos.reshape(1) + (t.prefix - 1)
        h, present = t.backbone.forward_cached(t.tok_embeddings(ids)[:, None], slot, past)
        return t.output(h[:, -1]), torch.stack([k for k, _ in present]), torch.stack([v for _, v in present])


def choose_examples(class_id: np.ndarray, train: np.ndarray, n_classes: int, seed: int, per_class: int = EXAMPLES_PER_CLASS) -> np.ndarray:
    """Dataset indices of the images on the examples sheet, (n_classes, k), row = class: a seeded choice among each
    class's training images (never held-out ones), sorted. k is `per_class`, or fewer when some class has fewer
    training images, since the sheet has no padding; k = 0 means no sheet."""
    counts = np.bincount(class_id[train], minlength=n_classes)[:n_classes]
    k = int(min(per_class, counts.min())) if n_classes else 0
    rng = np.random.default_rng([seed, 11])
    rows = [np.sort(rng.choice(np.flatnonzero(train & (class_id == c)), k, replace=False)) for c in range(n_classes)]
    return np.stack(rows).astype(np.int64) if rows else np.zeros((0, 0), dtype=np.int64)


def write_examples_sheet(examples: np.ndarray, path: Path) -> dict:
    """Writes (n_classes, k, H, W, 3) uint8 images as one RGB PNG, a row per class and k cells per row, and returns
    the manifest's `examples` entry for it."""
    from PIL import Image

    n, k, h, w, _ = examples.shape
    sheet = np.ascontiguousarray(examples.astype(np.uint8).transpose(0, 2, 1, 3, 4).reshape(n * h, k * w, 3))
    with atomic_path(path) as tmp:
        # No text or time chunks: the same images give the same bytes, so a re-export leaves the file unchanged.
        Image.fromarray(sheet, "RGB").save(tmp, format="PNG", optimize=True)
    return {"file": path.name, "perClass": int(k), "cell": [int(w), int(h)]}


def chosen_split_t(cfg: PipelineConfig, metrics: dict) -> int:
    """The split_t picked by the final student's ablation (refine's when it is on), or the configured one."""
    stage = "refine" if cfg.refine.steps > 0 else "student"
    return int(metrics.get(stage, {}).get("chosen_split_t", cfg.student.split_t))


def _onnx_export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict) -> None:
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: stable graphs on torch 1.13 and 2.x alike
    with atomic_path(path) as tmp:
        torch.onnx.export(
            module,
            args,
            str(tmp),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            **kwargs,
        )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tensor_json(t: torch.Tensor) -> dict:
    arr = t.detach().cpu().numpy()
    dtype = {np.float32: "float32", np.int64: "int64", np.uint8: "uint8"}[arr.dtype.type]
    return {"dtype": dtype, "dims": list(arr.shape), "data": arr.flatten().tolist()}


def git_revision(repo: Path) -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@torch.no_grad()
def export_pack(
    cfg: PipelineConfig,
    vq: VQTokenizer,
    teacher: Teacher,
    student: Student,
    class_names: list[str],
    dataset_meta: dict,
    metrics: dict,
    out_dir: Path,
    repo: Path,
    pairs: dict | None = None,
    examples: np.ndarray | None = None,
    text: dict | None = None,
    validate: bool = True,
) -> Path:
    """Writes the pack into a temporary folder and renames it over out_dir only when complete.

    With `examples` ((n_classes, k, H, W, 3) uint8 training images, see choose_examples) the pack gets
    examples.png and the manifest's `examples` entry; with none, or k = 0, it has no examples.

    With `pairs`, parity.json also carries end-to-end fixtures: held-out pairs (class, noise seed, the exact
    teacher's tokens), which the app's exact-teacher mode must reproduce, and the student's 1-step and 2-step
    ids for a few seeds, which the app's DD samplers must reproduce.
    """
    if teacher.text:
        from .export_text import export_text_pack

        return export_text_pack(cfg, vq, teacher, student, dataset_meta, metrics, out_dir, repo, pairs, text or {}, validate)
    book = vq.normalized_codebook().detach()
    n_tokens = teacher.seq_len
    grid = teacher.backbone.cfg.grid
    d = book.shape[1]
    bcfg = teacher.backbone.cfg
    tmp_dir = out_dir.parent / f".{out_dir.name}.partial"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)

    # Fixed inputs: the parity fixtures and the export's example arguments.
    b = 2
    noise = torch.from_numpy(gaussian_noise_batch(7, b, (n_tokens, d)))
    classes = torch.tensor([0, len(class_names) - 1], dtype=torch.long)
    prefix = torch.randint(0, book.shape[0], (b, n_tokens), generator=torch.Generator().manual_seed(3))
    t = torch.tensor(cfg.student.t2, dtype=torch.long)
    split_t = torch.tensor(chosen_split_t(cfg, metrics), dtype=torch.long)

    generator = GeneratorGraph(student.eval(), book).eval()
    _onnx_export(
        generator,
        (noise, prefix, t, split_t, classes),
        tmp_dir / "generator.onnx",
        ["noise", "prefix_ids", "t", "split_t", "class_ids"],
        ["latents", "ids"],
        {"noise": {0: "batch"}, "prefix_ids": {0: "batch"}, "class_ids": {0: "batch"}, "latents": {0: "batch"}, "ids": {0: "batch"}},
    )
    latents, ids = generator(noise, prefix, t, split_t, classes)

    decoder = DecoderGraph(vq.eval()).eval()
    _onnx_export(decoder, (latents,), tmp_dir / "decoder.onnx", ["latents"], ["rgb"], {"latents": {0: "batch"}, "rgb": {0: "batch"}})
    rgb = decoder(latents)

    step = TeacherStepGraph(teacher.eval()).eval()
    past_len = 3
    heads, head_dim = bcfg.heads, bcfg.head_dim
    past_k = torch.randn(bcfg.layers, b, heads, past_len, head_dim, generator=torch.Generator().manual_seed(4)) * 0.5
    past_v = torch.randn(bcfg.layers, b, heads, past_len, head_dim, generator=torch.Generator().manual_seed(5)) * 0.5
    step_ids = torch.tensor([5, 9], dtype=torch.long)
    pos = torch.tensor(past_len, dtype=torch.long)
    kv_axes = {0: "layers", 1: "batch", 3: "past"}
    _onnx_export(
        step,
        (step_ids, classes, pos, past_k, past_v),
        tmp_dir / "teacher_step.onnx",
        ["ids", "class_ids", "pos", "past_k", "past_v"],
        ["logits", "present_k", "present_v"],
        {
            "ids": {0: "batch"},
            "class_ids": {0: "batch"},
            "past_k": kv_axes,
            "past_v": kv_axes,
            "logits": {0: "batch"},
            "present_k": {0: "layers", 1: "batch", 3: "present"},
            "present_v": {0: "layers", 1: "batch", 3: "present"},
        },
    )
    step_logits, present_k, present_v = step(step_ids, classes, pos, past_k, past_v)

    with atomic_path(tmp_dir / "codebook.bin") as tmp:
        tmp.write_bytes(book.float().numpy().astype("<f4").tobytes())

    parity = {
        "tolerance": 1e-4,
        "generator": {
            "inputs": {"noise": _tensor_json(noise), "prefix_ids": _tensor_json(prefix), "t": _tensor_json(t), "split_t": _tensor_json(split_t), "class_ids": _tensor_json(classes)},
            "outputs": {"latents": _tensor_json(latents), "ids": _tensor_json(ids)},
        },
        "decoder": {"inputs": {"latents": _tensor_json(latents)}, "outputs": {"rgb": _tensor_json(rgb)}},
        "teacher_step": {
            "inputs": {"ids": _tensor_json(step_ids), "class_ids": _tensor_json(classes), "pos": _tensor_json(pos), "past_k": _tensor_json(past_k), "past_v": _tensor_json(past_v)},
            "outputs": {"logits": _tensor_json(step_logits), "present_k": _tensor_json(present_k), "present_v": _tensor_json(present_v)},
        },
    }
    if pairs is not None:
        parity["sampling"] = sampling_fixtures(cfg, student, book, pairs, split_t)
    with atomic_path(tmp_dir / "parity.json") as tmp:
        tmp.write_text(json.dumps(parity, separators=(",", ":")))

    examples_entry = None
    if examples is not None and examples.shape[1] > 0:
        examples_entry = write_examples_sheet(examples, tmp_dir / EXAMPLES_FILE)

    manifest = build_manifest(cfg, teacher, book, class_names, dataset_meta, metrics, tmp_dir, repo, examples_entry)
    validate_manifest(manifest, tmp_dir / "manifest.json")
    save_json(tmp_dir / "manifest.json", manifest)

    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp_dir.rename(out_dir)
    return out_dir


EXACT_FIXTURE_SEQUENCES = 48


@torch.no_grad()
def sampling_fixtures(cfg: PipelineConfig, student: Student, book: torch.Tensor, pairs: dict, split_t: torch.Tensor) -> dict:
    from .student import noise_for, run_steps

    n_val = pairs["n_val"]
    take = min(EXACT_FIXTURE_SEQUENCES, n_val)
    lo = len(pairs["tokens"]) - n_val
    seeds = [int(v) for v in pairs["seeds"][lo : lo + take]]
    classes = [int(v) for v in pairs["classes"][lo : lo + take]]
    exact = {"classes": classes, "seeds": seeds, "tokens": pairs["tokens"][lo : lo + take].astype(int).tolist()}
    n_tokens, d = pairs["tokens"].shape[1], book.shape[1]
    dd_seeds = list(range(42, 50))
    dd_classes = [i % len(np.unique(pairs["classes"])) for i in range(len(dd_seeds))]
    eps = torch.from_numpy(noise_for(np.array(dd_seeds), n_tokens, d))
    cls = torch.tensor(dd_classes, dtype=torch.long)
    student = student.eval()
    one = run_steps(student, eps, cls, [0], int(split_t), book)[0]
    two = run_steps(student, eps, cls, [0, cfg.student.t2], int(split_t), book)[0]
    return {
        "exactTeacher": exact,
        "student": {"classes": dd_classes, "seeds": dd_seeds, "ids1step": one.tolist(), "ids2step": two.tolist()},
    }


def manifest_base(cfg: PipelineConfig, teacher: Teacher, book: torch.Tensor, dataset_meta: dict, metrics: dict, pack_dir: Path, repo: Path) -> dict:
    """The manifest fields every pack the pipeline makes shares, class or text: identity, image, tokens, noise,
    flow, sampling, the decoder, codebook, parity, files (hashed from pack_dir), licences and provenance. The
    caller adds `conditioning` and the other graphs."""
    from .pairs import flow_spec

    n_tokens, d, vocab = teacher.seq_len, book.shape[1], int(book.shape[0])
    grid = teacher.backbone.cfg.grid
    m, s = cfg.mapping, cfg.student
    size = int(dataset_meta.get("size", 32))
    files = {}
    for path in sorted(pack_dir.iterdir()):
        if path.name != "manifest.json":
            files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return {
        "format": "dd-studio-pack",
        "formatVersion": FORMAT_VERSION,
        "id": cfg.pack.id,
        "name": cfg.pack.name,
        "version": cfg.pack.version,
        "description": cfg.pack.description,
        "family": "llamagen",
        "image": {"width": size, "height": size, "channels": 3},
        "tokens": {"grid": [grid, grid], "count": n_tokens, "codebookSize": vocab, "codebookDim": d, "normalized": True},
        "noise": {**NOISE_SPEC, "shape": [n_tokens, d], "batchSeeds": "seed + i (mod 2^32)"},
        "flow": flow_spec(cfg).manifest(),
        "sampling": {
            "splitT": chosen_split_t(cfg, metrics),
            "tLists": {"1step": [0], "2step": [0, s.t2]},
            "hybrid": {"start": cfg.eval.hybrid_start, "end": s.t2},
            "teacher": {"cfgScale": m.cfg_scale, "temperature": m.temperature, "topK": m.top_k, "topP": m.top_p},
        },
        "graphs": {
            "decoder": {
                "file": "decoder.onnx",
                "inputs": {"latents": {"dtype": "float32", "shape": ["batch", n_tokens, d]}},
                "outputs": {"rgb": {"dtype": "uint8", "shape": ["batch", size, size, 3]}},
            },
        },
        "codebook": {"file": "codebook.bin", "dtype": "float32", "shape": [vocab, d]},
        "parity": {"file": "parity.json"},
        "files": files,
        "licenses": dataset_meta.get("sources", []),
        "provenance": {
            "pipelineRevision": git_revision(repo),
            "seed": cfg.seed,
            "config": cfg.to_dict(),
            "metrics": metrics,
            "torch": torch.__version__,
        },
    }


def generator_io(n_tokens: int, d: int, condition: dict) -> dict:
    """generator.onnx's inputs and outputs; `condition` is the condition input (class_ids or cond)."""
    return {
        "inputs": {
            "noise": {"dtype": "float32", "shape": ["batch", n_tokens, d]},
            "prefix_ids": {"dtype": "int64", "shape": ["batch", n_tokens]},
            "t": {"dtype": "int64", "shape": []},
            "split_t": {"dtype": "int64", "shape": []},
            **condition,
        },
        "outputs": {
            "latents": {"dtype": "float32", "shape": ["batch", n_tokens, d]},
            "ids": {"dtype": "int64", "shape": ["batch", n_tokens]},
        },
    }


def build_manifest(
    cfg: PipelineConfig,
    teacher: Teacher,
    book: torch.Tensor,
    class_names: list[str],
    dataset_meta: dict,
    metrics: dict,
    pack_dir: Path,
    repo: Path,
    examples: dict | None = None,
) -> dict:
    bcfg = teacher.backbone.cfg
    n_tokens, d = teacher.seq_len, book.shape[1]
    kv = ["layers", "batch", bcfg.heads, "past", bcfg.head_dim]
    kv_out = ["layers", "batch", bcfg.heads, "present", bcfg.head_dim]
    manifest = manifest_base(cfg, teacher, book, dataset_meta, metrics, pack_dir, repo)
    manifest["conditioning"] = {
        "kind": "class",
        "nullClass": len(class_names),
        "classes": [{"index": i, "name": name} for i, name in enumerate(class_names)],
    }
    manifest["graphs"] = {
        "generator": {"file": "generator.onnx", **generator_io(n_tokens, d, {"class_ids": {"dtype": "int64", "shape": ["batch"]}})},
        **manifest["graphs"],
        "teacherStep": {
            "file": "teacher_step.onnx",
            "layers": bcfg.layers,
            "heads": bcfg.heads,
            "headDim": bcfg.head_dim,
            "inputs": {
                "ids": {"dtype": "int64", "shape": ["batch"]},
                "class_ids": {"dtype": "int64", "shape": ["batch"]},
                "pos": {"dtype": "int64", "shape": []},
                "past_k": {"dtype": "float32", "shape": kv},
                "past_v": {"dtype": "float32", "shape": kv},
            },
            "outputs": {
                "logits": {"dtype": "float32", "shape": ["batch", int(book.shape[0])]},
                "present_k": {"dtype": "float32", "shape": kv_out},
                "present_v": {"dtype": "float32", "shape": kv_out},
            },
        },
    }
    if examples is not None:
        manifest["examples"] = examples
    return manifest


SCHEMA_PATH = Path(__file__).resolve().parents[1] / "pack.schema.json"


def validate_manifest(manifest: dict, where: Path) -> None:
    """Checks a manifest against models/pack.schema.json, the JSON Schema generated from the app's own schema."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in errors[:10]]
        raise PipelineError(f"{where} does not match {SCHEMA_PATH.name}:\n" + "\n".join(lines))


def verify_pack_files(pack_dir: Path) -> None:
    """Re-hash every file named in the manifest (the pipeline's own check before calling a pack done)."""
    manifest_path = pack_dir / "manifest.json"
    if not manifest_path.exists():
        raise PipelineError(f"{manifest_path} is missing")
    manifest = json.loads(manifest_path.read_text())
    validate_manifest(manifest, manifest_path)
    for name, entry in manifest["files"].items():
        path = pack_dir / name
        if not path.exists():
            raise PipelineError(f"{pack_dir}: file {name} named in the manifest is missing")
        if sha256_file(path) != entry["sha256"]:
            raise PipelineError(f"{pack_dir}: {name} does not match its sha256 in the manifest")
