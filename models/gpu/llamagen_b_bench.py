"""The LlamaGen-B-shaped speed comparison: random-weight files in the official structure, their pack, and PyTorch
eager timings of the same networks; models/gpu/bench-llamagen-b.sh runs it next to the engine's benchmark.

  files      random weights in the official files' structure (student 'ema' + training arguments, teacher
             'model', VQ-16 'model'): full B (12 layers, width 768, the full VQ-16 decoder), or 'shallow' (2 layers,
             a narrow decoder) for a quick check of the whole path
  pack       those files -> a pack, through the converter (convert_llamagen for B)
  torch      PyTorch eager latency on those files: DD 1-step and 2-step (sample_dd: the student's forward with
             the argmax inside), the VQ decode, and the teacher's 256 AR steps with a KV cache and guidance,
             sampled on the device; CUDA synchronised around every timed run, medians over repetitions
  report     the torch JSON and the engine's bench JSON(s) -> one result JSON and a table against the targets

Run from models/ with PYTHONPATH=. (as every entry point of the pipeline). Random weights give meaningless images
and the right latency: the work per token does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from convert.llamagen_arch import (
    LLAMAGEN_B,
    LLAMAGEN_B_SHALLOW,
    VQ16,
    VQ16_TEST,
    LlamaGenDDStudent,
    LlamaGenTeacher,
    VQ16Decoder,
    sample_dd,
)
from convert.llamagen_pack import (
    OFFICIAL_FILES,
    T2,
    TEACHER_SETTINGS,
    TEST_TRAIN_ARGS,
    TeacherStepGraph,
    _randomized,
    load_checked,
    write_test_checkpoints,
)
from ddpipe.noise import gaussian_noise_batch

SIZES = {"B": (LLAMAGEN_B, VQ16), "shallow": (LLAMAGEN_B_SHALLOW, VQ16_TEST)}
PACK_ID = {"B": "llamagen-b-bench", "shallow": "llamagen-b-shallow-bench"}
# The targets (GPU): engine DD 1-step within 2x of eager, AR / 1-step >= 200x, engine AR within 2x of eager.
TARGET_DD_OVER_EAGER = 2.0
TARGET_AR_OVER_ONE_STEP = 200.0
TARGET_AR_OVER_EAGER = 2.0


def _files_of(folder: Path) -> dict[str, Path]:
    return {
        "student": folder / OFFICIAL_FILES["student"]["B"],
        "teacher": folder / OFFICIAL_FILES["teacher"]["B"],
        "vq": folder / OFFICIAL_FILES["vq"],
    }


def write_files(folder: Path, size: str, seed: int = 0) -> dict[str, Path]:
    """Random-weight official-structure files. 'shallow' is the converter's own test set (write_test_checkpoints);
    'B' is the same recipe at full size, built on the meta device first so that only the saved weights take memory."""
    folder.mkdir(parents=True, exist_ok=True)
    if size == "shallow":
        return write_test_checkpoints(folder, seed)
    cfg, vq_cfg = SIZES[size]
    files = _files_of(folder)
    torch.save({"ema": _randomized(LlamaGenDDStudent(cfg, device="meta"), seed + 1), "args": TEST_TRAIN_ARGS, "steps": 1000}, files["student"])
    torch.save({"model": _randomized(LlamaGenTeacher(cfg, device="meta"), seed + 2)}, files["teacher"])
    vq_state = _randomized(VQ16Decoder(vq_cfg, device="meta"), seed + 3)
    vq_state["quantize.codebook_used"] = torch.zeros(65536)  # an encoder-side key of the real file, ignored by the loader
    torch.save({"model": vq_state}, files["vq"])
    return files


def _load(folder: Path, size: str):
    """-> (config, {role: model}, {role: LoadedCheckpoint}), read and checked by the converter's loader."""
    cfg, vq_cfg = SIZES[size]
    models, sources = {}, {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*restricted unpickler")  # the student file's training arguments
        for role, path in _files_of(folder).items():
            models[role], sources[role] = load_checked(path, role, vq_cfg if role == "vq" else cfg)
    return cfg, models, sources


def make_pack(folder: Path, size: str, out: Path) -> Path:
    """The files -> a pack folder through the converter: convert_llamagen for B (the path a user's official files
    take). The shallow set has no official size: its loaded models go through export_llamagen_pack, as do B's
    where convert_llamagen is missing."""
    from convert import llamagen_pack

    files = _files_of(folder)
    convert = getattr(llamagen_pack, "convert_llamagen", None)
    if size == "B" and convert is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*restricted unpickler")
            return convert(files["student"], files["teacher"], files["vq"], "B", out, pack_id=PACK_ID[size], fp16=False, progress=_progress)
    _, models, sources = _load(folder, size)
    return llamagen_pack.export_llamagen_pack(
        models["student"],
        models["teacher"],
        models["vq"],
        out,
        sources,
        PACK_ID[size],
        f"LlamaGen-{size} speed test (random weights)",
        progress=_progress,
    )


def _progress(stage: str, done: int, total: int) -> None:
    print(f"[{done}/{total}] {stage}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- PyTorch eager timings


def _timer(device: torch.device):
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def timed(fn) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return (time.perf_counter() - t0) * 1000.0

    return timed


def _summary(samples: list[float]) -> dict:
    return {"n": len(samples), "min": min(samples), "p50": statistics.median(samples), "max": max(samples), "samples": samples}


def _ar(step: TeacherStepGraph, cfg, classes: torch.Tensor, null_class: int, generator: torch.Generator) -> torch.Tensor:
    """The teacher's 256 steps as the engine runs them: one KV-cached step per token over [images ; null-class
    rows] (guidance on), then guidance, temperature, top-k and a multinomial draw on the device."""
    device = classes.device
    s = TEACHER_SETTINGS
    b = classes.shape[0]
    rows = torch.cat([classes, torch.full_like(classes, null_class)])
    past_k = torch.zeros(cfg.layers, 2 * b, cfg.heads, 0, cfg.head_dim, device=device)
    past_v = torch.zeros_like(past_k)
    ids = torch.zeros(2 * b, dtype=torch.long, device=device)
    out = torch.zeros(b, cfg.tokens, dtype=torch.long, device=device)
    for pos in range(cfg.tokens):
        logits, past_k, past_v = step(ids, rows, torch.tensor(pos, device=device), past_k, past_v)
        cond, uncond = logits[:b].double(), logits[b:].double()
        guided = (uncond + s["cfgScale"] * (cond - uncond)) / max(s["temperature"], 1e-6)
        kth = torch.topk(guided, s["topK"], dim=-1).values[:, -1:]
        guided = guided.masked_fill(guided < kth, float("-inf"))
        token = torch.multinomial(torch.softmax(guided, dim=-1), 1, generator=generator)[:, 0]
        out[:, pos] = token
        ids = torch.cat([token, token])
    return out


@torch.inference_mode()
def eager_timings(folder: Path, size: str, device_name: str, dd_reps: int, ar_reps: int, warm_up: int) -> dict:
    device = torch.device(device_name)
    cfg, models, _ = _load(folder, size)
    student, teacher, vq = (models[role].to(device) for role in ("student", "teacher", "vq"))
    book = vq.codebook().detach().float()
    step = TeacherStepGraph(teacher).eval()
    timed = _timer(device)
    eps = torch.from_numpy(gaussian_noise_batch(1000, 1, (cfg.tokens, cfg.codebook_dim))).to(device)
    cls = torch.zeros(1, dtype=torch.long, device=device)
    latents = {}

    def dd(t_list):
        def run():
            latents["x"] = sample_dd(student, eps, cls, t_list, cfg.split_t, book)[1]

        return run

    def decode():
        rgb = torch.clamp(torch.round((vq.decode_latents(latents["x"]) + 1.0) * 127.5), 0.0, 255.0)
        latents["rgb"] = rgb.permute(0, 2, 3, 1).to(torch.uint8)

    generator = torch.Generator(device=device).manual_seed(0)
    ar = lambda: _ar(step, cfg, cls, cfg.n_classes, generator)  # noqa: E731
    results = {}
    for name, fn, reps in (("dd1", dd([0]), dd_reps), ("dd2", dd([0, T2]), dd_reps), ("decode", decode, dd_reps), ("ar", ar, ar_reps)):
        for _ in range(warm_up):
            fn()
        results[name] = _summary([timed(fn) for _ in range(reps)])
        print(f"torch {name}: p50 {results[name]['p50']:.2f} ms over {reps}", file=sys.stderr, flush=True)
    return {
        "size": size,
        "device": device_name,
        "deviceName": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dtype": "float32",
        # TF32 would make CUDA's float32 products faster than the engine's float32: recorded, left at torch's defaults.
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "what": {
            "dd1": "sample_dd(t_list [0]): the student's forward, argmax and assembly inside, batch 1",
            "dd2": f"sample_dd(t_list [0, {T2}]), batch 1",
            "decode": "VQ-16 decode of the 1-step latents to uint8 RGB, batch 1",
            "ar": f"{cfg.tokens} teacher steps with a KV cache, guidance {TEACHER_SETTINGS['cfgScale']} (batch 2), "
            f"top-k {TEACHER_SETTINGS['topK']}, multinomial on the device, batch 1",
        },
        "ms": results,
    }


# ---------------------------------------------------------------- report


def _mode(bench: dict, mode: str) -> dict | None:
    return next((m for m in bench.get("modes", []) if m["mode"] == mode), None)


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def report(torch_json: dict, engines: dict[str, dict]) -> tuple[dict, str]:
    """Engine runs by label ('webgpu', 'cpu', ...) and the eager timings -> (result, table)."""
    eager = {k: v["p50"] for k, v in torch_json["ms"].items()}
    rows = []
    checks = []
    for label, bench in engines.items():
        one, two, ar, exact = (_mode(bench, m) for m in ("1step", "2step", "ar", "exact"))
        p50 = lambda m, part="totalMs": m["latency"][part]["p50"] if m else None  # noqa: E731
        loaded = sorted(set(bench["provider"]["loaded"].values()))
        rows.append(
            {
                "engine": label,
                "providers": loaded,
                "oneStepTotalMs": p50(one),
                "oneStepTokenMs": p50(one, "tokenMs"),
                "oneStepDecodeMs": p50(one, "decodeMs"),
                "twoStepTotalMs": p50(two),
                "arTotalMs": p50(ar),
                "arTokenMs": p50(ar, "tokenMs"),
                "exactTotalMs": p50(exact),
            }
        )
        r = rows[-1]
        checks += [
            {
                "engine": label,
                "name": "DD 1-step through the engine (token part) / PyTorch eager 1-step",
                "value": _ratio(r["oneStepTokenMs"], eager["dd1"]),
                "target": f"<= {TARGET_DD_OVER_EAGER}",
                "pass": None if r["oneStepTokenMs"] is None else r["oneStepTokenMs"] / eager["dd1"] <= TARGET_DD_OVER_EAGER,
            },
            {
                "engine": label,
                "name": "DD 1-step through the engine (noise to PNG) / PyTorch eager 1-step + decode",
                "value": _ratio(r["oneStepTotalMs"], eager["dd1"] + eager["decode"]),
                "target": "reported",
                "pass": None,
            },
            {
                "engine": label,
                "name": "engine AR / engine DD 1-step (p50 totals)",
                "value": _ratio(r["arTotalMs"], r["oneStepTotalMs"]),
                "target": f">= {TARGET_AR_OVER_ONE_STEP:.0f}",
                "pass": None if r["arTotalMs"] is None else r["arTotalMs"] / r["oneStepTotalMs"] >= TARGET_AR_OVER_ONE_STEP,
            },
            {
                "engine": label,
                "name": "engine AR (token part) / PyTorch eager AR",
                "value": _ratio(r["arTokenMs"], eager["ar"]),
                "target": f"<= {TARGET_AR_OVER_EAGER}",
                "pass": None if r["arTokenMs"] is None else r["arTokenMs"] / eager["ar"] <= TARGET_AR_OVER_EAGER,
            },
        ]
    fmt = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = [
        f"PyTorch {torch_json['torch']} eager on {torch_json['deviceName']} ({torch_json['device']}, {torch_json['threads']} threads), "
        f"float32, batch 1, p50 ms: 1-step {fmt(eager['dd1'], 2)}, 2-step {fmt(eager['dd2'], 2)}, decode {fmt(eager['decode'], 2)}, "
        f"AR {fmt(eager['ar'])}",
        "",
        "| engine run | providers | 1-step total | 1-step token | decode | 2-step total | AR total | AR token | exact total |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {'+'.join(r['providers'])} | {fmt(r['oneStepTotalMs'], 2)} | {fmt(r['oneStepTokenMs'], 2)} | "
            f"{fmt(r['oneStepDecodeMs'], 2)} | {fmt(r['twoStepTotalMs'], 2)} | {fmt(r['arTotalMs'])} | {fmt(r['arTokenMs'])} | "
            f"{fmt(r['exactTotalMs'])} |"
        )
    lines += ["", "| engine run | check | value | target | result |", "|---|---|---|---|---|"]
    for c in checks:
        verdict = "reported" if c["pass"] is None else ("PASS" if c["pass"] else "MISS")
        lines.append(f"| {c['engine']} | {c['name']} | {fmt(c['value'], 2)} | {c['target']} | {verdict} |")
    result = {"format": "dd-studio-llamagen-b-bench", "formatVersion": 1, "torch": torch_json, "engine": engines, "rows": rows, "checks": checks}
    return result, "\n".join(lines)


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llamagen_b_bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("files", help="write random-weight official-structure files")
    p.add_argument("--size", choices=SIZES, default="B")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("pack", help="convert the files to a pack")
    p.add_argument("--size", choices=SIZES, default="B")
    p.add_argument("--files", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("torch", help="PyTorch eager latency on the files")
    p.add_argument("--size", choices=SIZES, default="B")
    p.add_argument("--files", type=Path, required=True)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dd-reps", type=int, default=30)
    p.add_argument("--ar-reps", type=int, default=3)
    p.add_argument("--warm-up", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("report", help="combine the torch JSON and the engine bench JSON(s)")
    p.add_argument("--torch", type=Path, required=True)
    p.add_argument("--engine", action="append", default=[], metavar="LABEL=FILE", help="an engine bench JSON, labelled")
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "files":
        files = write_files(args.out, args.size, args.seed)
        print(json.dumps({role: str(path) for role, path in files.items()}))
    elif args.command == "pack":
        print(make_pack(args.files, args.size, args.out))
    elif args.command == "torch":
        if args.threads > 0:
            torch.set_num_threads(args.threads)
        for reps in (args.dd_reps, args.ar_reps):
            if reps < 1:
                parser.error("--dd-reps and --ar-reps must be >= 1")
        result = eager_timings(args.files, args.size, args.device, args.dd_reps, args.ar_reps, args.warm_up)
        _write_json(args.out, result)
    else:
        engines = {}
        for item in args.engine:
            label, sep, file = item.partition("=")
            if not sep or not label:
                parser.error(f"--engine {item!r}: expected LABEL=FILE")
            try:
                engines[label] = json.loads(Path(file).read_text())
            except (OSError, json.JSONDecodeError) as err:
                print(f"{file}: no engine result ({err}); left out of the report", file=sys.stderr)
        result, table = report(json.loads(args.torch.read_text()), engines)
        _write_json(args.out, result)
        print(table)
    return 0


def _write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        json.dump(value, tmp, indent=1)
    Path(tmp.name).chmod(0o644)
    Path(tmp.name).replace(path)


if __name__ == "__main__":
    sys.exit(main())
