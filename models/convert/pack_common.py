"""What the two official-checkpoint converters share: llamagen_pack.py (LlamaGen-DD) and var_pack.py (VAR-DD).

  classes and licences  the ImageNet-1k class table (../data/imagenet1k-classes.json), its licence, and the
                        licence of the Distilled Decoding weights
  constants             the parity tolerances, the fixtures' noise seed and sampling seeds and classes, the flow map
  reading               check_output_dir, read_checked_files (every file present, then each read and checked
                        against its layout, one progress stage each), load_with_hint
  writing               writing_pack: a PackFolder in a temporary folder beside the pack, renamed into place only
                        when complete; its graphs are exported (float16 weights, large graphs' weights in a
                        `.data` file) with PyTorch's outputs as the parity fixtures
  manifest              the parts whose layout is the same for both families: the generator and decoder
                        signatures, tokens, sampling, provenance, and the manifest around them (../PACK_FORMAT.md)

The ONNX export, hashing, fixture encoding and manifest validation are the pipeline's (models/ddpipe/export.py).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from ddpipe.common import PipelineError, atomic_path, save_json
from ddpipe.export import FORMAT_VERSION, _onnx_export, _tensor_json, git_revision, sha256_file, validate_manifest
from ddpipe.mapping import SOLVER_NAME
from ddpipe.noise import NOISE_SPEC, gaussian_noise_batch
from ddpipe.student import noise_for

from .checkpoints import CheckpointNotFound, LayoutMismatch, LoadedCheckpoint, load_model

CLASSES_PATH = Path(__file__).resolve().parents[1] / "data" / "imagenet1k-classes.json"

# (stage, stages done, stages in all): what a long conversion reports as it goes.
Progress = Callable[[str, int, int], None]

EXPORT_STAGES = 5  # generator, decoder, the teacher's graph, sampling fixtures, manifest

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
FIXTURE_BATCH = 2
# The student's sampling fixtures: 8 seeds, classes spread over the table (golden retriever, 207, among them).
SAMPLING_SEEDS = list(range(42, 50))
SAMPLING_CLASSES = [0, 1, 207, 281, 388, 417, 980, 999]
# protobuf refuses messages of 2 GiB; a graph whose weights come near it keeps them in a separate file.
INLINE_LIMIT = 2**31 - 2**27

# The manifest's provenance.choices that both families make alike (why a pack has what it has).
CHOICES = {
    "flow": "the pipeline's default flow map; the official DD mapping's solver is not published, so the exact "
    "teacher mode follows this map, not the one the student was distilled from",
    "exactTeacher": "no exact-teacher sampling fixtures: they would be held-out training pairs, which are not "
    "published; the student's 1-step and 2-step fixtures are in parity.json",
}


# ---------------------------------------------------------------- classes and licences


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


def dd_weights_license(model: str) -> dict:
    """The licence of the Distilled Decoding weights of `model` ('LlamaGen-DD', 'VAR-DD')."""
    return {
        "name": f"Distilled Decoding ({model}) weights",
        "license": "MIT",
        "attribution": "Microsoft Corporation; E. Liu, X. Ning, Y. Wang, Z. Lin, Distilled Decoding 1 (arXiv 2412.17153); "
        "https://huggingface.co/microsoft/distilled_decoding",
    }


# ---------------------------------------------------------------- reading the official files


class OutputExists(PipelineError):
    """The output folder exists and is not empty: a conversion never writes over anything."""


def check_output_dir(out: Path) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise OutputExists(f"{out}: the output is {what}; name a new folder (nothing is ever written over)")
    return out


def report_stage(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


Loader = Callable[[Path, str, object], "tuple[nn.Module, LoadedCheckpoint]"]


def read_checked_files(
    files: dict[str, Path],
    role_names: dict[str, str],
    reads: list[tuple[str, object, str]],
    load_checked: Loader,
    progress: Progress | None,
    total: int,
) -> tuple[dict[str, nn.Module], dict[str, LoadedCheckpoint]]:
    """Checks that every file exists (CheckpointNotFound names the role it was given for), then reads each of
    `reads` (role, config, what to call it in the progress) with `load_checked`, one progress stage each from 0.
    Returns the modules and the LoadedCheckpoints (the provenance's sources), by role."""
    for role, path in files.items():
        if not Path(path).is_file():
            raise CheckpointNotFound(f"{path}: no such file (expected the {role_names[role]})")
    modules, sources = {}, {}
    for done, (role, cfg, label) in enumerate(reads):
        report_stage(progress, f"reading the {label} checkpoint", done, total)
        modules[role], sources[role] = load_checked(files[role], role, cfg)
    return modules, sources


def load_with_hint(
    path: Path, kind: str, cfg, hint: Callable[[LayoutMismatch], str | None]
) -> tuple[nn.Module, LoadedCheckpoint]:
    """checkpoints.load_model, with `hint(err)` added to a layout error where it can say why the file does not fit."""
    try:
        return load_model(Path(path), kind, cfg)
    except LayoutMismatch as err:
        why = hint(err)
        if why is None:
            raise
        raise LayoutMismatch(f"{err}\n  hint: {why}", err.missing, err.extra, err.mismatched) from None


def other_file_hint(looks: str | None, role: str, looks_like: dict[str, str], role_names: dict[str, str]) -> str | None:
    """The hint for a file that looks like another official file (`looks`, from the family's key test)."""
    if looks is not None and looks != role:
        return f"this file looks like the {looks_like[looks]}, not the {role_names[role]}: check which file went where"
    return None


# ---------------------------------------------------------------- writing the pack


def check_models(cfg, teacher_cfg, book: torch.Tensor, codebook: str) -> None:
    """The student and the teacher are one size, and the codebook (`codebook` names it) fits the student."""
    if teacher_cfg != cfg:
        raise PipelineError(f"teacher config {teacher_cfg.name} does not match the student's {cfg.name}")
    shape = (cfg.vocab, cfg.codebook_dim)
    if tuple(book.shape) != shape:
        raise PipelineError(f"{codebook} {tuple(book.shape)} does not match the student's {shape}")


def class_table(classes: list[ImageNetClass] | None, n_classes: int) -> list[ImageNetClass]:
    """`classes`, or the 1000 ImageNet classes where None, checked against the model's class count."""
    classes = imagenet_classes() if classes is None else classes
    if len(classes) != n_classes:
        raise PipelineError(f"{len(classes)} class names for a model of {n_classes} classes")
    return classes


def export_graph(
    module: nn.Module, args: tuple, pack_dir: Path, file: str, inputs, outputs, axes, fp16: bool
) -> dict | None:
    """Exports `module` as pack_dir/file; returns the float16 conversion's summary when `fp16`.

    The export goes to a scratch folder first: for a graph over 2 GB torch writes each weight to a file of its
    own there, and those are gathered into the one `<file>.data` that the pack lists (save_graph). A float16
    graph is rewritten from there (fp16.float16_model reads the weights from their files) and saved the same way:
    in one file when its float16 weights fit (d20's student), else with a `.data` file (d24's)."""
    scratch = pack_dir / f".{file}.export"
    scratch.mkdir()
    try:
        _onnx_export(module, args, scratch / file, inputs, outputs, axes)
        if fp16:
            from .fp16 import check_saved, float16_model

            model, stats = float16_model(scratch / file)
            save_graph(model, pack_dir / file)
            del model
            check_saved(pack_dir / file)
            return stats
        separate = [p for p in scratch.iterdir() if p.name != file and not p.name.startswith(".")]
        if separate or (scratch / file).stat().st_size > INLINE_LIMIT:
            import onnx

            save_graph(onnx.load(str(scratch / file)), pack_dir / file)  # with the weights torch wrote beside it
        else:
            os.replace(scratch / file, pack_dir / file)
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def save_graph(model, path: Path) -> None:
    """Saves an ONNX model whose weights are all in memory as `path`: in one file when they fit under
    INLINE_LIMIT, else with every weight of 1 KiB or more in `<name>.data` beside it. The size is summed over the
    initializers, because protobuf cannot measure (or write) a message over 2 GB."""
    import onnx

    weights = sum(len(t.raw_data) or t.ByteSize() for t in model.graph.initializer)
    if weights <= INLINE_LIMIT:
        with atomic_path(path) as tmp:
            onnx.save_model(model, str(tmp))
        return
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{path.name}.data",
        size_threshold=1024,
    )


@dataclass(frozen=True)
class GeneratorInputs:
    """The generator fixture's inputs, which are also the export's example arguments."""

    noise: torch.Tensor
    prefix_ids: torch.Tensor
    t: torch.Tensor
    split_t: torch.Tensor
    class_ids: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        """By generator.onnx input name, in the graph's order."""
        names = ("noise", "prefix_ids", "t", "split_t", "class_ids")
        return {name: getattr(self, name) for name in names}


def generator_inputs(cfg, t2: int, split_t: int) -> GeneratorInputs:
    """Seeded noise, random prefix ids, the first and the last class, t = the 2-step t2 (`cfg` is the family's
    transformer config: tokens, codebook_dim, vocab, n_classes)."""
    b, n, d = FIXTURE_BATCH, cfg.tokens, cfg.codebook_dim
    return GeneratorInputs(
        noise=torch.from_numpy(gaussian_noise_batch(PARITY_NOISE_SEED, b, (n, d))),
        prefix_ids=torch.randint(0, cfg.vocab, (b, n), generator=torch.Generator().manual_seed(3)),
        t=torch.tensor(t2, dtype=torch.long),
        split_t=torch.tensor(split_t, dtype=torch.long),
        class_ids=torch.tensor([0, cfg.n_classes - 1], dtype=torch.long),
    )


def fixture(inputs: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> dict:
    """One graph's parity fixture: its inputs and PyTorch's outputs, by graph input and output name."""
    return {
        "inputs": {k: _tensor_json(v) for k, v in inputs.items()},
        "outputs": {k: _tensor_json(v) for k, v in outputs.items()},
    }


BATCH = {0: "batch"}


class PackFolder:
    """A pack being written into `dir`. Graphs are exported with PyTorch's outputs for their parity fixtures; with
    `fp16` their weights are stored as float16 (fp16.py) and PyTorch computes with the rounded weights, as the
    graphs do (the import is lazy: only float16 packs need onnx in this process)."""

    def __init__(self, dir: Path, fp16: bool):
        self.dir = dir
        self.fp16 = fp16
        self.converted: dict[str, dict] = {}  # the float16 conversion's summary of each graph
        if fp16:
            from .fp16 import emulated_float16

            self.reference = emulated_float16
        else:
            self.reference = nullcontext

    def export(self, module: nn.Module, args: tuple, file: str, inputs: list[str], outputs: list[str], axes: dict):
        """Writes `module` as `file`; returns its outputs on `args`."""
        stats = export_graph(module, args, self.dir, file, inputs, outputs, axes, self.fp16)
        if stats is not None:
            self.converted[file] = stats
        with self.reference():
            return module(*args)

    def export_generator(self, graph: nn.Module, x: GeneratorInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """generator.onnx: noise, prefix_ids, t, split_t, class_ids -> latents, ids."""
        return self.export(
            graph,
            tuple(x.named().values()),
            "generator.onnx",
            list(x.named()),
            ["latents", "ids"],
            {k: BATCH for k in ("noise", "prefix_ids", "class_ids", "latents", "ids")},
        )

    def export_decoder(self, graph: nn.Module, latents: torch.Tensor) -> torch.Tensor:
        """decoder.onnx: latents -> rgb."""
        return self.export(graph, (latents,), "decoder.onnx", ["latents"], ["rgb"], {"latents": BATCH, "rgb": BATCH})

    def write_codebook(self, book: torch.Tensor) -> None:
        with atomic_path(self.dir / "codebook.bin") as tmp:
            tmp.write_bytes(book.numpy().astype("<f4").tobytes())

    def sampling_fixtures(
        self, sample_dd: Callable, student: nn.Module, t2: int, split_t: int, book: torch.Tensor
    ) -> dict:
        """The student's 1-step and 2-step ids for SAMPLING_SEEDS and SAMPLING_CLASSES (`sample_dd` is the
        family's reference sampler)."""
        cfg = student.cfg
        classes = [c % cfg.n_classes for c in SAMPLING_CLASSES]
        eps = torch.from_numpy(noise_for(SAMPLING_SEEDS, cfg.tokens, cfg.codebook_dim))
        cls = torch.tensor(classes, dtype=torch.long)
        with self.reference():
            ids1 = sample_dd(student, eps, cls, [0], split_t, book)[0]
            ids2 = sample_dd(student, eps, cls, [0, t2], split_t, book)[0]
        student_ids = {"ids1step": ids1.tolist(), "ids2step": ids2.tolist()}
        return {"student": {"classes": classes, "seeds": SAMPLING_SEEDS, **student_ids}}

    def write_parity(
        self,
        x: GeneratorInputs,
        generated: tuple[torch.Tensor, torch.Tensor],
        rgb: torch.Tensor,
        teacher: dict[str, dict],
        sampling: dict,
    ) -> None:
        """parity.json: the tolerance, the generator's and decoder's fixtures, `teacher` (the teacher graph's
        fixture by its name) and the sampling fixtures."""
        latents, ids = generated
        parity = {
            "tolerance": FP16_PARITY_TOLERANCE if self.fp16 else PARITY_TOLERANCE,
            "generator": fixture(x.named(), {"latents": latents, "ids": ids}),
            "decoder": fixture({"latents": latents}, {"rgb": rgb}),
            **teacher,
            "sampling": sampling,
        }
        with atomic_path(self.dir / "parity.json") as tmp:
            tmp.write_text(json.dumps(parity, separators=(",", ":")))

    def precision(self, what: str) -> dict:
        """The manifest's provenance.precision; `what` says what a float16 pack keeps in float32."""
        if not self.fp16:
            return {"weights": "float32"}
        return {"weights": "float16", "what": what, "graphs": self.converted, "parityTolerance": FP16_PARITY_TOLERANCE}

    def write_manifest(self, manifest: dict) -> None:
        validate_manifest(manifest, self.dir / "manifest.json")
        save_json(self.dir / "manifest.json", manifest)


@contextmanager
def writing_pack(out_dir: Path, fp16: bool, *, replace: bool) -> Iterator[PackFolder]:
    """A PackFolder in `.<name>.partial` beside out_dir, renamed to out_dir when the block completes; on any error
    the temporary folder is removed. With `replace` an existing out_dir is deleted first; without, out_dir must be
    absent or empty (the caller's check_output_dir), and a folder that has since gained files is never removed."""
    folder = PackFolder(out_dir.parent / f".{out_dir.name}.partial", fp16)
    if folder.dir.exists():
        shutil.rmtree(folder.dir)
    folder.dir.mkdir(parents=True)
    try:
        yield folder
        if out_dir.exists():
            if replace:
                shutil.rmtree(out_dir)
            else:
                out_dir.rmdir()
        folder.dir.rename(out_dir)
    except BaseException:
        shutil.rmtree(folder.dir, ignore_errors=True)
        raise


# ---------------------------------------------------------------- manifest


def io(dtype: str, shape: list) -> dict:
    return {"dtype": dtype, "shape": shape}


def class_entries(classes: list[ImageNetClass]) -> list[dict]:
    entries = []
    for c in classes:
        entry: dict = {"index": c.index, "name": c.name}
        if c.synonyms:
            entry["synonyms"] = list(c.synonyms)
        entries.append(entry)
    return entries


def pack_files(pack_dir: Path) -> dict[str, dict]:
    """The sha256 and size of every file of the pack but the manifest."""
    return {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(pack_dir.iterdir())
        if p.name != "manifest.json"
    }


def tokens_entry(cfg, normalized: bool, **extra) -> dict:
    """The manifest's `tokens` (`cfg`: grid, tokens, vocab, codebook_dim); `extra` follows (VAR's scales)."""
    return {
        "grid": [cfg.grid, cfg.grid],
        "count": cfg.tokens,
        "codebookSize": cfg.vocab,
        "codebookDim": cfg.codebook_dim,
        "normalized": normalized,
        **extra,
    }


def sampling_entry(split_t: int, t2: int, hybrid: dict, hybrid_presets: list[dict], teacher: dict) -> dict:
    return {
        "splitT": split_t,
        "tLists": {"1step": [0], "2step": [0, t2]},
        "hybrid": hybrid,
        "hybridPresets": hybrid_presets,
        "teacher": teacher,
    }


def generator_graph(n: int, d: int) -> dict:
    return {
        "file": "generator.onnx",
        "inputs": {
            "noise": io("float32", ["batch", n, d]),
            "prefix_ids": io("int64", ["batch", n]),
            "t": io("int64", []),
            "split_t": io("int64", []),
            "class_ids": io("int64", ["batch"]),
        },
        "outputs": {"latents": io("float32", ["batch", n, d]), "ids": io("int64", ["batch", n])},
    }


def decoder_graph(n: int, d: int, image_size: int) -> dict:
    return {
        "file": "decoder.onnx",
        "inputs": {"latents": io("float32", ["batch", n, d])},
        "outputs": {"rgb": io("uint8", ["batch", image_size, image_size, 3])},
    }


def provenance_entry(
    converter: str, sources: dict[str, LoadedCheckpoint], details: dict, choices: dict, precision: dict
) -> dict:
    """Where the pack came from: `converter` (the family's module), the files read, then the family's `details`
    (architecture and the like), the choices made and the weights' precision."""
    return {
        "pipelineRevision": git_revision(Path(__file__).resolve().parents[2]),
        "seed": 0,
        "converter": converter,
        "sources": {role: ckpt.provenance() for role, ckpt in sources.items()},
        **details,
        "choices": choices,
        "precision": precision,
        "torch": torch.__version__,
    }


def pack_manifest(
    *,
    pack_id: str,
    name: str,
    version: str,
    description: str,
    family: str,
    cfg,
    classes: list[ImageNetClass],
    image_size: int,
    tokens: dict,
    sampling: dict,
    teacher_graph: dict[str, dict],
    licenses: list[dict],
    provenance: dict,
    pack_dir: Path,
) -> dict:
    """The manifest of a class-conditioned pack: the generator and decoder graphs, `teacher_graph` (the family's
    teacher graph entry by its name), the codebook and parity files, and every file's hash. `cfg` is the family's
    transformer config (n_classes, tokens, codebook_dim, vocab)."""
    n, d, v = cfg.tokens, cfg.codebook_dim, cfg.vocab
    return {
        "format": "dd-studio-pack",
        "formatVersion": FORMAT_VERSION,
        "id": pack_id,
        "name": name,
        "version": version,
        "description": description,
        "family": family,
        "conditioning": {"kind": "class", "nullClass": cfg.n_classes, "classes": class_entries(classes)},
        "image": {"width": image_size, "height": image_size, "channels": 3},
        "tokens": tokens,
        "noise": {**NOISE_SPEC, "shape": [n, d], "batchSeeds": "seed + i (mod 2^32)"},
        "flow": FLOW,
        "sampling": sampling,
        "graphs": {"generator": generator_graph(n, d), "decoder": decoder_graph(n, d, image_size), **teacher_graph},
        "codebook": {"file": "codebook.bin", "dtype": "float32", "shape": [v, d]},
        "parity": {"file": "parity.json"},
        "files": pack_files(pack_dir),
        "licenses": licenses,
        "provenance": provenance,
    }
