"""Export of a text pack (models/PACK_FORMAT.md, revision 1.3): the class pack's files plus text_encoder.onnx,
teacher_prefill.onnx and tokenizer.json; the generator and teacher step take the prompt's slots instead of a class.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from .common import atomic_path, save_json
from .config import PipelineConfig
from .export import (
    DecoderGraph,
    TeacherPrefillGraph,
    TextEncoderGraph,
    TextGeneratorGraph,
    TextTeacherStepGraph,
    _onnx_export,
    _tensor_json,
    chosen_split_t,
    generator_io,
    manifest_base,
    validate_manifest,
)
from .noise import gaussian_noise_batch
from .student import Student
from .teacher import Teacher
from .text import NULL, PAD

TOKENIZER_FILE = "tokenizer.json"


@torch.no_grad()
def export_text_pack(
    cfg: PipelineConfig,
    vq,
    teacher: Teacher,
    student: Student,
    dataset_meta: dict,
    metrics: dict,
    out_dir: Path,
    repo: Path,
    pairs: dict | None,
    text: dict,
    validate: bool,
) -> Path:
    """`text`: {"tokenizer": tokenizer.json's content, "examplePrompts": [...]}."""
    book = vq.normalized_codebook().detach()
    n_tokens, d = teacher.seq_len, book.shape[1]
    bcfg = teacher.backbone.cfg
    prefix = teacher.prefix
    tmp_dir = out_dir.parent / f".{out_dir.name}.partial"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    teacher, student = teacher.eval(), student.eval()

    b = 2
    prompt_ids = torch.stack([teacher.prompt_table[1], torch.tensor([NULL] + [PAD] * (prefix - 1))]).long()
    noise = torch.from_numpy(gaussian_noise_batch(7, b, (n_tokens, d)))
    prefix_ids = torch.randint(0, book.shape[0], (b, n_tokens), generator=torch.Generator().manual_seed(3))
    t = torch.tensor(cfg.student.t2, dtype=torch.long)
    split_t = torch.tensor(chosen_split_t(cfg, metrics), dtype=torch.long)

    encoder = TextEncoderGraph(teacher.text_encoder).eval()
    _onnx_export(encoder, (prompt_ids,), tmp_dir / "text_encoder.onnx", ["prompt_ids"], ["cond"], {"prompt_ids": {0: "batch"}, "cond": {0: "batch"}})
    cond = encoder(prompt_ids)

    generator = TextGeneratorGraph(student, book).eval()
    _onnx_export(
        generator,
        (noise, prefix_ids, t, split_t, cond),
        tmp_dir / "generator.onnx",
        ["noise", "prefix_ids", "t", "split_t", "cond"],
        ["latents", "ids"],
        {"noise": {0: "batch"}, "prefix_ids": {0: "batch"}, "cond": {0: "batch"}, "latents": {0: "batch"}, "ids": {0: "batch"}},
    )
    latents, ids = generator(noise, prefix_ids, t, split_t, cond)

    decoder = DecoderGraph(vq.eval()).eval()
    _onnx_export(decoder, (latents,), tmp_dir / "decoder.onnx", ["latents"], ["rgb"], {"latents": {0: "batch"}, "rgb": {0: "batch"}})
    rgb = decoder(latents)

    kv_out_axes = {0: "layers", 1: "batch", 3: "present"}
    prefill = TeacherPrefillGraph(teacher).eval()
    _onnx_export(
        prefill,
        (cond,),
        tmp_dir / "teacher_prefill.onnx",
        ["cond"],
        ["logits", "present_k", "present_v"],
        {"cond": {0: "batch"}, "logits": {0: "batch"}, "present_k": kv_out_axes, "present_v": kv_out_axes},
    )
    prefill_logits, prefill_k, prefill_v = prefill(cond)

    step = TextTeacherStepGraph(teacher).eval()
    step_ids = torch.tensor([5, 9], dtype=torch.long)
    pos = torch.tensor(1, dtype=torch.long)
    kv_axes = {0: "layers", 1: "batch", 3: "past"}
    _onnx_export(
        step,
        (step_ids, pos, prefill_k, prefill_v),
        tmp_dir / "teacher_step.onnx",
        ["ids", "pos", "past_k", "past_v"],
        ["logits", "present_k", "present_v"],
        {"ids": {0: "batch"}, "past_k": kv_axes, "past_v": kv_axes, "logits": {0: "batch"}, "present_k": kv_out_axes, "present_v": kv_out_axes},
    )
    step_logits, present_k, present_v = step(step_ids, pos, prefill_k, prefill_v)

    with atomic_path(tmp_dir / "codebook.bin") as tmp:
        tmp.write_bytes(book.float().numpy().astype("<f4").tobytes())
    with atomic_path(tmp_dir / TOKENIZER_FILE) as tmp:
        tmp.write_text(json.dumps(text["tokenizer"], separators=(",", ":")))

    parity = {
        "tolerance": 1e-4,
        "text_encoder": {"inputs": {"prompt_ids": _tensor_json(prompt_ids)}, "outputs": {"cond": _tensor_json(cond)}},
        "generator": {
            "inputs": {"noise": _tensor_json(noise), "prefix_ids": _tensor_json(prefix_ids), "t": _tensor_json(t), "split_t": _tensor_json(split_t), "cond": _tensor_json(cond)},
            "outputs": {"latents": _tensor_json(latents), "ids": _tensor_json(ids)},
        },
        "decoder": {"inputs": {"latents": _tensor_json(latents)}, "outputs": {"rgb": _tensor_json(rgb)}},
        "teacher_prefill": {
            "inputs": {"cond": _tensor_json(cond)},
            "outputs": {"logits": _tensor_json(prefill_logits), "present_k": _tensor_json(prefill_k), "present_v": _tensor_json(prefill_v)},
        },
        "teacher_step": {
            "inputs": {"ids": _tensor_json(step_ids), "pos": _tensor_json(pos), "past_k": _tensor_json(prefill_k), "past_v": _tensor_json(prefill_v)},
            "outputs": {"logits": _tensor_json(step_logits), "present_k": _tensor_json(present_k), "present_v": _tensor_json(present_v)},
        },
    }
    if pairs is not None:
        parity["sampling"] = text_sampling_fixtures(cfg, teacher, student, book, pairs, split_t)
    with atomic_path(tmp_dir / "parity.json") as tmp:
        tmp.write_text(json.dumps(parity, separators=(",", ":")))

    manifest = text_manifest(cfg, teacher, book, dataset_meta, metrics, tmp_dir, repo, text)
    if validate:
        validate_manifest(manifest, tmp_dir / "manifest.json")
    save_json(tmp_dir / "manifest.json", manifest)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp_dir.rename(out_dir)
    return out_dir


EXACT_FIXTURE_SEQUENCES = 24


@torch.no_grad()
def text_sampling_fixtures(cfg: PipelineConfig, teacher: Teacher, student: Student, book: torch.Tensor, pairs: dict, split_t: torch.Tensor) -> dict:
    from .student import noise_for, run_steps

    n_val = pairs["n_val"]
    take = min(EXACT_FIXTURE_SEQUENCES, n_val)
    lo = len(pairs["tokens"]) - n_val
    table = teacher.prompt_table
    exact = {
        "promptIds": table[torch.from_numpy(pairs["classes"][lo : lo + take]).long()].tolist(),
        "seeds": [int(v) for v in pairs["seeds"][lo : lo + take]],
        "tokens": pairs["tokens"][lo : lo + take].astype(int).tolist(),
    }
    n_tokens, d = pairs["tokens"].shape[1], book.shape[1]
    dd_seeds = list(range(42, 50))
    # Held-out pairs' prompts (cycled when there are fewer than seeds), and one unconditional row.
    conditions = torch.from_numpy(np.resize(pairs["classes"][lo:], len(dd_seeds))).long()
    conditions[-1] = teacher.null_class
    eps = torch.from_numpy(noise_for(np.array(dd_seeds), n_tokens, d))
    one = run_steps(student, eps, conditions, [0], int(split_t), book)[0]
    two = run_steps(student, eps, conditions, [0, cfg.student.t2], int(split_t), book)[0]
    return {
        "exactTeacher": exact,
        "student": {"promptIds": table[conditions].tolist(), "seeds": dd_seeds, "ids1step": one.tolist(), "ids2step": two.tolist()},
    }


def text_manifest(cfg: PipelineConfig, teacher: Teacher, book: torch.Tensor, dataset_meta: dict, metrics: dict, pack_dir: Path, repo: Path, text: dict) -> dict:
    bcfg = teacher.backbone.cfg
    n_tokens, d, vocab = teacher.seq_len, book.shape[1], int(book.shape[0])
    prefix = teacher.prefix
    kv = ["layers", "batch", bcfg.heads, "past", bcfg.head_dim]
    kv_out = ["layers", "batch", bcfg.heads, "present", bcfg.head_dim]
    kv_prefill = ["layers", "batch", bcfg.heads, prefix, bcfg.head_dim]
    cond = {"dtype": "float32", "shape": ["batch", prefix, bcfg.dim]}
    logits = {"dtype": "float32", "shape": ["batch", vocab]}
    cache = {"layers": bcfg.layers, "heads": bcfg.heads, "headDim": bcfg.head_dim}
    manifest = manifest_base(cfg, teacher, book, dataset_meta, metrics, pack_dir, repo)
    manifest["conditioning"] = {
        "kind": "text",
        "tokenizer": {"file": TOKENIZER_FILE},
        "maxTokens": prefix,
        "unconditional": cfg.teacher.class_dropout > 0,
        "negativePrompt": True,
        "examplePrompts": text.get("examplePrompts", []),
    }
    manifest["graphs"] = {
        "textEncoder": {
            "file": "text_encoder.onnx",
            "inputs": {"prompt_ids": {"dtype": "int64", "shape": ["batch", prefix]}},
            "outputs": {"cond": cond},
        },
        "generator": {"file": "generator.onnx", **generator_io(n_tokens, d, {"cond": cond})},
        **manifest["graphs"],
        "teacherPrefill": {
            "file": "teacher_prefill.onnx",
            **cache,
            "inputs": {"cond": cond},
            "outputs": {"logits": logits, "present_k": {"dtype": "float32", "shape": kv_prefill}, "present_v": {"dtype": "float32", "shape": kv_prefill}},
        },
        "teacherStep": {
            "file": "teacher_step.onnx",
            **cache,
            "inputs": {
                "ids": {"dtype": "int64", "shape": ["batch"]},
                "pos": {"dtype": "int64", "shape": []},
                "past_k": {"dtype": "float32", "shape": kv},
                "past_v": {"dtype": "float32", "shape": kv},
            },
            "outputs": {"logits": logits, "present_k": {"dtype": "float32", "shape": kv_out}, "present_v": {"dtype": "float32", "shape": kv_out}},
        },
    }
    manifest["licenses"] = manifest["licenses"] + [TEXT_LICENSE]
    return manifest


# The keywords in the captions come from emojibase-data (MIT), which packages the Unicode CLDR annotations.
TEXT_LICENSE = {
    "attribution": "Emoji names and keywords from emojibase-data by Miles Johnson (MIT licence), built on the Unicode CLDR annotations (Unicode License v3)",
    "author": "Miles Johnson",
    "license": "MIT",
    "licenseUrl": "https://github.com/milesj/emojibase/blob/master/LICENSE",
    "package": "emojibase-data",
    "version": "17.0.0",
}


def example_prompts(prompts: list[str], allowed_images: np.ndarray, variants: int, seed: int, count: int = 500) -> list[str]:
    """A seeded choice of training captions (never held-out or validation images), distinct, in a fixed order."""
    rng = np.random.default_rng([seed, 12])
    order = rng.permutation(allowed_images)
    out: list[str] = []
    for image in order:
        prompt = prompts[int(image) * variants + int(rng.integers(1, variants))]
        if prompt not in out:
            out.append(prompt)
        if len(out) == count:
            break
    return out
