"""Official LlamaGen-DD files (student, c2i teacher, VQ-16 tokenizer; see llamagen_arch.py) -> a DD Studio pack.

  convert_llamagen          the three official files -> a checked pack folder (what `python -m convert llamagen` runs)
  write_llamagen_test_pack  random-weight files in the official structure (2-layer B, a tiny decoder with the full
                            codebook) -> a pack; what the app's tests run the engine on
  export_llamagen_pack      loaded models -> a pack (the part both share)

Writes the same files and graph signatures as the pipeline's own exporter (models/ddpipe/export.py, whose ONNX
export, hashing, fixture encoding and manifest validation are reused), see ../PACK_FORMAT.md; what this converter
shares with var_pack.py (reading, writing, fixtures, the manifest's common parts) is in pack_common.py:
  generator.onnx     noise, prefix_ids, t, split_t, class_ids -> latents (assembled), ids
  decoder.onnx       latents -> RGB uint8 NHWC
  teacher_step.onnx  ids, class_ids, pos, past_k, past_v -> logits, present_k, present_v
  codebook.bin, parity.json (one fixture per graph, and the student's sampling fixtures), manifest.json

parity.json has no exact-teacher fixtures: those are pairs made with the flow map, and the official training
pairs (and the official map's solver) are not published.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import torch
from torch import nn

from ddpipe.common import PipelineError
from ddpipe.export import DecoderGraph, _assemble_dynamic
from ddpipe.student import layer_norm_plain

from . import pack_common as common
from .checkpoints import LayoutMismatch, LoadedCheckpoint
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
from .pack_common import EXPORT_STAGES, ImageNetClass, Progress, io
# Defined here before pack_common.py shared them with var_pack.py: still importable from this module.
from .pack_common import (  # noqa: F401
    CLASSES_PATH,
    FLOW,
    FP16_PARITY_TOLERANCE,
    PARITY_NOISE_SEED,
    PARITY_TOLERANCE,
    SAMPLING_CLASSES,
    SAMPLING_SEEDS,
    OutputExists,
    check_output_dir,
    class_names_license,
    imagenet_class_names,
    imagenet_classes,
)

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
LICENSES_OFFICIAL = [
    common.dd_weights_license("LlamaGen-DD"),
    {
        "name": "LlamaGen c2i GPT and VQ-16 tokenizer weights",
        "license": "MIT",
        "attribution": "FoundationVision, LlamaGen (arXiv 2406.06525); https://github.com/FoundationVision/LlamaGen",
    },
]


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
    v = cfg.vocab
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
        **common.CHOICES,
    }
    architecture = {"student": cfg.name, "teacher": cfg.name, "vq": vq.cfg.name}
    teacher_step = {
        "file": "teacher_step.onnx",
        "layers": cfg.layers,
        "heads": cfg.heads,
        "headDim": cfg.head_dim,
        "inputs": {
            "ids": io("int64", ["batch"]),
            "class_ids": io("int64", ["batch"]),
            "pos": io("int64", []),
            "past_k": io("float32", kv),
            "past_v": io("float32", kv),
        },
        "outputs": {
            "logits": io("float32", ["batch", v]),
            "present_k": io("float32", kv_out),
            "present_v": io("float32", kv_out),
        },
    }
    return common.pack_manifest(
        pack_id=pack_id,
        name=name,
        version=version,
        description=description,
        family="llamagen",
        cfg=cfg,
        classes=classes,
        image_size=image_size,
        tokens=common.tokens_entry(cfg, normalized=True),
        sampling=common.sampling_entry(split_t, T2, HYBRID, HYBRID_PRESETS, TEACHER_SETTINGS),
        teacher_graph={"teacherStep": teacher_step},
        licenses=licenses,
        provenance=common.provenance_entry(
            "models/convert/llamagen_pack.py",
            sources,
            {"architecture": architecture},
            choices,
            precision or {"weights": "float32"},
        ),
        pack_dir=pack_dir,
    )


# ---------------------------------------------------------------- export

# What a float16 pack keeps in float32 (the manifest's provenance.precision.what).
FP16_WHAT = (
    "MatMul, Gemm and Conv run in float16 with float16 weights; embedding tables stored as float16; "
    "norms, softmax, the residual stream and the codebook in float32; graph inputs and outputs float32"
)


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
    book = vq.codebook().detach().float()
    common.check_models(cfg, teacher.cfg, book, "codebook")
    classes = common.class_table(classes, cfg.n_classes)
    split_t = cfg.split_t if split_t is None else int(split_t)
    image_size = cfg.grid * 2 ** (len(vq.cfg.ch_mult) - 1)
    done, total = stages

    with common.writing_pack(out_dir, fp16, replace=True) as pack:
        x = common.generator_inputs(cfg, T2, split_t)
        common.report_stage(progress, "exporting the generator (DD student)", done, total)
        latents, ids = pack.export_generator(GeneratorGraph(student.eval(), book).eval(), x)

        common.report_stage(progress, "exporting the decoder (VQ-16)", done + 1, total)
        rgb = pack.export_decoder(DecoderGraph(vq.eval()).eval(), latents)

        common.report_stage(progress, "exporting the teacher step", done + 2, total)
        past_len = 3
        kv_shape = (cfg.layers, common.FIXTURE_BATCH, cfg.heads, past_len, cfg.head_dim)
        past_k = torch.randn(kv_shape, generator=torch.Generator().manual_seed(4)) * 0.5
        past_v = torch.randn(kv_shape, generator=torch.Generator().manual_seed(5)) * 0.5
        step_inputs = {
            "ids": torch.tensor([5, 9], dtype=torch.long),
            "class_ids": x.class_ids,
            "pos": torch.tensor(past_len, dtype=torch.long),
            "past_k": past_k,
            "past_v": past_v,
        }
        kv_axes = {0: "layers", 1: "batch", 3: "past"}
        present_axes = {0: "layers", 1: "batch", 3: "present"}
        step_outputs = pack.export(
            TeacherStepGraph(teacher.eval()).eval(),
            tuple(step_inputs.values()),
            "teacher_step.onnx",
            list(step_inputs),
            ["logits", "present_k", "present_v"],
            {"ids": common.BATCH, "class_ids": common.BATCH, "past_k": kv_axes, "past_v": kv_axes, "logits": common.BATCH, "present_k": present_axes, "present_v": present_axes},
        )
        pack.write_codebook(book)

        common.report_stage(progress, "computing the sampling fixtures", done + 3, total)
        sampling = pack.sampling_fixtures(sample_dd, student, T2, split_t, book)
        teacher_fixture = common.fixture(step_inputs, dict(zip(["logits", "present_k", "present_v"], step_outputs)))
        pack.write_parity(x, (latents, ids), rgb, {"teacher_step": teacher_fixture}, sampling)

        common.report_stage(progress, "writing the manifest", done + 4, total)
        manifest = build_manifest(
            pack_id, name, version, description, student, vq, classes, image_size, split_t, sources, licenses or [], pack.dir, pack.precision(FP16_WHAT)
        )
        pack.write_manifest(manifest)
    common.report_stage(progress, "complete", total, total)
    return out_dir


# ---------------------------------------------------------------- from official files


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
    other = common.other_file_hint(_role_of(present), role, LOOKS_LIKE, ROLE_NAMES)
    if other is not None:
        return other
    widths = {c.dim: size for size, c in SIZES.items()}
    for key, _, got in err.mismatched:
        if key == "norm.weight" and len(got) == 1 and got[0] in widths:
            size = widths[got[0]]
            return f"its width {got[0]} is that of LlamaGen-{size}, not {cfg.name}: convert it as size {size}"
    return None


def load_checked(path: Path, role: str, cfg) -> tuple[nn.Module, LoadedCheckpoint]:
    """checkpoints.load_model, with a hint added to a layout error when the file is another role or size."""
    return common.load_with_hint(path, role, cfg, lambda err: _hint(err, role, expected_shapes(role, cfg), cfg))


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
    out = common.check_output_dir(out)
    total = 3 + EXPORT_STAGES
    reads = [("student", cfg, "student"), ("teacher", cfg, "teacher"), ("vq", vq_cfg, "VQ tokenizer")]
    models, sources = common.read_checked_files(files, ROLE_NAMES, reads, load_checked, progress, total)
    return export_llamagen_pack(
        models["student"],
        models["teacher"],
        models["vq"],
        out,
        sources,
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
        [*LICENSES_OFFICIAL, common.class_names_license()],
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
        [common.class_names_license()],
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
