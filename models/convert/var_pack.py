"""Official VAR-DD files (student, VAR teacher, multi-scale VQVAE; see var_arch.py) -> a DD Studio pack, family 'var'.

  convert_var          the three official files -> a checked pack folder (what `python -m convert var` runs)
  write_var_test_pack  random-weight files in the official structure (depth 2, a narrow VQVAE with the full
                       codebook) -> a pack; what the app's tests run the engine on
  export_var_pack      loaded models -> a pack (the part both share)

Files and graphs (../PACK_FORMAT.md, revision 1.2), with the pipeline's ONNX export, hashing, fixture encoding and
manifest validation (models/ddpipe/export.py) reused; what this converter shares with llamagen_pack.py (reading,
writing, fixtures, the manifest's common parts) is in pack_common.py:
  generator.onnx      noise, prefix_ids, t, split_t, class_ids -> latents (assembled), ids; t and split_t count scales
  decoder.onnx        latents (680 tokens, scale after scale) -> RGB uint8 NHWC
  teacher_scale.onnx  ids, scale, class_ids -> the teacher's logits for that scale's tokens
  codebook.bin        VAR's raw codebook (not normalised), parity.json, manifest.json
A graph over protobuf's 2 GB (the float32 d20 and d24 students and teachers, the float16 d24 ones) keeps its
weights in one `<graph>.onnx.data` file beside it, which onnxruntime reads when it opens the graph from its path;
the manifest lists it like any other file.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ddpipe.common import PipelineError
from ddpipe.export import DecoderGraph, _assemble_dynamic

from . import pack_common as common
from .checkpoints import LayoutMismatch, LoadedCheckpoint
from .pack_common import EXPORT_STAGES, ImageNetClass, Progress, io
from .var_arch import (
    VAE,
    VAE_TINY,
    VAR_D2_TEST,
    VAEConfig,
    VARConfig,
    VARDDStudent,
    VARTeacher,
    VARVQVAE,
    ScaleResampler,
    expected_shapes,
    recomputed_buffers,
    sample_dd,
    scale_starts,
    var_config,
)

ROLE_NAMES = {"student": "VAR-DD student", "teacher": "VAR teacher", "vae": "VAR VQVAE"}
CHECKPOINT_KINDS = {"student": "var-student", "teacher": "var-teacher", "vae": "var-vae"}
# The file names the official model zoos publish (VAR-DD on Hugging Face, VAR's own zoo), for messages.
OFFICIAL_FILES = {"student": "var-d{depth}.pth", "teacher": "var_d{depth}.pth", "vae": "vae_ch160v4096z32.pth"}
OFFICIAL_DEPTHS = (16, 20, 24)

# The published teacher-involved schedules (VAR/README.md of the DD repository, combine_sample.py): t_list [0, 5],
# teacher from t_teacher_start 4 / 3 / 0 up to 5, loss_split_t 5 / 8 / 9, for 3 / 4 / 6 model passes (d16 only).
HYBRID_PRESETS = [
    {"steps": 3, "start": 4, "end": 5, "splitT": 5},
    {"steps": 4, "start": 3, "end": 5, "splitT": 8},
    {"steps": 6, "start": 0, "end": 5, "splitT": 9},
]
HYBRID = {"start": HYBRID_PRESETS[1]["start"], "end": HYBRID_PRESETS[1]["end"]}
# combine_sample.py: guidance 2.0 ramped over the scales (VAR's own schedule), top-k 900, top-p 0.95, sampling
# from the softmax of the guided logits (temperature 1).
TEACHER_SETTINGS = {"cfgScale": 2.0, "cfgSchedule": "linear-scale", "temperature": 1.0, "topK": 900, "topP": 0.95}
# The teacher_scale fixture's scale: 25 tokens, made from the ids of scales 0..3 (three area resizings, two Phis).
# The last scale would make the fixture 40 times larger; the decoder fixture covers every scale's resizing.
TEACHER_FIXTURE_SCALE = 4

LICENSES_OFFICIAL = [
    common.dd_weights_license("VAR-DD"),
    {
        "name": "VAR transformer and multi-scale VQVAE weights",
        "license": "MIT",
        "attribution": "FoundationVision, VAR (K. Tian, Y. Jiang, Z. Yuan, B. Peng, L. Wang; arXiv 2404.02905); "
        "https://github.com/FoundationVision/VAR",
    },
]


# ---------------------------------------------------------------- graphs


class GeneratorGraph(nn.Module):
    """VARDDStudent.forward_forced + assembly, with t and split_t (in scales) as tensors: one graph for every step.

    The forced prefix takes prefix_ids as the input's nearest codes (they are: x_t[j] = C[prefix_ids[j]])."""

    def __init__(self, student: VARDDStudent, book: torch.Tensor):
        super().__init__()
        self.student = student
        self.register_buffer("book", book.float())
        self.register_buffer("starts", torch.tensor(scale_starts(student.cfg.patch_nums)))

    def forward(self, noise, prefix_ids, t, split_t, classes):
        b, n, _ = noise.shape
        t_tokens = self.starts[t].reshape(1).expand(b)
        clean = torch.arange(n)[None, :] < t_tokens[:, None]
        x = torch.where(clean[..., None], self.book[prefix_ids], noise)
        logits, latents = self.student(x, t_tokens, classes)
        ids, out = _assemble_dynamic(logits, latents, prefix_ids, t_tokens, self.starts[split_t], self.book)
        return out, ids


class TeacherScaleGraph(nn.Module):
    """The teacher's logits for the tokens of one scale, from the ids of the scales before it.

    The inputs of every position are made from the ids (the accumulated feature map, resized to each next scale);
    ids from `scale` on are replaced by 0 first, so they are never read. The transformer then runs over the
    positions up to the end of `scale` only, with the scale-causal mask: the same logits as a KV-cached run through
    the scales (VARTeacher.logits_by_scale_cached; the tests compare them)."""

    def __init__(self, teacher: VARTeacher, vae: VARVQVAE):
        super().__init__()
        self.teacher = teacher
        self.resampler = ScaleResampler(vae)
        self.register_buffer("book", vae.codebook().detach().float())
        self.register_buffer("starts", torch.tensor(scale_starts(teacher.cfg.patch_nums)))

    def forward(self, ids, scale, classes):
        t = self.teacher
        begin, end = self.starts[scale], self.starts[scale + 1]
        ids = torch.where(torch.arange(ids.shape[1])[None, :] < begin, ids, torch.zeros_like(ids))
        h, cond = t.embed(self.resampler.next_scale_inputs(self.book[ids]), classes)
        h = h[:, :end]
        mask = t.attn_bias_for_masking[:, :, :end, :end]
        for block in t.blocks:
            h = block(h, cond, mask)
        return t.logits(h[:, begin:], cond)


# ---------------------------------------------------------------- manifest


def _choices(cfg: VARConfig, split_t: int, extra: dict[str, str]) -> dict[str, str]:
    size = cfg.name.split("-")[0]
    return {
        "splitT": f"the official few-step loss_split_t of {size} ({split_t}; VAR/README.md: 5 for d16, 4 for d20 and d24)",
        "tLists": f"the official t_list: [0] and [0, {cfg.t2}] (VAR/README.md: [0, 5] for d16, [0, 4] for d20 and d24)",
        "hybridPresets": (
            "the published 3/4/6-step teacher-involved schedules (teacher from scale 4/3/0 to 5, split_t 5/8/9)"
            if cfg.depth == 16
            else f"d16's published 3/4/6-step schedules (teacher from scale 4/3/0 to 5, split_t 5/8/9): teacher-involved "
            f"schedules are published for d16 only, not for {size} (whose 2-step t2 is {cfg.t2})"
        ),
        "hybrid": "the 4-step preset's start and end",
        "teacher": "the official combine_sample.py settings: guidance 2.0 ramped linearly over the scales, top-k 900, "
        "top-p 0.95, temperature 1",
        **common.CHOICES,
        "prefix": "the generator reads the clean prefix as the codebook vectors of prefix_ids; the official 2-step "
        "sampling feeds back the previous assembled output, which is the same when t2 <= split_t (all published "
        "settings)",
        "resizing": "the VQVAE's bicubic upsampling and area resizing are written into the graphs as fixed matrices: "
        "PyTorch's own linear maps (found by resizing basis images), so no Resize node has to match PyTorch's borders",
        **extra,
    }


def build_manifest(
    pack_id: str,
    name: str,
    version: str,
    description: str,
    cfg: VARConfig,
    vae_cfg: VAEConfig,
    classes: list[ImageNetClass],
    split_t: int,
    sources: dict[str, LoadedCheckpoint],
    licenses: list[dict],
    pack_dir: Path,
    precision: dict,
    choices: dict[str, str],
) -> dict:
    n = cfg.tokens
    details = {
        "recomputedBuffers": {role: len(ckpt.absent_buffers) for role, ckpt in sources.items() if ckpt.absent_buffers},
        "architecture": {
            "student": cfg.name,
            "teacher": cfg.name,
            "depth": cfg.depth,
            "heads": cfg.heads,
            "width": cfg.width,
            "vae": vae_cfg.name,
        },
    }
    teacher_scale = {
        "file": "teacher_scale.onnx",
        "inputs": {
            "ids": io("int64", ["batch", n]),
            "scale": io("int64", []),
            "class_ids": io("int64", ["batch"]),
        },
        "outputs": {"logits": io("float32", ["batch", "scaleTokens", cfg.vocab])},
    }
    return common.pack_manifest(
        pack_id=pack_id,
        name=name,
        version=version,
        description=description,
        family="var",
        cfg=cfg,
        classes=classes,
        image_size=cfg.grid * vae_cfg.upsampling,
        tokens=common.tokens_entry(cfg, normalized=False, scales=list(cfg.patch_nums)),
        sampling=common.sampling_entry(split_t, cfg.t2, HYBRID, HYBRID_PRESETS, TEACHER_SETTINGS),
        teacher_graph={"teacherScale": teacher_scale},
        licenses=licenses,
        provenance=common.provenance_entry("models/convert/var_pack.py", sources, details, choices, precision),
        pack_dir=pack_dir,
    )


# ---------------------------------------------------------------- export

# What a float16 pack keeps in float32 (the manifest's provenance.precision.what).
FP16_WHAT = (
    "MatMul, Gemm and Conv run in float16 with float16 weights; the class table stored as float16; "
    "norms, softmax, the residual stream, the resizing matrices and the codebook in float32; graph inputs "
    "and outputs float32"
)


def _check_finite(name: str, *tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise PipelineError(f"{name} gives non-finite values on the fixture inputs: the weights may be damaged")


@torch.no_grad()
def export_var_pack(
    student: VARDDStudent,
    teacher: VARTeacher,
    vae: VARVQVAE,
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
    choices: dict[str, str] | None = None,
) -> Path:
    """Writes the pack into a temporary folder beside out_dir and renames it to out_dir only when complete (out_dir
    must not exist or be empty); on any error the temporary folder is removed.

    `sources` maps a role ('student', 'teacher', 'vae') to its LoadedCheckpoint, for the provenance. `classes`
    defaults to the 1000 ImageNet classes; `split_t` (in scales) to the size's official value. With `fp16` the
    graphs' weights are stored as float16 (see fp16.py) and the fixtures come from PyTorch emulating that
    arithmetic. `stages` is (stages done before this call, stages in all) for `progress`; `choices` are added to
    the provenance's."""
    out_dir = common.check_output_dir(Path(out_dir))
    cfg = student.cfg
    book = vae.codebook().detach().float()
    common.check_models(cfg, teacher.cfg, book, "VQVAE codebook")
    if vae.cfg.patch_nums != cfg.patch_nums:
        raise PipelineError(f"VQVAE scales {vae.cfg.patch_nums} differ from the transformer's {cfg.patch_nums}")
    classes = common.class_table(classes, cfg.n_classes)
    split_t = cfg.split_t if split_t is None else int(split_t)
    if not 0 <= split_t <= cfg.scales:
        raise PipelineError(f"split_t {split_t} is not a scale count between 0 and {cfg.scales}")
    done, total = stages
    student, teacher, vae = student.eval(), teacher.eval(), vae.eval()

    with common.writing_pack(out_dir, fp16, replace=False) as pack:
        x = common.generator_inputs(cfg, cfg.t2, split_t)
        common.report_stage(progress, "exporting the generator (DD student)", done, total)
        latents, ids = pack.export_generator(GeneratorGraph(student, book).eval(), x)
        _check_finite("the student", latents)

        common.report_stage(progress, "exporting the decoder (VQVAE)", done + 1, total)
        rgb = pack.export_decoder(DecoderGraph(ScaleResampler(vae)).eval(), latents)

        common.report_stage(progress, "exporting the teacher scale", done + 2, total)
        scale_inputs = {
            "ids": torch.randint(0, cfg.vocab, (common.FIXTURE_BATCH, cfg.tokens), generator=torch.Generator().manual_seed(4)),
            "scale": torch.tensor(TEACHER_FIXTURE_SCALE, dtype=torch.long),
            "class_ids": torch.tensor([3, cfg.n_classes], dtype=torch.long),  # a class and the null class
        }
        logits = pack.export(
            TeacherScaleGraph(teacher, vae).eval(),
            tuple(scale_inputs.values()),
            "teacher_scale.onnx",
            list(scale_inputs),
            ["logits"],
            {"ids": common.BATCH, "class_ids": common.BATCH, "logits": {0: "batch", 1: "scaleTokens"}},
        )
        _check_finite("the teacher", logits)
        pack.write_codebook(book)

        common.report_stage(progress, "computing the sampling fixtures", done + 3, total)
        sampling = pack.sampling_fixtures(sample_dd, student, cfg.t2, split_t, book)
        teacher_fixture = common.fixture(scale_inputs, {"logits": logits})
        pack.write_parity(x, (latents, ids), rgb, {"teacher_scale": teacher_fixture}, sampling)

        common.report_stage(progress, "writing the manifest", done + 4, total)
        manifest = build_manifest(
            pack_id,
            name,
            version,
            description,
            cfg,
            vae.cfg,
            classes,
            split_t,
            sources,
            licenses or [],
            pack.dir,
            pack.precision(FP16_WHAT),
            _choices(cfg, split_t, choices or {}),
        )
        pack.write_manifest(manifest)
    common.report_stage(progress, "done", total, total)
    return out_dir


# ---------------------------------------------------------------- from official files


def _role_of(present: set[str]) -> str | None:
    """Which kind of official file a set of state-dict keys looks like."""
    if "n_d_embed.weight" in present and "blocks.0.attn.mat_qkv.weight" in present:
        return "student"
    if "blocks.0.attn.mat_qkv.weight" in present:
        return "teacher"
    if any(k.startswith("decoder.") for k in present) and any(k.startswith("quantize.") for k in present):
        return "vae"
    if "cls_embedding.embedding_table.weight" in present or "layers.0.attention.wqkv.weight" in present:
        return "llamagen"
    return None


LOOKS_LIKE = {**ROLE_NAMES, "llamagen": "LlamaGen model (use `llamagen`, not `var`)"}


def _hint(err: LayoutMismatch, role: str, expected: dict[str, tuple[int, ...]], cfg) -> str | None:
    """Why a file does not fit, when it is recognisably another official file or another depth."""
    # Recomputed buffers are never reported missing, so they say nothing about what the file holds.
    optional = set(recomputed_buffers(role, cfg))
    present = (set(expected) - set(err.missing) - optional) | set(err.extra)
    other = common.other_file_hint(_role_of(present), role, LOOKS_LIKE, ROLE_NAMES)
    if other is not None:
        return other
    if role in ("student", "teacher"):
        blocks = {int(k.split(".")[1]) for k in present if k.startswith("blocks.") and k.split(".")[1].isdigit()}
        if blocks and len(blocks) != cfg.depth:
            depth = max(blocks) + 1
            return f"the file holds {depth} blocks, a depth-{depth} model, not {cfg.name}: convert it with depth {depth}"
    return None


def load_checked(path: Path, role: str, cfg) -> tuple[nn.Module, LoadedCheckpoint]:
    """checkpoints.load_model for a VAR role, with a hint added to a layout error when the file is another role or
    depth, and a warning when the student file has no EMA weights."""
    model, info = common.load_with_hint(
        path, CHECKPOINT_KINDS[role], cfg, lambda err: _hint(err, role, expected_shapes(role, cfg), cfg)
    )
    if role == "student" and info.weights_key != "trainer.ema_parameters":
        warnings.warn(
            f"{Path(path).name}: no trainer.ema_parameters; using {info.weights_key} (the raw training weights, as the "
            "official sample.py does with --ema False)",
            stacklevel=2,
        )
    return model, info


def _convert(
    files: dict[str, Path],
    cfg: VARConfig,
    vae_cfg: VAEConfig,
    out: Path,
    pack_id: str,
    name: str,
    description: str,
    licenses: list[dict],
    fp16: bool,
    progress: Progress | None,
) -> Path:
    out = common.check_output_dir(out)
    total = 4 + EXPORT_STAGES
    reads = [("student", cfg, "student"), ("teacher", cfg, "teacher"), ("vae", vae_cfg, "VQVAE")]
    models, sources = common.read_checked_files(files, ROLE_NAMES, reads, load_checked, progress, total)
    common.report_stage(progress, "checking the three files together", 3, total)
    if vae_cfg.patch_nums != cfg.patch_nums:
        raise PipelineError(f"{files['vae']}: VQVAE scales {vae_cfg.patch_nums} differ from the transformer's {cfg.patch_nums}")
    choices = {"weights": f"student weights from {sources['student'].weights_key}"}
    absent = {role: info.absent_buffers for role, info in sources.items() if info.absent_buffers}
    if absent:
        choices["buffers"] = "recomputed (not in the file): " + "; ".join(
            f"{role}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}" for role, keys in absent.items()
        )
    return export_var_pack(
        models["student"],
        models["teacher"],
        models["vae"],
        out,
        sources,
        pack_id,
        name,
        description=description,
        licenses=licenses,
        fp16=fp16,
        progress=progress,
        stages=(4, total),
        choices=choices,
    )


def default_pack_id(depth: int, fp16: bool = False) -> str:
    return f"var-d{depth}-dd" + ("-fp16" if fp16 else "")


def convert_var(
    student: Path,
    teacher: Path,
    vae: Path,
    depth: int,
    out: Path,
    *,
    pack_id: str | None = None,
    fp16: bool = False,
    progress: Progress | None = None,
    vae_config: VAEConfig = VAE,
) -> Path:
    """The official VAR-DD student (var-d{16,20,24}.pth), its VAR teacher (var_d{16,20,24}.pth) and VAR's VQVAE
    (vae_ch160v4096z32.pth) -> a pack folder `out`.

    `depth` is 16, 20 or 24 (2 is the random-weight test size). Every file is read safely and checked against
    that depth's layout before anything is written; errors (checkpoints.CheckpointError,
    ddpipe.common.PipelineError) name the file and what was expected. `out` must not exist or be empty. With
    `fp16` the graphs' weights are float16 (d24's float16 student and teacher, still over 2 GB, keep them in
    `<graph>.onnx.data`).
    `vae_config` is for tests (a narrow VQVAE); official files use the default. Returns `out`."""
    try:
        cfg = var_config(int(depth))
    except ValueError as err:
        raise PipelineError(str(err)) from None
    precision = " Graph weights in float16 for GPU providers." if fp16 else ""
    description = (
        f"VAR-{cfg.name} distilled with Distilled Decoding (ImageNet 256x256, 1000 classes), converted from the "
        f"official checkpoints: 1 or 2 steps, the VAR-{cfg.name} teacher for the hybrid, scale-by-scale and "
        f"exact-teacher modes.{precision} The exact-teacher mode uses this app's flow map, not the unpublished "
        "official one."
    )
    return _convert(
        {"student": Path(student), "teacher": Path(teacher), "vae": Path(vae)},
        cfg,
        vae_config,
        out,
        pack_id or default_pack_id(cfg.depth, fp16),
        f"VAR-{cfg.name} DD" + (" (float16)" if fp16 else ""),
        description,
        [*LICENSES_OFFICIAL, common.class_names_license()],
        fp16,
        progress,
    )


# ---------------------------------------------------------------- the test pack

TEST_PACK_ID = "var-test"
TEST_FILES = {"student": "var-d2.pth", "teacher": "var_d2.pth", "vae": "vae_ch32v4096z32.pth"}


def _randomized(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The model's state with every parameter drawn afresh, seeded: norm weights around 1, attention temperatures
    around VAR's initial log 4, the codebook at unit scale, the rest small. Buffers keep their (defined) values."""
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    state = {}
    for key, value in model.state_dict().items():
        if key not in params:
            state[key] = value.clone()
            continue
        noise = torch.randn(value.shape, generator=g)
        parts = key.split(".")
        if parts[-1] == "weight" and "norm" in parts[-2]:
            state[key] = 1 + 0.1 * noise
        elif parts[-1] == "scale_mul_1H11":
            state[key] = math.log(4.0) + 0.1 * noise
        elif key == "quantize.embedding.weight":
            state[key] = noise
        else:
            state[key] = 0.05 * noise
    return state


def write_test_checkpoints(
    folder: Path, seed: int = 0, cfg: VARConfig = VAR_D2_TEST, vae_cfg: VAEConfig = VAE_TINY
) -> dict[str, Path]:
    """Random-weight files in the official structure (depth 2 and VAE_TINY unless `cfg` and `vae_cfg` say
    otherwise: an official size with VAE gives full-size files under the official names), returned by role:
      student  {'epoch', 'iter', 'trainer': {'config', 'ema_parameters' (parameters only), 'var_wo_ddp' (other
               weights, with the buffers)}, 'args'}: the layout of VAR's training checkpoints
      teacher  a raw state dict with VAR's buffers
      vae      a raw state dict with encoder-side keys and training statistics that the converter ignores"""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = VARDDStudent(cfg)
    buffers = {k for k, _ in model.named_buffers()}
    ema = {k: v for k, v in _randomized(model, seed + 1).items() if k not in buffers}
    model.load_state_dict(_randomized(model, seed + 11))
    # An optimizer's state as VAR's trainer saves it (AdamW's moments, its parameter groups, the loss scaler),
    # over two parameters to keep the file small: the structure is what the loader has to accept.
    optimizer = torch.optim.AdamW([model.pos_start, model.head.bias], lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    for p in (model.pos_start, model.head.bias):
        p.grad = torch.zeros_like(p)
    optimizer.step()
    trainer = {
        "config": {"patch_nums": cfg.patch_nums, "resos": tuple(16 * p for p in cfg.patch_nums), "prog_it": 0},
        "var_wo_ddp": model.state_dict(),  # the training weights, buffers included (an OrderedDict with metadata)
        "var_opt": {"optimizer": optimizer.state_dict(), "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0}},
        "ema_parameters": ema,
    }
    t_list = f"0,{cfg.t2}"
    args = OrderedDict(
        depth=cfg.depth, t_list=t_list, loss_split_t=cfg.split_t, ema=True, tblr=1e-4, pn="1_2_3_4_5_6_8_10_13_16"
    )
    names = TEST_FILES if cfg == VAR_D2_TEST else {k: v.format(depth=cfg.depth) for k, v in OFFICIAL_FILES.items()}
    files = {role: folder / name for role, name in names.items()}
    # One file at a time, each model dropped once saved: full-size d20 files hold 2.5 GB of weights each.
    torch.save({"epoch": 1, "iter": 0, "trainer": trainer, "args": args}, files["student"])
    del model, trainer, ema, optimizer
    torch.save(_randomized(VARTeacher(cfg), seed + 2), files["teacher"])
    vae_state = _randomized(VARVQVAE(vae_cfg), seed + 3)
    vae_state["encoder.conv_in.weight"] = torch.zeros(vae_cfg.ch, 3, 3, 3)
    vae_state["quant_conv.weight"] = torch.zeros(vae_cfg.z_channels, vae_cfg.z_channels, 3, 3)
    vae_state["quant_conv.bias"] = torch.zeros(vae_cfg.z_channels)
    vae_state["quantize.ema_vocab_hit_SV"] = torch.zeros(len(vae_cfg.patch_nums), vae_cfg.vocab)
    torch.save(vae_state, files["vae"])
    return files


def convert_test_checkpoints(
    files: dict[str, Path],
    out: Path,
    *,
    pack_id: str | None = None,
    fp16: bool = False,
    progress: Progress | None = None,
) -> Path:
    """write_test_checkpoints' files -> a pack, through the same loading, checks and export as official files."""
    with warnings.catch_warnings():
        # The student file's float training arguments may make the loader announce its restricted reader.
        warnings.filterwarnings("ignore", message=".*restricted unpickler")
        return _convert(
            {role: Path(path) for role, path in files.items()},
            VAR_D2_TEST,
            VAE_TINY,
            Path(out),
            pack_id or TEST_PACK_ID + ("-fp16" if fp16 else ""),
            "VAR-DD test pack (random weights)" + (" (float16)" if fp16 else ""),
            "Random weights in the official VAR-DD structure (depth 2, a narrow VQVAE with the full codebook): for "
            "testing the converter and the engine; its images are noise.",
            [common.class_names_license()],
            fp16,
            progress,
        )


def write_var_test_pack(out: Path, *, fp16: bool = False, progress: Progress | None = None) -> Path:
    """A small VAR-DD pack with random weights, made the way an official one is: official-structure files
    (write_test_checkpoints) in a temporary folder, read and checked by the same loader, converted.
    680 tokens over the 10 scales, the full 4096 x 32 codebook, 256 x 256 images, a depth-2 student and teacher."""
    with tempfile.TemporaryDirectory(prefix="var-test-files-") as folder:
        files = write_test_checkpoints(Path(folder))
        return convert_test_checkpoints(files, out, fp16=fp16, progress=progress)
