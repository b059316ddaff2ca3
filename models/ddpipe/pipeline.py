"""The pipeline's command line: runs the stages in order, skipping the ones already finished.

    cd models && /usr/bin/python3 -m ddpipe build emoji32            # models/configs/emoji32.json -> models/packs/emoji32
    cd models && /usr/bin/python3 -m ddpipe build smoke --out /tmp/p  # the small end-to-end configuration
    cd models && /usr/bin/python3 -m ddpipe build emoji32 --from teacher   # redo teacher and everything after

Stage outputs live in models/.cache/work/<pack>/<stage>/; a stage counts as done when its final file exists.
Training stages checkpoint as they go, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import dataset as dataset_mod
from .common import PipelineError, atomic_path, dist_info, is_main_process, save_json, setup_torch
from .config import PipelineConfig, load_config

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = MODELS_DIR.parent
STAGES = ["dataset", "vq", "tokens", "teacher", "pairs", "classifier", "student", "refine", "export"]


class Context:
    def __init__(self, cfg: PipelineConfig, work: Path, out: Path):
        self.cfg = cfg
        self.work = work
        self.out = out
        self.timings: dict[str, float] = {}

    def dataset(self) -> dataset_mod.Dataset:
        path = self.work / "dataset.npz"
        return dataset_mod.ensure_dataset(path, self.cfg.dataset.max_per_class, self.cfg.seed)

    def val_mask(self, n: int) -> np.ndarray:
        """Held-out images: a seeded random subset (fixed for the whole pipeline)."""
        rng = np.random.default_rng([self.cfg.seed, 1])
        return rng.random(n) < self.cfg.dataset.val_fraction

    def prompts(self):
        """A text pack's caption prompts, tokenized (None for class packs); also writes work/text/tokenizer.json."""
        if not self.cfg.text.enabled:
            return None
        from .text_data import prompt_set

        return prompt_set(self.cfg, self.dataset(), self.work, REPO_ROOT)

    def heldout_sequences(self, flip: np.ndarray) -> np.ndarray | None:
        """Per token sequence (images, then the flipped copies): whether it is a held-out style x concept pair."""
        if not self.cfg.text.enabled:
            return None
        from .text_data import heldout_images

        held = heldout_images(self.cfg, self.dataset())
        return np.concatenate([held, held[flip]])

    def judge(self, vq):
        """FID-emoji and class accuracy against the real images, with the classifier stage's network."""
        from .classifier import Judge, load_classifier

        return Judge(load_classifier(self.work), vq, self.dataset().images)


def stage_done(ctx: Context, stage: str) -> bool:
    w = ctx.work
    return {
        "dataset": (w / "dataset.npz").exists(),
        "vq": (w / "vq" / "final.pt").exists(),
        "tokens": (w / "tokens.npz").exists(),
        "teacher": (w / "teacher" / "final.pt").exists(),
        "pairs": (w / "pairs" / "pairs.npz").exists(),
        "classifier": (w / "classifier" / "final.pt").exists(),
        "student": (w / "student" / "final.pt").exists(),
        "refine": ctx.cfg.refine.steps == 0 or (w / "refine" / "final.pt").exists(),
        "export": (ctx.out / "manifest.json").exists(),
    }[stage]


def clear_from(ctx: Context, stage: str) -> None:
    """Forget the outputs of `stage` and every later stage."""
    w = ctx.work
    paths = {
        "dataset": [w / "dataset.npz"],
        "vq": [w / "vq"],
        "tokens": [w / "tokens.npz"],
        "teacher": [w / "teacher"],
        "pairs": [w / "pairs"],
        "classifier": [w / "classifier"],
        "student": [w / "student"],
        "refine": [w / "refine"],
        "export": [ctx.out],
    }
    for later in STAGES[STAGES.index(stage) :]:
        for path in paths[later]:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def run_stage(ctx: Context, stage: str) -> None:
    cfg, work = ctx.cfg, ctx.work
    from .vq import encode_ids, images_to_tensor, load_vq, train_vq

    if stage == "dataset":
        data = ctx.dataset()
        print(dataset_mod.summary(data), file=sys.stderr)
    elif stage == "vq":
        data = ctx.dataset()
        metrics = train_vq(cfg, data.images, data.flippable, ctx.val_mask(len(data)), work)
        print(f"vq: {metrics}", file=sys.stderr)
    elif stage == "tokens":
        data = ctx.dataset()
        vq = load_vq(cfg, work)
        images = images_to_tensor(data.images)
        flip = data.flippable
        val = ctx.val_mask(len(data))
        tokens = np.concatenate([encode_ids(vq, images), encode_ids(vq, images[torch.from_numpy(flip)].flip(-1))])
        classes = np.concatenate([data.class_id, data.class_id[flip]])
        val_mask = np.concatenate([val, val[flip]])
        with atomic_path(work / "tokens.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, tokens=tokens, classes=classes, val_mask=val_mask)
        print(f"tokens: {len(tokens)} sequences ({int(flip.sum())} flipped copies)", file=sys.stderr)
    elif stage == "teacher":
        from .teacher import train_teacher

        tok = np.load(work / "tokens.npz")
        data = ctx.dataset()
        classes, exclude = tok["classes"], None
        if cfg.text.enabled:
            # Text packs condition on the image's captions: the teacher gets each sequence's image index.
            classes = np.concatenate([np.arange(len(data)), np.flatnonzero(data.flippable)])
            exclude = ctx.heldout_sequences(data.flippable)
        metrics = train_teacher(cfg, tok["tokens"], classes, tok["val_mask"], data.n_classes, work, ctx.prompts(), exclude)
        print(f"teacher: {metrics}", file=sys.stderr)
    elif stage == "pairs":
        from .pairs import make_pairs
        from .teacher import load_teacher

        vq = load_vq(cfg, work)
        conditions = None
        if cfg.text.enabled:
            from .text_data import pair_prompts

            conditions = pair_prompts(cfg, ctx.dataset(), ctx.val_mask(len(ctx.dataset())))
        metrics = make_pairs(cfg, load_teacher(work, cfg), vq.normalized_codebook().detach(), work, conditions)
        print(f"pairs: {metrics}", file=sys.stderr)
    elif stage == "classifier":
        from .classifier import build_classifier

        data = ctx.dataset()
        metrics = build_classifier(cfg, data, ctx.val_mask(len(data)), work)
        print(f"classifier: {metrics}", file=sys.stderr)
    elif stage == "student":
        from .pairs import load_pairs
        from .student import train_student
        from .teacher import load_teacher

        vq = load_vq(cfg, work)
        judge = ctx.judge(vq) if is_main_process() else None
        metrics = train_student(cfg, load_teacher(work, cfg), vq.normalized_codebook().detach(), load_pairs(work), work, judge)
        print(f"student: {metrics}", file=sys.stderr)
    elif stage == "refine":
        from .pairs import load_pairs
        from .refine import refine_student
        from .teacher import load_teacher

        vq = load_vq(cfg, work)
        metrics = refine_student(cfg, load_teacher(work, cfg), vq.normalized_codebook().detach(), load_pairs(work), work, ctx.judge(vq))
        print(f"refine: {metrics}", file=sys.stderr)
    elif stage == "export":
        from .export import choose_examples, export_pack, verify_pack_files
        from .student import final_student_stage, load_student
        from .teacher import load_teacher

        data = ctx.dataset()
        vq = load_vq(cfg, work)
        book = vq.normalized_codebook().detach()
        teacher = load_teacher(work, cfg)
        student = load_student(work, teacher, book, final_student_stage(cfg))
        metrics = collect_metrics(work, cfg)
        meta = dict(data.meta)
        from .pairs import load_pairs

        train = ~ctx.val_mask(len(data))
        examples = data.images[choose_examples(data.class_id, train, data.n_classes, cfg.seed)]
        if examples.shape[1] == 0:
            print("export: some class has no training image, so the pack gets no examples sheet", file=sys.stderr)
        text = None
        if cfg.text.enabled:
            text = text_export_extras(ctx, data)
            examples = None
        export_pack(cfg, vq, teacher, student, data.class_names, meta, metrics, ctx.out, REPO_ROOT, load_pairs(work), examples, text, validate=os.environ.get("DDSTUDIO_SKIP_SCHEMA") != "1")
        verify_pack_files(ctx.out)
        print(f"export: {ctx.out}", file=sys.stderr)


def text_export_extras(ctx: Context, data) -> dict:
    """A text pack's tokenizer and example prompts (training captions only)."""
    from .export_text import example_prompts
    from .text_data import captions_of, heldout_images

    ctx.prompts()  # writes work/text/tokenizer.json
    tokenizer = json.loads((ctx.work / "text" / "tokenizer.json").read_text())
    captions = captions_of(data, REPO_ROOT)
    allowed = np.flatnonzero(~ctx.val_mask(len(data)) & ~heldout_images(ctx.cfg, data))
    return {"tokenizer": tokenizer, "examplePrompts": example_prompts(captions.prompts, allowed, captions.variants, ctx.cfg.seed)}


# Caption variants that name a style ("{style} {name}", "{name}, {style} style", ...): evaluation prompts, so
# that style accuracy means something.
STYLED_VARIANTS = (1, 2, 3, 5)


def text_eval_conditions(ctx: Context, data, n: int) -> torch.Tensor:
    """n evaluation prompts: styled caption variants of dataset images outside the held-out pairs (seeded), as
    condition indices."""
    from .text import TEMPLATES
    from .text_data import heldout_images

    allowed = np.flatnonzero(~heldout_images(ctx.cfg, data))
    rng = np.random.default_rng([ctx.cfg.seed, 13])
    images = rng.choice(allowed, size=n)
    return torch.from_numpy(images * len(TEMPLATES) + rng.choice(STYLED_VARIANTS, size=n)).long()


def heldout_eval_prompts(ctx: Context, data) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out style x concept images' "{style} {name}" prompts, and as many trained images' (same style mix)."""
    from .text import STYLE_NAME_VARIANT, TEMPLATES
    from .text_data import heldout_images

    held = heldout_images(ctx.cfg, data)
    rng = np.random.default_rng([ctx.cfg.seed, 14])
    heldout = np.flatnonzero(held)
    control = [rng.choice(np.flatnonzero(~held & ~ctx.val_mask(len(data)) & (data.style == data.style[i]))) for i in heldout]
    v = len(TEMPLATES)
    return torch.from_numpy(heldout * v + STYLE_NAME_VARIANT).long(), torch.from_numpy(np.array(control) * v + STYLE_NAME_VARIANT).long()


def collect_metrics(work: Path, cfg: PipelineConfig) -> dict:
    metrics = {}
    stages = ["vq", "teacher", "pairs", "classifier", "student"] + (["refine"] if cfg.refine.steps > 0 else [])
    for stage in stages:
        path = work / stage / "metrics.json"
        if path.exists():
            metrics[stage] = json.loads(path.read_text())
    timings = work / "timings.json"
    if timings.exists():
        metrics["timings_s"] = json.loads(timings.read_text())
        if cfg.refine.steps == 0:
            # A refine run left in the work folder by an experiment is no part of a pack built without it.
            metrics["timings_s"].pop("refine", None)
    return metrics


def build(pack: str, config: Path | None, out: Path | None, work: Path | None, start_from: str | None, stop_after: str | None) -> Path:
    cfg = load_config(config or MODELS_DIR / "configs" / f"{pack}.json")
    work = work or MODELS_DIR / ".cache" / "work" / pack
    out = out or MODELS_DIR / "packs" / cfg.pack.id
    ctx = Context(cfg, work, out)
    work.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        save_json(work / "config.json", cfg.to_dict())
        if start_from:
            clear_from(ctx, start_from)
    timings_path = work / "timings.json"

    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    rank, world = dist_info()
    if world > 1:
        # Under torchrun only the student trains on every process; everything else is single-process work.
        missing = [s for s in STAGES[: STAGES.index("student")] if not stage_done(ctx, s)]
        if missing:
            raise PipelineError(f"under torchrun, run the stages before 'student' first (missing: {', '.join(missing)})")
    if cfg.reuse and is_main_process():
        reuse_stages(MODELS_DIR / ".cache" / "work" / cfg.reuse, work, timings)
        save_json(timings_path, timings)
    for stage in STAGES:
        if world > 1 and rank != 0 and stage != "student":
            continue
        if stage_done(ctx, stage):
            print(f"[{stage}] done already", file=sys.stderr)
        else:
            print(f"[{stage}] running", file=sys.stderr)
            t0 = time.time()
            run_stage(ctx, stage)
            timings[stage] = round(time.time() - t0, 1)
            if is_main_process():
                save_json(timings_path, timings)
        if stage == stop_after:
            break
    return out


REUSED = {"dataset": "dataset.npz", "vq": "vq", "tokens": "tokens.npz", "classifier": "classifier"}


def reuse_stages(source: Path, work: Path, timings: dict) -> None:
    """Copies the shared stages' outputs from another pack's work folder (config key `reuse`), with their times."""
    source_timings = json.loads((source / "timings.json").read_text()) if (source / "timings.json").exists() else {}
    for stage, name in REUSED.items():
        src, dst = source / name, work / name
        if dst.exists():
            continue
        if not src.exists():
            raise PipelineError(f"reuse: {src} is missing; build the '{source.name}' pack's {stage} stage first")
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        if stage in source_timings:
            timings[f"{stage}_reused"] = source_timings[stage]
        print(f"[{stage}] reused from {source}", file=sys.stderr)


def run_eval(
    pack: str,
    config: Path | None,
    out: Path | None,
    work: Path | None,
    grids: Path | None,
    samples: int | None,
    device: str = "cpu",
    with_pack: bool = True,
) -> dict:
    """Evaluates the work folder's models; with_pack also checks the built pack first and seals eval.json into it.

    Without the pack (a GPU box that trains but does not export), the results go to the grids folder only and
    `attach-eval` puts them into the pack once it is exported.
    """
    import dataclasses

    from .classifier import load_classifier
    from .evaluate import add_eval_to_pack, evaluate
    from .export import chosen_split_t, verify_pack_files
    from .pairs import load_pairs
    from .student import final_student_stage, load_student
    from .teacher import load_teacher
    from .vq import load_vq

    cfg = load_config(config or MODELS_DIR / "configs" / f"{pack}.json")
    if samples is not None:
        cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, samples_per_mode=samples))
    work = work or MODELS_DIR / ".cache" / "work" / pack
    out = out or MODELS_DIR / "packs" / cfg.pack.id
    grids = grids or MODELS_DIR / "eval" / cfg.pack.id
    if with_pack:
        verify_pack_files(out)
    ctx = Context(cfg, work, out)
    data = ctx.dataset()
    vq = load_vq(cfg, work)
    book = vq.normalized_codebook().detach()
    teacher = load_teacher(work, cfg)
    student = load_student(work, teacher, book, final_student_stage(cfg))
    metrics = collect_metrics(work, cfg)
    split_t = chosen_split_t(cfg, metrics)
    if "classifier" not in metrics:
        raise PipelineError(f"the classifier stage has not run for {work} (run `build {pack}` first)")
    classifier = load_classifier(work)
    t0 = time.time()
    pairs = load_pairs(work)
    conditions = text_eval_conditions(ctx, data, cfg.eval.samples_per_mode) if cfg.text.enabled else None
    results = evaluate(
        cfg, data, ctx.val_mask(len(data)), vq, teacher, student, split_t, pairs, classifier, metrics["classifier"], grids,
        torch.device(device), conditions,
    )  # fmt: skip
    if cfg.text.enabled:
        from .evaluate import evaluate_heldout

        heldout, control = heldout_eval_prompts(ctx, data)
        results["heldout_style_concept"] = evaluate_heldout(cfg, data, vq, teacher, student, split_t, classifier, heldout, control, 8, grids)
    results["eval_seconds"] = round(time.time() - t0, 1)
    if with_pack:
        add_eval_to_pack(out, results)
    save_json(grids / "eval.json", results)
    print(results_table(results))
    return results


def second_step_report(pack: str, config: Path | None, work: Path | None, out_json: Path | None) -> dict:
    """The second-step ceiling analysis (refine.second_step_ceiling) for the final student of a built work folder."""
    from .pairs import load_pairs
    from .refine import second_step_ceiling
    from .student import final_student_stage, load_student
    from .teacher import load_teacher
    from .vq import load_vq

    cfg = load_config(config or MODELS_DIR / "configs" / f"{pack}.json")
    work = work or MODELS_DIR / ".cache" / "work" / pack
    ctx = Context(cfg, work, MODELS_DIR / "packs" / cfg.pack.id)
    vq = load_vq(cfg, work)
    book = vq.normalized_codebook().detach()
    teacher = load_teacher(work, cfg)
    results = second_step_ceiling(cfg, load_student(work, teacher, book, final_student_stage(cfg)), teacher, book, load_pairs(work), ctx.judge(vq))
    if out_json is not None:
        save_json(out_json, results)
    print(json.dumps(results, indent=2))
    return results


def attach_eval(pack_dir: Path, eval_json: Path) -> None:
    from .evaluate import add_eval_to_pack
    from .export import verify_pack_files

    verify_pack_files(pack_dir)
    try:
        results = json.loads(eval_json.read_text())
    except (OSError, ValueError) as err:
        raise PipelineError(f"{eval_json}: not a readable eval.json ({err})") from None
    if not isinstance(results, dict) or not isinstance(results.get("modes"), dict):
        raise PipelineError(f"{eval_json}: no 'modes' object; is it the output of `eval`?")
    add_eval_to_pack(pack_dir, results)
    verify_pack_files(pack_dir)
    print(results_table(results))


def ablate_t2(pack: str, config: Path | None, work: Path | None, grids: Path | None, values: list[int], steps: int) -> dict:
    """Short student runs, one per t2 candidate, from the same teacher and pairs; scored with FID-emoji.

    t2 is the second trajectory point: it sets where 2-step sampling restarts and which inputs the student trains
    on, so unlike split_t it needs retraining. Each variant trains `steps` steps into work/ablation/t2-<v>/ and is
    scored on the held-out pairs' noise with its own best split_t. The result goes to models/eval/<pack>/t2_ablation.json;
    the config's student.t2 is then set from it by hand (the table in models/README.md says which was chosen).
    """
    import dataclasses

    from .pairs import load_pairs
    from .student import train_student
    from .teacher import load_teacher
    from .vq import load_vq

    cfg = load_config(config or MODELS_DIR / "configs" / f"{pack}.json")
    work = work or MODELS_DIR / ".cache" / "work" / pack
    grids = grids or MODELS_DIR / "eval" / cfg.pack.id
    ctx = Context(cfg, work, MODELS_DIR / "packs" / cfg.pack.id)
    missing = [s for s in STAGES[: STAGES.index("student")] if not stage_done(ctx, s)]
    if missing:
        raise PipelineError(f"run `build {pack} --stop-after classifier` first (missing: {', '.join(missing)})")
    vq = load_vq(cfg, work)
    book = vq.normalized_codebook().detach()
    teacher = load_teacher(work, cfg)
    pairs = load_pairs(work)
    judge = ctx.judge(vq)
    n_tokens = teacher.seq_len
    results: dict = {"steps_per_variant": steps, "values": {}}
    for value in values:
        if not 0 < value < n_tokens:
            raise PipelineError(f"t2 = {value} is outside 1..{n_tokens - 1}")
        variant = dataclasses.replace(cfg, student=dataclasses.replace(cfg.student, t2=value, steps=steps))
        t0 = time.time()
        metrics = train_student(variant, teacher, book, pairs, work, judge, stage=work / "ablation" / f"t2-{value}")
        best = str(metrics["chosen_split_t"])
        results["values"][str(value)] = {
            "chosen_split_t": metrics["chosen_split_t"],
            **metrics["split_t_ablation"][best],
            "token_agreement_1step": metrics["token_agreement_1step"],
            "token_agreement_2step": metrics["token_agreement_2step"],
            "seconds": round(time.time() - t0, 1),
        }
        print(f"t2 {value}: {results['values'][str(value)]}", file=sys.stderr)
    results["best_t2_by_fid_emoji_2step"] = int(min(results["values"], key=lambda v: results["values"][v]["fid_emoji_2step"]))
    save_json(grids / "t2_ablation.json", results)
    print(json.dumps(results, indent=2))
    return results


def results_table(results: dict) -> str:
    device = results.get("device", "cpu").upper()
    rows = [f"| mode | FID-emoji | x teacher-exact | class accuracy | tokens = exact teacher | ms/image (Python, {device}) |", "|---|---|---|---|---|---|"]
    for mode, r in results["modes"].items():
        agree = "-" if r["token_agreement_with_exact_teacher"] is None else f"{100 * r['token_agreement_with_exact_teacher']:.1f}%"
        ms = r.get("ms_per_image_python", r.get("ms_per_image_python_cpu"))  # the key's name before GPU evaluations
        rows.append(
            f"| {mode} | {r['fid_emoji']:.2f} | {r['fid_ratio_to_teacher_exact']:.2f} | {100 * r['class_accuracy']:.1f}% | {agree} | {ms:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddpipe", description="Build DD Studio model packs.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="run the pipeline stages for a pack")
    b.add_argument("pack", help="config name in models/configs (e.g. emoji32, smoke)")
    b.add_argument("--config", type=Path, help="a config file instead of models/configs/<pack>.json")
    b.add_argument("--out", type=Path, help="pack folder (default models/packs/<id>)")
    b.add_argument("--work", type=Path, help="stage outputs (default models/.cache/work/<pack>)")
    b.add_argument("--from", dest="start_from", choices=STAGES, help="redo this stage and all later ones")
    b.add_argument("--stop-after", choices=STAGES, help="stop after this stage")
    b.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    ev = sub.add_parser("eval", help="evaluate a built pack mode by mode (writes eval.json into it)")
    ev.add_argument("pack")
    ev.add_argument("--config", type=Path)
    ev.add_argument("--out", type=Path, help="the pack folder (default models/packs/<id>)")
    ev.add_argument("--work", type=Path)
    ev.add_argument("--grids", type=Path, help="where sample grids go (default models/eval/<id>)")
    ev.add_argument("--samples", type=int, help="samples per mode (default from the config)")
    ev.add_argument("--device", default="cpu", help="torch device for sampling and features (cpu, cuda)")
    ev.add_argument("--no-pack", action="store_true", help="evaluate the work folder only; attach-eval adds the results later")
    ev.add_argument("--threads", type=int)
    ss = sub.add_parser("second-step", help="how far a second step could improve on the first (held-out pairs)")
    ss.add_argument("pack")
    ss.add_argument("--config", type=Path)
    ss.add_argument("--work", type=Path)
    ss.add_argument("--json", type=Path, help="also write the results here")
    ss.add_argument("--threads", type=int)
    at = sub.add_parser("attach-eval", help="seal an eval.json computed elsewhere into a built pack")
    at.add_argument("pack_dir", type=Path)
    at.add_argument("eval_json", type=Path)
    ab = sub.add_parser("ablate-t2", help="short student runs, one per t2 candidate, scored with FID-emoji")
    ab.add_argument("pack")
    ab.add_argument("--config", type=Path)
    ab.add_argument("--work", type=Path)
    ab.add_argument("--grids", type=Path, help="where t2_ablation.json goes (default models/eval/<id>)")
    ab.add_argument("--values", default="16,32,48", help="comma-separated t2 candidates")
    ab.add_argument("--steps", type=int, default=300, help="training steps per candidate")
    ab.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    setup_torch(getattr(args, "threads", None))
    try:
        if args.command == "build":
            out = build(args.pack, args.config, args.out, args.work, args.start_from, args.stop_after)
            if is_main_process() and (out / "manifest.json").exists():
                print(f"pack ready: {out}")
        elif args.command == "eval":
            run_eval(args.pack, args.config, args.out, args.work, args.grids, args.samples, args.device, not args.no_pack)
        elif args.command == "second-step":
            second_step_report(args.pack, args.config, args.work, args.json)
        elif args.command == "attach-eval":
            attach_eval(args.pack_dir, args.eval_json)
        elif args.command == "ablate-t2":
            try:
                values = [int(v) for v in args.values.split(",")]
            except ValueError:
                raise PipelineError(f"--values must be comma-separated integers, got {args.values!r}") from None
            ablate_t2(args.pack, args.config, args.work, args.grids, values, args.steps)
    except PipelineError as err:
        print(f"ddpipe: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
